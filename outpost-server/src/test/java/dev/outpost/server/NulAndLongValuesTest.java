package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.testdb.TestDatabases;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Promise 8 for values a database may not hold as sent: the NUL character (PostgreSQL's text
 * and jsonb refuse it) in a record's data, its field names, its natural key, its ids and its
 * collection, and ids and key values at and past their lengths. Whatever the store, such an op
 * is stored faithfully or REJECTED alone with a code, the rest of its batch applies, and
 * nothing answers 500.
 */
class NulAndLongValuesTest {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    private static final String HLC = "1700000000000-00000-d1";
    private static final String NUL = "\u0000";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private OutpostServer server;
    private String alice;
    private int ops;

    @BeforeEach
    void start() {
        server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).databaseUrl(TestDatabases.freshUrl())
                .naturalKey("calls", NaturalKey.builder().exact("number").within("startedAt", 1).build())
                .conflictPolicy("reviews", ConflictPolicy.MANUAL)
                .conflictPolicy("keyed-reviews", ConflictPolicy.MANUAL)
                .naturalKey("keyed-reviews", NaturalKey.builder().exact("text").build())
                .build().start();
        alice = server.tokens().issue("alice", Duration.ofHours(1));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("plainDataWithNul")
    void aRecordWithNulInItsDataIsStoredAsSentAndPulledBack(String where, ObjectNode data) {
        JsonNode results = push("alice-phone", create("before", "notes", text("ok")), create("r1", "notes", data),
                create("after", "notes", text("ok")));

        assertThat(results).extracting(result -> result.get("status").asText()).containsExactly("APPLIED", "APPLIED", "APPLIED");
        assertThat(pulled()).extracting(change -> change.get("recordId").asText()).containsExactly("before", "r1", "after");
        assertThat(pulled().get(1).get("data").toString()).isEqualTo(data.toString());
    }

    static Stream<Arguments> plainDataWithNul() {
        return Stream.of(
                Arguments.of("a field value", text("a" + NUL + "b")),
                Arguments.of("a field name", JSON.objectNode().put("a" + NUL + "b", 1)),
                Arguments.of("a nested value", objectWith("inner", text(NUL))));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("keyedDataWithNul")
    void aNaturalKeyedRecordWithNulIsRejectedAloneAndTheRestApply(String where, ObjectNode data, String named) {
        JsonNode results = push("alice-phone", create("before", "notes", text("ok")), create("c1", "calls", data),
                create("after", "notes", text("ok")));

        assertThat(results).extracting(result -> result.get("status").asText()).containsExactly("APPLIED", "REJECTED", "APPLIED");
        JsonNode error = results.get(1).get("error");
        assertThat(error.get("code").asText()).isEqualTo("NUL_CHARACTER");
        assertThat(error.get("message").asText()).contains("calls/c1").contains(named).doesNotContain(NUL);
        assertThat(pulled()).extracting(change -> change.get("recordId").asText()).containsExactly("before", "after");
    }

    static Stream<Arguments> keyedDataWithNul() {
        return Stream.of(
                Arguments.of("the natural key's exact field", call("+1" + NUL + "555", 100), "'number'"),
                Arguments.of("another field", call("+1555", 100).put("note", NUL), "'note'"),
                Arguments.of("a nested field", call("+1555", 100).set("tags", JSON.arrayNode().add("x").add(NUL)), "'tags[1]'"),
                Arguments.of("a field name", call("+1555", 100).put(NUL, "x"), "field name"));
    }

    @Test
    void anUpdateOrADuplicateLookupBringingNulIntoANaturalKeyedRecordIsRejectedAlone() {
        push("alice-phone", create("c1", "calls", call("+1555", 100)), create("n1", "notes", text("x")));

        JsonNode results = push("alice-phone", update("c1", "calls", 1, text(NUL)), update("n1", "notes", 1, text(NUL)),
                create("c2", "calls", call("+1555" + NUL, 100)), create("c3", "calls", call("+1556", 100)));

        assertThat(results).extracting(result -> result.get("status").asText() + ":" + (result.has("error")
                ? result.get("error").get("code").asText() : ""))
                .containsExactly("REJECTED:NUL_CHARACTER", "APPLIED:", "REJECTED:NUL_CHARACTER", "APPLIED:");
        assertThat(pulled()).extracting(change -> change.get("recordId").asText() + "@" + change.get("version").asLong())
                .containsExactly("c1@1", "n1@1", "n1@2", "c3@1");
    }

    @Test
    void aManualConflictSettledWithMergedDataHoldingNulIsStoredOrRefusedAsItsCollectionAllows() {
        String plain = conflictOn("reviews");
        String keyed = conflictOn("keyed-reviews");

        HttpResponse<String> stored = resolveMerged(plain, text("mer" + NUL + "ged"));
        HttpResponse<String> refused = resolveMerged(keyed, text("mer" + NUL + "ged"));

        assertThat(stored.statusCode()).as(stored.body()).isEqualTo(200);
        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(400);
        assertThat(json(refused).get("code").asText()).isEqualTo("NUL_CHARACTER");
        assertThat(pulled()).extracting(change -> change.get("collection").asText() + "@" + change.get("version").asLong()
                + ":" + change.get("data").get("text").asText())
                .containsExactly("reviews@1:first", "reviews@2:second", "keyed-reviews@1:first", "keyed-reviews@2:second",
                        "reviews@3:mer" + NUL + "ged");
        assertThat(json(send("GET", "/v1/conflicts", null)).get("conflicts")).as("the refused resolution left it open").hasSize(1);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("opsWithNulOrLongIds")
    void anOpWithNulOrAnOverlongIdIsRejectedAloneAndTheRestApply(String where, UnaryOperator<ObjectNode> breakOp, String field) {
        JsonNode results = push("alice-phone", create("before", "notes", text("ok")), breakOp.apply(create("bad", "notes", text("x"))),
                create("after", "notes", text("ok")));

        assertThat(results).extracting(result -> result.get("status").asText()).containsExactly("APPLIED", "REJECTED", "APPLIED");
        assertThat(results.get(1).get("error").get("code").asText()).isEqualTo("INVALID_OP");
        assertThat(results.get(1).get("error").get("message").asText()).contains(field);
        assertThat(pulled()).extracting(change -> change.get("recordId").asText()).containsExactly("before", "after");
    }

    static Stream<Arguments> opsWithNulOrLongIds() {
        return Stream.of(
                Arguments.of("record id with NUL", (UnaryOperator<ObjectNode>) op -> op.put("recordId", "r" + NUL + "1"), "recordId"),
                Arguments.of("record id that is NUL", (UnaryOperator<ObjectNode>) op -> op.put("recordId", NUL), "recordId"),
                Arguments.of("collection with NUL", (UnaryOperator<ObjectNode>) op -> op.put("collection", "notes" + NUL), "collection"),
                Arguments.of("scope with NUL", (UnaryOperator<ObjectNode>) op -> op.put("scope", "team" + NUL), "scope"),
                Arguments.of("hlc with NUL", (UnaryOperator<ObjectNode>) op -> op.put("hlc", HLC + NUL), "hlc"),
                Arguments.of("record id of 201 characters", (UnaryOperator<ObjectNode>) op -> op.put("recordId", "r".repeat(201)), "recordId"),
                Arguments.of("record id of 100,000 characters", (UnaryOperator<ObjectNode>) op -> op.put("recordId", "r".repeat(100_000)),
                        "recordId"));
    }

    @Test
    void aPushWhoseDeviceIdOrOpIdHoldsNulIsRefusedWholeAndChangesNothing() {
        HttpResponse<String> device = sendPush(body("alice" + NUL + "phone", create("r1", "notes", text("x"))));
        HttpResponse<String> op = sendPush(body("alice-phone", create("r2", "notes", text("x")).put("opId", "o" + NUL)));

        for (HttpResponse<String> response : List.of(device, op)) {
            assertThat(response.statusCode()).as(response.body()).isEqualTo(400);
            assertThat(json(response).get("code").asText()).isEqualTo("INVALID_REQUEST");
        }
        assertThat(pulled()).isEmpty();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("pathIdsThatNoStoredIdCanBe")
    void aDeviceOrConflictIdInThePathThatNoStoredIdCanBeIsNotFound(String where, String id) {
        push("alice-phone", create("n1", "notes", text("x")));
        String conflict = conflictOn("reviews");

        HttpResponse<String> audit = send("GET", "/v1/devices/" + id + "/operations", null);
        HttpResponse<String> resolve = send("POST", "/v1/conflicts/" + id + "/resolve", "{\"choice\":\"SERVER\"}");

        assertThat(audit.statusCode()).as(audit.body()).isEqualTo(404);
        assertThat(json(audit).get("code").asText()).isEqualTo("DEVICE_NOT_FOUND");
        assertThat(resolve.statusCode()).as(resolve.body()).isEqualTo(404);
        assertThat(json(resolve).get("code").asText()).isEqualTo("CONFLICT_NOT_FOUND");
        assertThat(send("GET", "/v1/devices/alice-phone/operations", null).statusCode()).as("still serving").isEqualTo(200);
        assertThat(json(send("GET", "/v1/conflicts", null)).get("conflicts")).extracting(open -> open.get("id").asText())
                .containsExactly(conflict);
    }

    static Stream<Arguments> pathIdsThatNoStoredIdCanBe() {
        return Stream.of(
                Arguments.of("a control character", "a%01b"),
                Arguments.of("blank", "%20"),
                Arguments.of("201 characters", "d".repeat(201)));
    }

    @Test
    void idsAtTheirLongestInManyByteCharactersAreStoredAndPulledBack() {
        String recordId = "\u4e2d".repeat(200);
        String deviceId = "\u00e9".repeat(199) + "d";
        String emoji = "\ud83d\ude00".repeat(100);
        ObjectNode op = create(recordId, "notes", text("x")).put("opId", emoji);

        JsonNode results = push(deviceId, op, create(emoji, "calls", call("\u4e2d".repeat(300), 100)));

        assertThat(results).extracting(result -> result.get("status").asText()).containsExactly("APPLIED", "APPLIED");
        assertThat(pulled()).extracting(change -> change.get("recordId").asText()).containsExactly(recordId, emoji);
        assertThat(pulled().get(0).get("origin").get("deviceId").asText()).isEqualTo(deviceId);
        assertThat(pulled().get(0).get("origin").get("opId").asText()).isEqualTo(emoji);
        assertThat(push(deviceId, op).get(0).get("status").asText()).as("the long op id is its idempotency key").isEqualTo("DUPLICATE");
        HttpResponse<String> audit = send("GET", "/v1/devices/" + java.net.URLEncoder.encode(deviceId, java.nio.charset.StandardCharsets.UTF_8)
                + "/operations", null);
        assertThat(audit.statusCode()).as(audit.body()).isEqualTo(200);
        assertThat(json(audit).get("operations")).as("a re-sent op is answered from its first outcome, not audited again").hasSize(2);
    }

    @Test
    void aNaturalKeyTooLongForItsIndexIsRejectedAloneAndOneAtTheLimitIsStored() {
        // Random CJK characters, 3 bytes each in UTF-8, that no compression shrinks: 340 of them
        // quoted are 1,022 bytes, the key at the limit with a two-byte longer one past it.
        Random seeded = new Random(7);
        StringBuilder random = new StringBuilder();
        while (random.length() < 341) {
            random.append((char) (0x4e00 + seeded.nextInt(0x5000)));
        }
        String atLimit = random.substring(0, 340);
        String user = "\u4e2d".repeat(200);
        String longest = server.tokens().issue(user, Duration.ofHours(1));

        JsonNode results = push(longest, "user-phone", create("before", "notes", text("ok")), create("c1", "calls", call(atLimit + "ab", 100)),
                create("c2", "calls", call(random.toString(), 100)), create("after", "notes", text("ok")));

        assertThat(results).extracting(result -> result.get("status").asText() + ":" + (result.has("error")
                ? result.get("error").get("code").asText() : ""))
                .containsExactly("APPLIED:", "APPLIED:", "REJECTED:NATURAL_KEY_TOO_LONG", "APPLIED:");
        assertThat(results.get(2).get("error").get("message").asText()).contains("calls/c2").contains("1025 bytes").contains("1024");
    }

    // ---- helpers ----

    private static ObjectNode text(String text) {
        return JSON.objectNode().put("text", text);
    }

    private static ObjectNode objectWith(String field, ObjectNode value) {
        ObjectNode object = JSON.objectNode();
        object.set(field, value);
        return object;
    }

    private static ObjectNode call(String number, long startedAt) {
        return JSON.objectNode().put("number", number).put("startedAt", startedAt);
    }

    private ObjectNode create(String recordId, String collection, ObjectNode data) {
        ObjectNode op = JSON.objectNode().put("opId", "op-" + (++ops)).put("collection", collection).put("recordId", recordId)
                .put("type", "CREATE").put("hlc", HLC);
        op.set("data", data);
        return op;
    }

    private ObjectNode update(String recordId, String collection, long baseVersion, ObjectNode patch) {
        ObjectNode op = create(recordId, collection, patch).put("type", "UPDATE").put("baseVersion", baseVersion);
        return op;
    }

    private static String body(String deviceId, ObjectNode... ops) {
        ObjectNode body = JSON.objectNode().put("deviceId", deviceId);
        ArrayNode array = body.putArray("ops");
        for (ObjectNode op : ops) {
            array.add(op);
        }
        return body.toString();
    }

    private JsonNode push(String deviceId, ObjectNode... ops) {
        return push(alice, deviceId, ops);
    }

    private JsonNode push(String token, String deviceId, ObjectNode... ops) {
        HttpResponse<String> response = send(token, "POST", "/v1/push", body(deviceId, ops));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return json(response).get("results");
    }

    private HttpResponse<String> sendPush(String body) {
        return send("POST", "/v1/push", body);
    }

    private List<JsonNode> pulled() {
        HttpResponse<String> response = send("GET", "/v1/pull?limit=1000", null);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        List<JsonNode> changes = new ArrayList<>();
        json(response).get("changes").forEach(changes::add);
        return changes;
    }

    private String conflictOn(String collection) {
        push("alice-phone", create("r1", collection, text("first")));
        push("alice-phone", update("r1", collection, 1, text("second")));
        push("alice-laptop", update("r1", collection, 1, text("stale")));
        for (JsonNode conflict : json(send("GET", "/v1/conflicts", null)).get("conflicts")) {
            if (conflict.get("collection").asText().equals(collection)) {
                return conflict.get("id").asText();
            }
        }
        throw new AssertionError("no conflict on " + collection);
    }

    private HttpResponse<String> resolveMerged(String conflict, ObjectNode data) {
        return send("POST", "/v1/conflicts/" + conflict + "/resolve", JSON.objectNode().put("choice", "MERGED").set("data", data).toString());
    }

    private HttpResponse<String> send(String method, String path, String body) {
        return send(alice, method, path, body);
    }

    private HttpResponse<String> send(String token, String method, String path, String body) {
        return TestHttp.send(http, server.url(), method, path, token, body);
    }

    private static JsonNode json(HttpResponse<String> response) {
        return TestJson.parse(response.body());
    }
}
