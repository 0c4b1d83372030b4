package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the configuration file and the environment set takes effect: each limit is enforced at
 * its configured value with its code, an environment variable beats the file, and the file's
 * conflict policies, counters and natural keys settle what is pushed.
 */
class ConfiguredLimitsTest {
    private static final String HLC = "1700000000000-00000-phone";
    private static final String LATER_HLC = "1800000000000-00000-phone";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private final List<OutpostServer> servers = new ArrayList<>();

    @AfterEach
    void stop() {
        servers.forEach(OutpostServer::close);
    }

    @Test
    void eachLimitOfTheFileIsEnforcedAtItsValueWithItsCode() throws IOException {
        Api api = start(config("""
                {"limits": {"maxBodyBytes": 4096, "maxOpsPerPush": 3, "maxRecordBytes": 300, "maxRecordDepth": 3}}
                """), UnaryOperator.identity());

        HttpResponse<String> tooLarge = api.push(op("big", "notes", "b1", "CREATE", null, "{\"text\":\"" + "x".repeat(5000) + "\"}"));
        assertThat(tooLarge.statusCode()).isEqualTo(413);
        assertThat(code(tooLarge)).isEqualTo("PAYLOAD_TOO_LARGE");
        assertThat(message(tooLarge)).contains("4096");

        HttpResponse<String> tooMany = api.push(create("m1"), create("m2"), create("m3"), create("m4"));
        assertThat(tooMany.statusCode()).isEqualTo(413);
        assertThat(code(tooMany)).isEqualTo("TOO_MANY_OPS");
        assertThat(message(tooMany)).contains("at most 3");

        JsonNode results = results(api.push(
                op("big-record", "notes", "r1", "CREATE", null, "{\"text\":\"" + "y".repeat(300) + "\"}"),
                op("deep-record", "notes", "r2", "CREATE", null, "{\"a\":{\"b\":{\"c\":{\"d\":1}}}}"),
                op("just-deep-enough", "notes", "r3", "CREATE", null, "{\"a\":{\"b\":{\"c\":1}}}")));
        assertThat(results.get(0).get("status").asText()).isEqualTo("REJECTED");
        assertThat(results.get(0).get("error").get("code").asText()).isEqualTo("RECORD_TOO_LARGE");
        assertThat(results.get(0).get("error").get("message").asText()).contains("at most 300 bytes");
        assertThat(results.get(1).get("status").asText()).isEqualTo("REJECTED");
        assertThat(results.get(1).get("error").get("code").asText()).isEqualTo("RECORD_TOO_DEEP");
        assertThat(results.get(1).get("error").get("message").asText()).contains("nests 4 levels").contains("at most 3");
        assertThat(results.get(2).get("status").asText()).isEqualTo("APPLIED");

        JsonNode patch = results(api.push(op("deep-patch", "notes", "r3", "UPDATE", 1L, "{\"a\":{\"b\":{\"c\":{\"d\":2}}}}"))).get(0);
        assertThat(patch.get("error").get("code").asText()).isEqualTo("RECORD_TOO_DEEP");
    }

    @Test
    void aMergedResolutionDeeperThanTheConfiguredDepthIsRefused() throws IOException {
        Api api = start(config("""
                {"limits": {"maxRecordDepth": 2}, "collections": {"reviews": {"conflictPolicy": "MANUAL"}}}
                """), UnaryOperator.identity());
        api.push(op("c1", "reviews", "v1", "CREATE", null, "{\"stars\":3}"));
        assertThat(results(api.push(op("u1", "reviews", "v1", "UPDATE", 0L, "{\"stars\":5}"))).get(0).get("status").asText())
                .isEqualTo("CONFLICT");
        String id = TestJson.parse(api.get("/v1/conflicts").body()).get("conflicts").get(0).get("id").asText();

        HttpResponse<String> deep = api.post("/v1/conflicts/" + id + "/resolve",
                "{\"choice\":\"MERGED\",\"data\":{\"stars\":{\"by\":{\"ann\":4}}}}");
        HttpResponse<String> shallow = api.post("/v1/conflicts/" + id + "/resolve",
                "{\"choice\":\"MERGED\",\"data\":{\"stars\":{\"ann\":4}}}");

        assertThat(deep.statusCode()).isEqualTo(400);
        assertThat(code(deep)).isEqualTo("RECORD_TOO_DEEP");
        assertThat(message(deep)).contains("at most 2");
        assertThat(shallow.statusCode()).as(shallow.body()).isEqualTo(200);
    }

    /**
     * A pull may ask for more than the server's maximum: a device's page size need not know the
     * server's setting. It gets at most the maximum, and hasMore says the rest follows.
     */
    @Test
    void aPullAskingForMoreThanTheMaximumGetsAtMostTheMaximum() throws IOException {
        Api api = start(config("{\"limits\": {\"maxPullLimit\": 5}}"), UnaryOperator.identity());
        for (int i = 0; i < 8; i++) {
            assertThat(api.push(create("n" + i)).statusCode()).isEqualTo(200);
        }

        HttpResponse<String> asked = api.get("/v1/pull?limit=500");
        HttpResponse<String> unasked = api.get("/v1/pull");

        assertThat(asked.statusCode()).as(asked.body()).isEqualTo(200);
        JsonNode page = TestJson.parse(asked.body());
        assertThat(page.get("changes")).hasSize(5);
        assertThat(page.get("hasMore").asBoolean()).isTrue();
        JsonNode rest = TestJson.parse(api.get("/v1/pull?limit=500&cursor=" + page.get("cursor").asText()).body());
        assertThat(rest.get("changes")).hasSize(3);
        assertThat(rest.get("hasMore").asBoolean()).isFalse();
        assertThat(TestJson.parse(unasked.body()).get("changes")).hasSize(5);
    }

    @Test
    void theEnvironmentBeatsTheFile() throws IOException {
        Path file = config("""
                {"limits": {"maxOpsPerPush": 5, "maxRecordDepth": 4, "maxPullLimit": 10}}
                """);
        Api api = start(file, builder -> builder.environment(Map.of(
                "OUTPOST_MAX_OPS_PER_PUSH", "2", "OUTPOST_MAX_RECORD_DEPTH", "2", "OUTPOST_MAX_PULL_LIMIT", "1")));

        HttpResponse<String> three = api.push(create("a"), create("b"), create("c"));
        assertThat(three.statusCode()).isEqualTo(413);
        assertThat(message(three)).contains("at most 2");
        JsonNode deep = results(api.push(op("d", "notes", "d", "CREATE", null, "{\"a\":{\"b\":{\"c\":1}}}"))).get(0);
        assertThat(deep.get("error").get("code").asText()).isEqualTo("RECORD_TOO_DEEP");
        api.push(create("e"), create("f"));
        assertThat(TestJson.parse(api.get("/v1/pull?limit=10").body()).get("changes")).hasSize(1);
    }

    @Test
    void theFilesConflictPoliciesCountersAndNaturalKeysSettleWhatIsPushed() throws IOException {
        Api api = start(config("""
                {"defaultConflictPolicy": "CLIENT_WINS",
                 "collections": {"notes": {"conflictPolicy": "SERVER_WINS"},
                                 "profiles": {"conflictPolicy": "MERGE", "counters": ["visits"]},
                                 "posts": {"conflictPolicy": "LAST_WRITE_WINS"},
                                 "calls": {"naturalKey": {"exact": ["number"], "within": {"startedAt": 1000}}}}}
                """), UnaryOperator.identity());
        api.push(op("n-c", "notes", "n1", "CREATE", null, "{\"text\":\"server\"}"),
                op("t-c", "tasks", "t1", "CREATE", null, "{\"text\":\"server\"}"),
                op("p-c", "profiles", "p1", "CREATE", null, "{\"visits\":1,\"name\":\"ann\"}"),
                op("s-c", "posts", "s1", "CREATE", null, "{\"text\":\"server\"}"),
                op("c-c", "calls", "c1", "CREATE", null, "{\"number\":\"555\",\"startedAt\":10000}"));
        api.push(op("p-u1", "profiles", "p1", "UPDATE", 1L, "{\"visits\":3}"));

        JsonNode results = results(api.push(
                op("n-u", "notes", "n1", "UPDATE", 0L, "{\"text\":\"device\"}"),
                op("t-u", "tasks", "t1", "UPDATE", 0L, "{\"text\":\"device\"}"),
                op("p-u2", "profiles", "p1", "UPDATE", 1L, "{\"visits\":2,\"name\":\"Ann\"}"),
                opAt("s-u", "posts", "s1", "UPDATE", 0L, "{\"text\":\"later\"}", LATER_HLC),
                op("c-dup", "calls", "c2", "CREATE", null, "{\"number\":\"555\",\"startedAt\":10800}")));

        assertThat(results.get(0).get("status").asText()).as("notes: SERVER_WINS").isEqualTo("CONFLICT");
        assertThat(results.get(0).get("record").get("data").get("text").asText()).isEqualTo("server");
        assertThat(results.get(1).get("status").asText()).as("tasks: the default, CLIENT_WINS").isEqualTo("MERGED");
        assertThat(results.get(1).get("record").get("data").get("text").asText()).isEqualTo("device");
        assertThat(results.get(2).get("status").asText()).as("profiles: MERGE").isEqualTo("MERGED");
        assertThat(results.get(2).get("record").get("data").get("visits").asInt()).as("counter: 3 + (2 - 1)").isEqualTo(4);
        assertThat(results.get(2).get("record").get("data").get("name").asText()).isEqualTo("Ann");
        assertThat(results.get(3).get("status").asText()).as("posts: LAST_WRITE_WINS, the later op").isEqualTo("MERGED");
        assertThat(results.get(3).get("record").get("data").get("text").asText()).isEqualTo("later");
        assertThat(results.get(4).get("status").asText()).as("calls: natural key").isEqualTo("DUPLICATE");
        assertThat(results.get(4).get("record").get("recordId").asText()).isEqualTo("c1");
    }

    private Path config(String json) throws IOException {
        return Files.writeString(tmp.resolve("server-" + servers.size() + ".json"), json);
    }

    private Api start(Path config, UnaryOperator<OutpostServer.Builder> more) {
        OutpostServer.Builder builder = OutpostServer.builder().configFile(config).host("127.0.0.1").port(0)
                .dataDir(tmp.resolve("data-" + servers.size())).databaseUrl(TestDatabases.freshUrl());
        OutpostServer server = more.apply(builder).build().start();
        servers.add(server);
        return new Api(server, server.tokens().issue("alice", Duration.ofHours(1)));
    }

    private static String create(String id) {
        return op(id, "notes", id, "CREATE", null, "{\"text\":\"" + id + "\"}");
    }

    private static String op(String opId, String collection, String recordId, String type, Long baseVersion, String data) {
        return opAt(opId, collection, recordId, type, baseVersion, data, HLC);
    }

    private static String opAt(String opId, String collection, String recordId, String type, Long baseVersion, String data,
            String hlc) {
        return "{\"opId\":\"" + opId + "\",\"collection\":\"" + collection + "\",\"recordId\":\"" + recordId + "\",\"type\":\""
                + type + "\"" + (baseVersion == null ? "" : ",\"baseVersion\":" + baseVersion)
                + (data == null ? "" : ",\"data\":" + data) + ",\"hlc\":\"" + hlc + "\"}";
    }

    private static JsonNode results(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return TestJson.parse(response.body()).get("results");
    }

    private static String code(HttpResponse<String> response) {
        return TestJson.parse(response.body()).get("code").asText();
    }

    private static String message(HttpResponse<String> response) {
        return TestJson.parse(response.body()).get("message").asText();
    }

    /** Requests to one server with one user's token. */
    private final class Api {
        private final OutpostServer server;
        private final String token;

        Api(OutpostServer server, String token) {
            this.server = server;
            this.token = token;
        }

        HttpResponse<String> push(String... ops) {
            return post("/v1/push", "{\"deviceId\":\"phone\",\"ops\":[" + String.join(",", ops) + "]}");
        }

        HttpResponse<String> post(String path, String body) {
            return send(HttpRequest.newBuilder(URI.create(server.url() + path)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)));
        }

        HttpResponse<String> get(String path) {
            return send(HttpRequest.newBuilder(URI.create(server.url() + path)).GET());
        }

        private HttpResponse<String> send(HttpRequest.Builder request) {
            try {
                return http.send(request.header("Authorization", "Bearer " + token).build(), HttpResponse.BodyHandlers.ofString());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
    }
}
