package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.TestServer;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sync inspector's export, the metrics figures and their Micrometer binding. */
class DebugExportAndMetricsTest {
    @TempDir
    Path dir;

    private TestServer server;
    private Outpost phone;

    @BeforeEach
    void open() throws Exception {
        server = TestServer.start(builder -> builder.maxRecordBytes(300));
        phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("phone.db"))
                .serverUrl(server.url()).tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
    }

    @AfterEach
    void close() {
        phone.close();
        server.close();
    }

    @Test
    void theDebugExportHoldsStatusQueueSyncsAndDeadLettersButNoRecordContents() throws Exception {
        phone.put("notes", "n1", "{\"secret\":\"my pin is 1234\"}");
        phone.put("notes", "too-big", "{\"body\":\"" + "y".repeat(400) + "\"}");
        phone.sync();
        Path export = dir.resolve("support/debug.json");

        phone.exportDebugInfo(export);

        String text = Files.readString(export);
        JsonNode info = Wire.tree(text.getBytes(java.nio.charset.StandardCharsets.UTF_8));
        assertThat(text).doesNotContain("my pin is 1234");
        assertThat(info.get("deviceId").asText()).isEqualTo(phone.deviceId());
        assertThat(info.get("statusLine").asText()).isEqualTo(phone.statusLine());
        assertThat(info.get("network").get("online").asBoolean()).isTrue();
        assertThat(info.get("queue").get("applied").asInt()).isEqualTo(1);
        assertThat(info.get("deadLetters")).hasSize(1);
        assertThat(info.get("deadLetters").get(0).get("recordId").asText()).isEqualTo("too-big");
        assertThat(info.get("deadLetters").get(0).get("reason").asText()).contains("RECORD_TOO_LARGE");
        assertThat(text).doesNotContain("yyyy");
        assertThat(info.get("recentSyncs")).hasSize(1);
        assertThat(info.get("recentSyncs").get(0).get("status").asText()).isEqualTo("COMPLETED");
        assertThat(info.get("recentSyncs").get(0).get("pushed").asInt()).isEqualTo(2);
        assertThat(info.get("metrics").get("syncs").asInt()).isEqualTo(1);
        assertThat(info.has("conflicts")).isTrue();
        assertThat(info.get("openedAs").get("mode").asText()).isEqualTo("OPENED");
    }

    @Test
    void anExportThatCannotBeWrittenIsAStorageErrorAndNullIsRefused() throws Exception {
        Path blocker = Files.writeString(dir.resolve("a-file"), "not a directory");

        assertThatThrownBy(() -> phone.exportDebugInfo(blocker.resolve("debug.json")))
                .isInstanceOf(OutpostException.class)
                .satisfies(e -> assertThat(((OutpostException) e).code()).isEqualTo("EXPORT_FAILED"));
        assertThatThrownBy(() -> phone.exportDebugInfo(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void metricsCountSyncsAndTheirSuccessAndMicrometerReadsThem() throws Exception {
        SimpleMeterRegistry registry = new SimpleMeterRegistry();
        OutpostMetrics.bind(phone, registry);
        assertThat(phone.metrics().successRate()).isNaN();
        phone.put("notes", "n1", "{\"title\":\"milk\"}");
        phone.put("notes", "n2", "{\"title\":\"bread\"}");
        assertThat(registry.get("outpost.client.queue.depth").gauge().value()).isEqualTo(2);

        phone.sync();
        server.stop();
        phone.put("notes", "n3", "{\"title\":\"eggs\"}");
        phone.sync();
        server.restart();

        SyncMetrics metrics = phone.metrics();
        assertThat(metrics.syncs()).isEqualTo(2);
        assertThat(metrics.completedSyncs()).isEqualTo(1);
        assertThat(metrics.successRate()).isEqualTo(0.5);
        assertThat(metrics.queueDepth()).isEqualTo(1);
        assertThat(metrics.meanSyncDuration()).isNotNull().isGreaterThan(Duration.ZERO);
        FunctionTimer syncs = registry.get("outpost.client.syncs").functionTimer();
        assertThat(syncs.count()).isEqualTo(2);
        assertThat(registry.get("outpost.client.syncs.completed").functionCounter().count()).isEqualTo(1);
        assertThat(registry.get("outpost.client.sync.success.rate").gauge().value()).isEqualTo(0.5);
        assertThat(registry.get("outpost.client.queue.depth").gauge().value()).isEqualTo(1);
    }
}
