package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** What an operator sees and does: metrics in the Prometheus format, and a stop that finishes what is in flight. */
class OperationsTest {
    private static final String HLC = "1700000000000-00000-device";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void metricsCountPushesOpsByOutcomeConflictsByPolicyAndPulls() throws Exception {
        try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp)
                .databaseUrl(TestDatabases.freshUrl()).conflictPolicy("profiles", ConflictPolicy.MERGE).build().start()) {
            String token = server.tokens().issue("alice", Duration.ofHours(1));
            push(server, token, op("o1", "notes", "n1", "CREATE", null) + "," + op("o2", "profiles", "p1", "CREATE", null));
            push(server, token, op("o3", "notes", "n1", "UPDATE", 0L) + "," + op("o4", "profiles", "p1", "UPDATE", 0L) + ","
                    + "{\"opId\":\"o5\",\"collection\":\"notes\",\"recordId\":\"x\",\"type\":\"RENAME\",\"hlc\":\"" + HLC + "\"}");
            push(server, token, op("o1", "notes", "n1", "CREATE", null));
            send(server, HttpRequest.newBuilder(URI.create(server.url() + "/v1/pull")).header("Authorization", "Bearer " + token).GET());

            HttpResponse<String> metrics = send(server, HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).GET());

            assertThat(metrics.statusCode()).isEqualTo(200);
            assertThat(metrics.headers().firstValue("Content-Type").orElse("")).startsWith("text/plain");
            assertThat(metrics.body())
                    .contains("outpost_push_seconds_count 3")
                    .contains("outpost_ops_total{status=\"APPLIED\"} 2")
                    .contains("outpost_ops_total{status=\"CONFLICT\"} 1")
                    .contains("outpost_ops_total{status=\"MERGED\"} 1")
                    .contains("outpost_ops_total{status=\"REJECTED\"} 1")
                    .contains("outpost_ops_total{status=\"DUPLICATE\"} 1")
                    .contains("outpost_conflicts_total{policy=\"SERVER_WINS\",settled=\"server\"} 1")
                    .contains("outpost_conflicts_total{policy=\"MERGE\",settled=\"merged\"} 1")
                    .contains("outpost_pull_seconds_count 1")
                    .contains("outpost_pull_changes_total 3")
                    .contains("outpost_pull_seconds_bucket")
                    .contains("jvm_memory_used_bytes");
        }
    }

    /**
     * Each conflict is counted under its collection's policy and who prevailed: the server,
     * the client (CLIENT_WINS, LAST_WRITE_WINS with the later op, MERGE with a later DELETE),
     * a field merge, or review (MANUAL); review settlements are counted by their choice, and a
     * refused one is not.
     */
    @Test
    void metricsCountConflictsByPolicyAndWhoPrevailedAndReviewSettlementsByChoice() throws Exception {
        try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp)
                .databaseUrl(TestDatabases.freshUrl())
                .conflictPolicy("tasks", ConflictPolicy.CLIENT_WINS).conflictPolicy("posts", ConflictPolicy.LAST_WRITE_WINS)
                .conflictPolicy("profiles", ConflictPolicy.MERGE).conflictPolicy("reviews", ConflictPolicy.MANUAL)
                .build().start()) {
            String token = server.tokens().issue("alice", Duration.ofHours(1));
            push(server, token, String.join(",", op("c1", "notes", "n1", "CREATE", null), op("c2", "tasks", "t1", "CREATE", null),
                    op("c3", "posts", "s1", "CREATE", null), op("c4", "posts", "s2", "CREATE", null),
                    op("c5", "profiles", "p1", "CREATE", null), op("c6", "profiles", "p2", "CREATE", null),
                    op("c7", "reviews", "r1", "CREATE", null), op("c8", "reviews", "r2", "CREATE", null),
                    op("c9", "reviews", "r3", "CREATE", null)));
            push(server, token, String.join(",", op("u1", "notes", "n1", "UPDATE", 0L), op("u2", "tasks", "t1", "UPDATE", 0L),
                    opAt("u3", "posts", "s1", "UPDATE", 0L, "1800000000000-00000-device"),
                    opAt("u4", "posts", "s2", "UPDATE", 0L, "1600000000000-00000-device"),
                    op("u5", "profiles", "p1", "UPDATE", 0L),
                    "{\"opId\":\"u6\",\"collection\":\"profiles\",\"recordId\":\"p2\",\"type\":\"DELETE\",\"baseVersion\":0,"
                            + "\"hlc\":\"1800000000000-00000-device\"}",
                    op("u7", "reviews", "r1", "UPDATE", 0L), op("u8", "reviews", "r2", "UPDATE", 0L),
                    op("u9", "reviews", "r3", "UPDATE", 0L)));
            HttpResponse<String> open = send(server, HttpRequest.newBuilder(URI.create(server.url() + "/v1/conflicts"))
                    .header("Authorization", "Bearer " + token).GET());
            com.fasterxml.jackson.databind.JsonNode conflicts = TestJson.parse(open.body()).get("conflicts");
            assertThat(conflicts).hasSize(3);
            String[] choices = {"{\"choice\":\"SERVER\"}", "{\"choice\":\"CLIENT\"}", "{\"choice\":\"MERGED\",\"data\":{\"visits\":9}}"};
            for (int i = 0; i < 3; i++) {
                assertThat(resolve(server, token, conflicts.get(i).get("id").asText(), choices[i]).statusCode()).isEqualTo(200);
            }
            assertThat(resolve(server, token, conflicts.get(0).get("id").asText(), choices[1]).statusCode())
                    .as("resolved already").isEqualTo(409);

            String metrics = send(server, HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).GET()).body();

            assertThat(metrics)
                    .contains("outpost_conflicts_total{policy=\"SERVER_WINS\",settled=\"server\"} 1")
                    .contains("outpost_conflicts_total{policy=\"CLIENT_WINS\",settled=\"client\"} 1")
                    .contains("outpost_conflicts_total{policy=\"LAST_WRITE_WINS\",settled=\"client\"} 1")
                    .contains("outpost_conflicts_total{policy=\"LAST_WRITE_WINS\",settled=\"server\"} 1")
                    .contains("outpost_conflicts_total{policy=\"MERGE\",settled=\"merged\"} 1")
                    .contains("outpost_conflicts_total{policy=\"MERGE\",settled=\"client\"} 1")
                    .contains("outpost_conflicts_total{policy=\"MANUAL\",settled=\"review\"} 3")
                    .contains("outpost_conflicts_resolved_total{settled=\"server\"} 1")
                    .contains("outpost_conflicts_resolved_total{settled=\"client\"} 1")
                    .contains("outpost_conflicts_resolved_total{settled=\"merged\"} 1")
                    .doesNotContain("settled=\"server_kept\"")
                    .doesNotContain("outpost_conflicts_total{policy=\"CLIENT_WINS\",settled=\"merged\"}");
        }
    }

    /**
     * Under MERGE an UPDATE, later than the DELETE that removed its record, brings the record
     * back as the device had it: the op's change prevailed, nothing was merged, and the
     * conflict is counted as the settlement's winner, the client.
     */
    @Test
    void aMergeConflictWonByTheOpWithoutMergingIsCountedForTheClient() throws Exception {
        try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp)
                .databaseUrl(TestDatabases.freshUrl()).conflictPolicy("profiles", ConflictPolicy.MERGE).build().start()) {
            String token = server.tokens().issue("alice", Duration.ofHours(1));
            push(server, token, op("c1", "profiles", "p1", "CREATE", null));
            push(server, token, "{\"opId\":\"d1\",\"collection\":\"profiles\",\"recordId\":\"p1\",\"type\":\"DELETE\","
                    + "\"baseVersion\":1,\"hlc\":\"" + HLC + "\"}");
            HttpResponse<String> revived = http.send(pushRequest(server, token,
                    opAt("u1", "profiles", "p1", "UPDATE", 1L, "1800000000000-00000-device")), HttpResponse.BodyHandlers.ofString());
            assertThat(TestJson.parse(revived.body()).get("results").get(0).get("status").asText()).isEqualTo("MERGED");

            String metrics = send(server, HttpRequest.newBuilder(URI.create(server.url() + "/metrics")).GET()).body();

            assertThat(metrics).contains("outpost_conflicts_total{policy=\"MERGE\",settled=\"client\"} 1")
                    .doesNotContain("outpost_conflicts_total{policy=\"MERGE\",settled=\"merged\"}");
        }
    }

    private HttpResponse<String> resolve(OutpostServer server, String token, String id, String body)
            throws IOException, InterruptedException {
        return send(server, HttpRequest.newBuilder(URI.create(server.url() + "/v1/conflicts/" + id + "/resolve"))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)));
    }

    @Test
    void metricsAnswerOnlyGet() throws Exception {
        try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).build().start()) {
            HttpResponse<String> response = send(server, HttpRequest.newBuilder(URI.create(server.url() + "/metrics"))
                    .POST(HttpRequest.BodyPublishers.ofString("x")));

            assertThat(response.statusCode()).isEqualTo(405);
            assertThat(response.body()).contains("METHOD_NOT_ALLOWED");
        }
    }

    /**
     * A push waits on the database (another connection holds SQLite's write lock) when the
     * server is told to stop: a new request is refused with 503, the push still completes and
     * is answered, then the server stops.
     */
    @Test
    void closingFinishesRequestsInFlightAndThenRefusesNewOnes() throws Exception {
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).build().start();
        String token = server.tokens().issue("alice", Duration.ofHours(1));
        String url = server.url();
        CompletableFuture<HttpResponse<String>> inFlight;
        CompletableFuture<Void> closing;
        try (Connection blocker = DriverManager.getConnection("jdbc:sqlite:" + tmp.resolve(OutpostServer.DATABASE_FILE));
                Statement statement = blocker.createStatement()) {
            statement.execute("BEGIN IMMEDIATE");
            inFlight = http.sendAsync(pushRequest(server, token, op("o1", "notes", "n1", "CREATE", null)),
                    HttpResponse.BodyHandlers.ofString());
            awaitRequestsInFlight(url, 1);
            closing = CompletableFuture.runAsync(server::close);
            HttpResponse<String> refused;
            int tries = 0;
            do {
                // Until the stop has begun, a pull is answered as usual.
                refused = http.send(HttpRequest.newBuilder(URI.create(url + "/v1/pull"))
                        .header("Authorization", "Bearer " + token).GET().build(), HttpResponse.BodyHandlers.ofString());
            } while (refused.statusCode() == 200 && ++tries < 3000);
            assertThat(inFlight).as("the push waits for the database").isNotDone();
            assertThat(refused.statusCode()).as("a new request while stopping").isEqualTo(503);
            assertThat(refused.body()).contains("SHUTTING_DOWN");
            statement.execute("ROLLBACK");
        }

        HttpResponse<String> answered = inFlight.get();
        closing.get();

        assertThat(answered.statusCode()).isEqualTo(200);
        assertThat(answered.body()).contains("APPLIED");
        try (Connection check = DriverManager.getConnection("jdbc:sqlite:" + tmp.resolve(OutpostServer.DATABASE_FILE));
                Statement statement = check.createStatement();
                ResultSet rows = statement.executeQuery("SELECT COUNT(*) FROM changes")) {
            rows.next();
            assertThat(rows.getInt(1)).isEqualTo(1);
        }
        assertThatThrownBy(() -> http.send(HttpRequest.newBuilder(URI.create(url + "/health")).GET().build(),
                HttpResponse.BodyHandlers.ofString())).isInstanceOf(ConnectException.class);
    }

    /**
     * Requests that end badly (malformed, cut off by their client, refused) are no longer in
     * flight once they end: a stop with a long timeout returns at once rather than waiting for
     * them. The timeout of the test guards against the wait.
     */
    @Test
    @Timeout(120)
    void requestsThatEndedBadlyDoNotHoldUpAStop() throws Exception {
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp)
                .shutdownTimeout(Duration.ofMinutes(30)).build().start();
        String url = server.url();
        try {
            requestsEndBadly(server);
        } finally {
            server.close();
        }

        assertThatThrownBy(() -> http.send(HttpRequest.newBuilder(URI.create(url + "/health")).GET().build(),
                HttpResponse.BodyHandlers.ofString())).isInstanceOf(ConnectException.class);
    }

    /** A malformed request, a push cut off halfway through its body, a 401 and a 404. */
    private void requestsEndBadly(OutpostServer server) throws Exception {
        String garbage = "NOT-HTTP \u0000\r\n\r\n";
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.getOutputStream().write(garbage.getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
            assertThat(new String(socket.getInputStream().readNBytes(12), StandardCharsets.ISO_8859_1)).startsWith("HTTP/1.1 4");
        }
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            // A push that promises a body and hangs up halfway through it.
            socket.getOutputStream().write(("POST /v1/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: 1000\r\n\r\n{\"ops\":[").getBytes(StandardCharsets.ISO_8859_1));
            socket.getOutputStream().flush();
        }
        assertThat(send(server, HttpRequest.newBuilder(URI.create(server.url() + "/v1/pull")).GET()).statusCode()).isEqualTo(401);
        assertThat(send(server, HttpRequest.newBuilder(URI.create(server.url() + "/nowhere")).GET()).statusCode()).isEqualTo(404);
    }

    /**
     * Concurrent pushes share commits on SQLite; one refused (its device belongs to another
     * user) is undone alone, and every other push is applied exactly once.
     */
    @Test
    void concurrentPushesShareCommitsAndARefusedOneFailsAlone() throws Exception {
        try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).build().start()) {
            String alice = server.tokens().issue("alice", Duration.ofHours(1));
            String bob = server.tokens().issue("bob", Duration.ofHours(1));
            push(server, bob, op("claim", "notes", "b0", "CREATE", null), "bobs-phone");
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(8);
            java.util.List<CompletableFuture<Integer>> writers = new java.util.ArrayList<>();
            for (int w = 0; w < 8; w++) {
                int writer = w;
                writers.add(CompletableFuture.supplyAsync(() -> {
                    int refused = 0;
                    for (int round = 0; round < 20; round++) {
                        StringBuilder ops = new StringBuilder();
                        for (int i = 0; i < 5; i++) {
                            String id = "w" + writer + "-" + round + "-" + i;
                            ops.append(i == 0 ? "" : ",").append(op(id, "notes", id, "CREATE", null));
                        }
                        String device = writer == 0 ? "bobs-phone" : "phone-" + writer;
                        try {
                            HttpResponse<String> response = http.send(pushRequest(server, alice, ops.toString(), device),
                                    HttpResponse.BodyHandlers.ofString());
                            if (response.statusCode() == 403) {
                                refused++;
                            } else {
                                assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
                            }
                        } catch (IOException | InterruptedException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                    return refused;
                }, pool));
            }
            assertThat(writers.get(0).get()).isEqualTo(20);
            for (int w = 1; w < 8; w++) {
                assertThat(writers.get(w).get()).isZero();
            }
            pool.shutdown();

            try (Connection check = DriverManager.getConnection("jdbc:sqlite:" + tmp.resolve(OutpostServer.DATABASE_FILE));
                    Statement statement = check.createStatement();
                    ResultSet rows = statement.executeQuery(
                            "SELECT COUNT(*), COUNT(DISTINCT origin_op), MIN(seq), MAX(seq) FROM changes WHERE scope = 'user:alice'")) {
                rows.next();
                assertThat(rows.getInt(1)).isEqualTo(7 * 20 * 5);
                assertThat(rows.getInt(2)).isEqualTo(7 * 20 * 5);
            }
        }
    }

    /** Waits until the server's metrics say this many requests are being handled. */
    private void awaitRequestsInFlight(String url, int requests) throws IOException, InterruptedException {
        for (int i = 0; i < 3000; i++) {
            String metrics = http.send(HttpRequest.newBuilder(URI.create(url + "/metrics")).GET().build(),
                    HttpResponse.BodyHandlers.ofString()).body();
            if (metrics.contains("outpost_requests_in_flight " + requests + ".0")) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the push never reached the server's handler");
    }

    @Test
    void aShutdownTimeoutThatIsNotPositiveIsRefused() {
        assertThatThrownBy(() -> OutpostServer.builder().shutdownTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("shutdownTimeout");
    }

    private static String op(String opId, String collection, String recordId, String type, Long baseVersion) {
        return opAt(opId, collection, recordId, type, baseVersion, HLC);
    }

    private static String opAt(String opId, String collection, String recordId, String type, Long baseVersion, String hlc) {
        return "{\"opId\":\"" + opId + "\",\"collection\":\"" + collection + "\",\"recordId\":\"" + recordId + "\",\"type\":\""
                + type + "\"" + (baseVersion == null ? "" : ",\"baseVersion\":" + baseVersion)
                + ",\"data\":{\"visits\":1},\"hlc\":\"" + hlc + "\"}";
    }

    private HttpRequest pushRequest(OutpostServer server, String token, String ops) {
        return pushRequest(server, token, ops, "phone");
    }

    private HttpRequest pushRequest(OutpostServer server, String token, String ops, String device) {
        return HttpRequest.newBuilder(URI.create(server.url() + "/v1/push")).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"deviceId\":\"" + device + "\",\"ops\":[" + ops + "]}")).build();
    }

    private void push(OutpostServer server, String token, String ops) throws IOException, InterruptedException {
        push(server, token, ops, "phone");
    }

    private void push(OutpostServer server, String token, String ops, String device) throws IOException, InterruptedException {
        HttpResponse<String> response = http.send(pushRequest(server, token, ops, device), HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }

    private HttpResponse<String> send(OutpostServer server, HttpRequest.Builder request) throws IOException, InterruptedException {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }
}
