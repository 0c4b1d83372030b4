package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A push reads its records once and writes their rows together at the end: ops later in a
 * push must still see what earlier ones in the same push did, exactly as if each had been
 * pushed alone.
 */
class PushBatchTest {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    private static final String HLC = "1700000000000-00000-device";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private OutpostServer server;
    private String token;

    @BeforeEach
    void start() {
        server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).databaseUrl(TestDatabases.freshUrl())
                .naturalKey("calls", NaturalKey.builder().exact("number").within("startedAt", 1).build())
                .build().start();
        token = server.tokens().issue("alice", Duration.ofHours(1));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void opsOnOneRecordInOnePushApplyInOrderAndTheLogKeepsEveryVersion() {
        JsonNode results = push(op("CREATE", "n1", null, "a"), op("UPDATE", "n1", 1L, "b"), op("UPDATE", "n1", 2L, "c"),
                op("DELETE", "n1", 3L, null));

        for (int i = 0; i < 4; i++) {
            assertThat(results.get(i).get("status").asText()).isEqualTo("APPLIED");
            assertThat(results.get(i).get("version").asLong()).isEqualTo(i + 1);
        }
        List<JsonNode> changes = pull();
        assertThat(changes).extracting(change -> change.get("version").asLong()).containsExactly(1L, 2L, 3L, 4L);
        assertThat(changes).extracting(change -> change.has("data") && !change.get("data").isNull()
                ? change.get("data").get("text").asText() : "deleted").containsExactly("a", "b", "c", "deleted");
        assertThat(changes.get(3).get("deleted").asBoolean()).isTrue();

        JsonNode recreated = push(op("CREATE", "n1", null, "again")).get(0);
        assertThat(recreated.get("status").asText()).isEqualTo("APPLIED");
        assertThat(recreated.get("version").asLong()).isEqualTo(5);
    }

    @Test
    void aStaleOpLaterInAPushConflictsWithTheVersionAnEarlierOpWrote() {
        JsonNode results = push(op("CREATE", "n1", null, "a"), op("UPDATE", "n1", 1L, "mine"), op("UPDATE", "n1", 1L, "stale"));

        assertThat(results.get(1).get("status").asText()).isEqualTo("APPLIED");
        JsonNode stale = results.get(2);
        assertThat(stale.get("status").asText()).isEqualTo("CONFLICT");
        assertThat(stale.get("record").get("version").asLong()).isEqualTo(2);
        assertThat(stale.get("record").get("data").get("text").asText()).isEqualTo("mine");
        assertThat(pull()).hasSize(2);
    }

    @Test
    void twoCreatesOfTheSameCallInOnePushMakeOneRecord() {
        ObjectNode first = op("CREATE", "call-1", null, null);
        first.set("data", JSON.objectNode().put("number", "+15550100").put("startedAt", 1000.0));
        ObjectNode second = op("CREATE", "call-2", null, null);
        second.set("data", JSON.objectNode().put("number", "+15550100").put("startedAt", 1000.5));

        JsonNode results = push(first, second);

        assertThat(results.get(0).get("status").asText()).isEqualTo("APPLIED");
        assertThat(results.get(1).get("status").asText()).isEqualTo("DUPLICATE");
        assertThat(results.get(1).get("record").get("recordId").asText()).isEqualTo("call-1");
        assertThat(pull()).extracting(change -> change.get("recordId").asText()).containsExactly("call-1");
    }

    @Test
    void aResentOpBesideNewOpsOnItsRecordIsAnsweredFromItsFirstOutcomeAndTheNewOnesApply() {
        ObjectNode create = op("CREATE", "n1", null, "a");
        push(create);

        JsonNode results = push(create, op("UPDATE", "n1", 1L, "b"), create);

        assertThat(results.get(0).get("status").asText()).isEqualTo("DUPLICATE");
        assertThat(results.get(0).get("firstStatus").asText()).isEqualTo("APPLIED");
        assertThat(results.get(1).get("status").asText()).isEqualTo("APPLIED");
        assertThat(results.get(1).get("version").asLong()).isEqualTo(2);
        assertThat(results.get(2).get("status").asText()).isEqualTo("DUPLICATE");
        assertThat(pull()).hasSize(2);
    }

    @Test
    void aPushOfFiveHundredUpdatesReadsAndWritesEveryRecord() {
        List<ObjectNode> creates = new ArrayList<>();
        List<ObjectNode> updates = new ArrayList<>();
        for (int i = 0; i < 500; i++) {
            creates.add(op("CREATE", "n" + i, null, "v1"));
            updates.add(op("UPDATE", "n" + i, 1L, "v2"));
        }
        push(creates.toArray(ObjectNode[]::new));

        JsonNode results = push(updates.toArray(ObjectNode[]::new));

        for (JsonNode result : results) {
            assertThat(result.get("status").asText()).isEqualTo("APPLIED");
            assertThat(result.get("version").asLong()).isEqualTo(2);
        }
        assertThat(pull()).hasSize(1000);
    }

    private static ObjectNode op(String type, String recordId, Long baseVersion, String text) {
        ObjectNode op = JSON.objectNode().put("opId", UUID.randomUUID().toString()).put("collection",
                recordId.startsWith("call") ? "calls" : "notes").put("recordId", recordId).put("type", type).put("hlc", HLC);
        if (baseVersion != null) {
            op.put("baseVersion", baseVersion);
        }
        if (text != null) {
            op.set("data", JSON.objectNode().put("text", text));
        }
        return op;
    }

    private JsonNode push(ObjectNode... ops) {
        ObjectNode body = JSON.objectNode().put("deviceId", "alice-phone");
        ArrayNode array = body.putArray("ops");
        for (ObjectNode op : ops) {
            array.add(op);
        }
        HttpResponse<String> response = send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/push"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return TestJson.parse(response.body()).get("results");
    }

    /** Every change the user can pull, in log order. */
    private List<JsonNode> pull() {
        List<JsonNode> changes = new ArrayList<>();
        String cursor = "";
        while (true) {
            HttpResponse<String> response = send(HttpRequest.newBuilder(
                    URI.create(server.url() + "/v1/pull?limit=1000" + cursor)).GET());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            JsonNode page = TestJson.parse(response.body());
            page.get("changes").forEach(changes::add);
            if (!page.get("hasMore").asBoolean()) {
                return changes;
            }
            cursor = "&cursor=" + page.get("cursor").asText();
        }
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
