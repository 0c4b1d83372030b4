package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's audit of pushed ops, and exactly-once apply when the same batch races itself. */
class AuditAndRaceTest {
    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();
    private TestServer server;

    @BeforeEach
    void start() {
        server = TestServer.start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private HttpResponse<String> get(String path, String user) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(server.url() + path))
                .header("Authorization", "Bearer " + server.token(user)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void theAuditListsEachPushedOpWithItsOutcomeToItsOwnerOnly() throws Exception {
        try (Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("p.db")).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
                Outpost laptop = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("l.db")).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).build())) {
            phone.put("notes", "n1", "{\"t\":1}");
            phone.sync();
            laptop.sync();
            laptop.update("notes", "n1", "{\"t\":2}");
            laptop.sync();
            phone.update("notes", "n1", "{\"t\":3}");
            phone.put("notes", "huge", "{\"blob\":\"" + "x".repeat(300 * 1024) + "\"}");
            phone.sync();

            String path = "/v1/devices/" + phone.deviceId() + "/operations";
            HttpResponse<String> all = get(path, "ann");
            assertThat(all.statusCode()).as(all.body()).isEqualTo(200);
            JsonNode entries = Wire.mapper().readTree(all.body()).get("operations");
            assertThat(entries).hasSize(3);
            List<String> statuses = new ArrayList<>();
            entries.forEach(entry -> statuses.add(entry.get("status").asText()));
            assertThat(statuses).containsExactlyInAnyOrder("APPLIED", "CONFLICT", "REJECTED");

            JsonNode conflict = Wire.mapper().readTree(get(path + "?status=CONFLICT", "ann").body()).get("operations").get(0);
            assertThat(conflict.get("recordId").asText()).isEqualTo("n1");
            assertThat(conflict.get("record").get("data").get("t").asInt()).as("the conflict's data").isEqualTo(2);
            assertThat(conflict.get("receivedAt").asText()).isNotBlank();
            JsonNode rejected = Wire.mapper().readTree(get(path + "?status=REJECTED", "ann").body()).get("operations").get(0);
            assertThat(rejected.get("error").get("code").asText()).isEqualTo("RECORD_TOO_LARGE");
            assertThat(Wire.mapper().readTree(get(path + "?limit=1", "ann").body()).get("operations")).hasSize(1);

            HttpResponse<String> foreign = get(path, "bob");
            assertThat(foreign.statusCode()).as("another user's device").isEqualTo(404);
            assertThat(foreign.body()).contains("DEVICE_NOT_FOUND").doesNotContain("n1");
            assertThat(get("/v1/devices/no-such-device/operations", "ann").statusCode()).isEqualTo(404);
            assertThat(get(path + "?status=MAYBE", "ann").body()).contains("INVALID_REQUEST");
            assertThat(Wire.mapper().readTree(get(path + "?status=DUPLICATE", "ann").body()).get("operations"))
                    .as("none of this device's ops was a natural-key duplicate").isEmpty();
            assertThat(get(path + "?limit=0", "ann").body()).contains("INVALID_LIMIT");
            assertThat(get(path + "?offset=-1", "ann").body()).contains("INVALID_OFFSET");
        }
    }

    @Test
    void theSameBatchSentOnTwoConnectionsAtOnceIsAppliedOnce() throws Exception {
        Transport first = Transport.http(URI.create(server.url()), Duration.ofSeconds(10));
        Transport second = Transport.http(URI.create(server.url()), Duration.ofSeconds(10));
        String token = server.token("ann");
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            for (int round = 0; round < 100; round++) {
                List<Operation> ops = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    ops.add(new Operation("r" + round + "-op" + i, "notes", "r" + round + "-n" + i, OpType.CREATE, null,
                            Wire.object("{\"round\":" + round + "}"), "1700000000000-00000-racer", Priority.NORMAL));
                }
                PushRequest batch = new PushRequest("racer", ops);
                CompletableFuture<PushResponse> a = CompletableFuture.supplyAsync(() -> push(first, batch, token), pool);
                CompletableFuture<PushResponse> b = CompletableFuture.supplyAsync(() -> push(second, batch, token), pool);
                PushResponse one = a.get();
                PushResponse two = b.get();
                for (int i = 0; i < ops.size(); i++) {
                    List<OpStatus> outcomes = List.of(one.results().get(i).status(), two.results().get(i).status());
                    assertThat(outcomes).as("round %d op %d", round, i).containsExactlyInAnyOrder(OpStatus.APPLIED, OpStatus.DUPLICATE);
                    assertThat(one.results().get(i).version()).isEqualTo(two.results().get(i).version());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(server.changes("ann")).hasSize(500);
    }

    private static PushResponse push(Transport transport, PushRequest batch, String token) {
        try {
            return transport.push(batch, token);
        } catch (OutpostException e) {
            throw new IllegalStateException(e);
        }
    }
}
