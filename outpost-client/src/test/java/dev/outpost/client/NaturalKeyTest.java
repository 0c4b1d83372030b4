package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.Wire;
import dev.outpost.server.NaturalKey;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Natural-key dedup: two devices logging the same call make one record. */
class NaturalKeyTest {
    private static final long T = 1_763_000_000_000L;

    @TempDir
    Path dir;

    private TestServer server;

    @BeforeEach
    void start() {
        server = TestServer.start(builder -> builder.naturalKey("calls", NaturalKey.builder()
                .exact("lineId", "number", "direction").within("startedAt", 1000).within("durationSeconds", 1).build()));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Outpost device(String name) throws OutpostException {
        return device(name, "ann");
    }

    private Outpost device(String name, String user) throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name + ".db")).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token(user))).build());
    }

    private static String call(long startedAt, double duration, String direction) {
        return "{\"lineId\":\"line-1\",\"number\":\"+447700900123\",\"direction\":\"" + direction + "\",\"startedAt\":"
                + startedAt + ",\"durationSeconds\":" + duration + "}";
    }

    @Test
    void twoDevicesLoggingTheSameCallMakeOneRecord() throws Exception {
        try (Outpost phone = device("phone"); Outpost tablet = device("tablet")) {
            phone.put("calls", "from-phone", call(T, 60, "INBOUND"));
            phone.sync();
            tablet.put("calls", "from-tablet", call(T + 400, 60.5, "INBOUND"));
            SyncResult result = tablet.sync();

            assertThat(server.records("ann")).containsOnlyKeys("calls/from-phone");
            assertThat(tablet.list("calls")).extracting(LocalRecord::id).containsExactly("from-phone");
            assertThat(tablet.pendingCount()).isZero();
            assertThat(result.pulled()).isEqualTo(1);
        }
    }

    @Test
    void aCreateTheServerMatchedToAnExistingRecordIsToldToTheApp() throws Exception {
        List<String> told = new CopyOnWriteArrayList<>();
        List<Conflict> conflicts = new CopyOnWriteArrayList<>();
        List<Resolution> settled = new CopyOnWriteArrayList<>();
        try (Outpost phone = device("phone"); Outpost tablet = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve("tablet.db")).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).listener(new OutpostListener() {
                    @Override
                    public void conflictDetected(Conflict conflict, Resolution settledBy) {
                        told.add(conflict.recordId());
                        conflicts.add(conflict);
                        settled.add(settledBy);
                    }
                }).build())) {
            phone.put("calls", "from-phone", call(T, 60, "INBOUND"));
            phone.sync();
            tablet.put("calls", "from-tablet", call(T, 60, "INBOUND"));

            SyncResult result = tablet.sync();

            assertThat(told).as("every conflict the result counts is told").hasSize(result.conflicts())
                    .containsExactly("from-tablet");
            Conflict match = conflicts.get(0);
            assertThat(match.remoteRecordId()).as("where the record went").isEqualTo("from-phone");
            assertThat(match.remote()).isEqualTo(server.records("ann").get("calls/from-phone"));
            assertThat(settled.get(0).kind()).isEqualTo(Resolution.Kind.SERVER);
            assertThat(tablet.conflicts()).as("settled, nothing left for the app").isEmpty();
            assertThat(tablet.list("calls")).extracting(LocalRecord::id).containsExactly("from-phone");
        }
    }

    @Test
    void theDuplicateIsInTheDevicesAuditUnderItsOwnStatus() throws Exception {
        try (Outpost phone = device("phone"); Outpost tablet = device("tablet")) {
            phone.put("calls", "from-phone", call(T, 60, "INBOUND"));
            phone.sync();
            tablet.put("calls", "from-tablet", call(T, 60, "INBOUND"));
            tablet.sync();

            HttpResponse<String> audit = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                    URI.create(server.url() + "/v1/devices/" + tablet.deviceId() + "/operations?status=DUPLICATE"))
                    .header("Authorization", "Bearer " + server.token("ann")).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(audit.statusCode()).as(audit.body()).isEqualTo(200);
            JsonNode entries = Wire.mapper().readTree(audit.body()).get("operations");
            assertThat(entries).hasSize(1);
            assertThat(entries.get(0).get("recordId").asText()).isEqualTo("from-tablet");
            assertThat(entries.get(0).get("status").asText()).isEqualTo("DUPLICATE");
        }
    }

    @Test
    void anotherUsersSameCallIsTheirOwnRecordAndSeesNothingOfTheFirst() throws Exception {
        try (Outpost annPhone = device("ann-phone"); Outpost bobPhone = device("bob-phone", "bob")) {
            annPhone.put("calls", "ann-call", call(T, 60, "INBOUND"));
            annPhone.sync();
            bobPhone.put("calls", "bob-call", call(T, 60, "INBOUND"));
            bobPhone.sync();

            assertThat(server.records("ann")).containsOnlyKeys("calls/ann-call");
            assertThat(server.records("bob")).containsOnlyKeys("calls/bob-call");
            assertThat(bobPhone.list("calls")).extracting(LocalRecord::id).containsExactly("bob-call");
        }
    }

    @Test
    void callsOutsideTheToleranceOrWithAnotherExactFieldAreTheirOwnRecords() throws Exception {
        try (Outpost phone = device("phone")) {
            phone.put("calls", "a", call(T, 60, "INBOUND"));
            phone.put("calls", "b", call(T + 5000, 60, "INBOUND"));
            phone.put("calls", "c", call(T, 60, "OUTBOUND"));
            phone.put("calls", "d", call(T, 62, "INBOUND"));
            phone.put("calls", "e", "{\"lineId\":\"line-1\",\"note\":\"no key fields\"}");
            phone.sync();
            assertThat(server.records("ann")).containsOnlyKeys("calls/a", "calls/b", "calls/c", "calls/d", "calls/e");
        }
    }

    @Test
    void aNaturalKeyNeedsValidFieldsAndTolerances() {
        assertThatThrownBy(() -> NaturalKey.builder().build()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> NaturalKey.builder().exact("bad field")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("bad field");
        assertThatThrownBy(() -> NaturalKey.builder().within("at", -1)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("-1");
        assertThatThrownBy(() -> NaturalKey.builder().within("at", Double.NaN)).isInstanceOf(IllegalArgumentException.class);
    }
}
