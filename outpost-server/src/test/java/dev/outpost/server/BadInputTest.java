package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.testdb.TestDatabases;
import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublisher;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Promise 8: every bad request gets a 4xx with a {@code {"code","message"}} body a person can
 * read, nothing of it is applied, and the server keeps serving. Faults inside one op reject
 * only that op; the rest of its batch applies.
 */
class BadInputTest {
    private static final String HLC = "1700000000000-00000-d1";
    private static final int MAX_RECORD_BYTES = 1024;
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @TempDir
    Path tmp;

    private final List<OutpostServer> servers = new ArrayList<>();
    private Api api;
    private int probes;

    @BeforeEach
    void startServer() {
        api = start("server", builder -> builder.maxRecordBytes(MAX_RECORD_BYTES));
    }

    @AfterEach
    void stopServers() {
        servers.forEach(OutpostServer::close);
    }

    // ---- envelope faults: the whole request is refused ----

    @Test
    void malformedJsonIsRefusedAndChangesNothing() {
        String message = assertRefused(api, () -> api.push("{\"deviceId\": \"d1\", \"ops\": [" + createOp("o1", "n1")),
                400, "MALFORMED_JSON");
        assertThat(message).contains("line");
        assertThat(api.push(pushBody("d1", createOp("o1", "n1"))).statusCode())
                .as("the op inside the malformed body was not recorded, so sending it properly applies it")
                .isEqualTo(200);
        assertThat(api.changesSince(null)).extracting(change -> change.get("recordId").asText()).contains("n1");
    }

    @Test
    void trailingGarbageAfterTheJsonObjectIsRefusedAndChangesNothing() {
        assertRefused(api, () -> api.push(pushBody("d1", createOp("o1", "n1")) + " {}"), 400, "MALFORMED_JSON");
    }

    @ParameterizedTest(name = "body {0}")
    @ValueSource(strings = {"{\"deviceId\": \"d1\", \"ops\": [", "{} {}", "{\"deviceId\" \"d1\"}", "{\"ops\": [tru]}"})
    void malformedJsonMessageSpeaksOfTheBodyNotOfTheParser(String body) {
        String message = assertRefused(api, () -> api.push(body), 400, "MALFORMED_JSON");

        assertThat(message).as("names no parser classes or settings")
                .doesNotContain("com.fasterxml")
                .doesNotContain("jackson")
                .doesNotContainPattern("[A-Za-z]+Feature\\.[A-Z_]+")
                .doesNotContain("REDACTED");
    }

    @Test
    void invalidUtf8IsRefusedAndChangesNothing() {
        byte[] body = {'{', '"', 'd', '"', ':', '"', (byte) 0xC3, (byte) 0x28, '"', '}'};
        assertRefused(api, () -> api.push(BodyPublishers.ofByteArray(body)), 400, "MALFORMED_JSON");
    }

    @Test
    void emptyBodyIsRefusedAndChangesNothing() {
        assertRefused(api, () -> api.push(BodyPublishers.noBody()), 400, "MALFORMED_JSON");
    }

    @Test
    void whitespaceOnlyBodyIsRefusedAndChangesNothing() {
        HttpResponse<String> response = api.push("   \n ");
        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(errorOf(response).get("code").asText()).isIn("MALFORMED_JSON", "INVALID_REQUEST");
        assertErrorBody(response);
        assertNothingChangedAndStillServes(api, null);
    }

    @ParameterizedTest(name = "body {0}")
    @ValueSource(strings = {"[]", "[{\"deviceId\":\"d1\",\"ops\":[]}]", "null", "\"push\"", "42", "true"})
    void bodyThatIsNotAJsonObjectIsRefusedAndChangesNothing(String body) {
        String message = assertRefused(api, () -> api.push(body), 400, "INVALID_REQUEST");
        assertThat(message).contains("object");
    }

    @Test
    void pushWithoutDeviceIdIsRefusedAndChangesNothing() {
        ObjectNode body = pushNode("d1", createOp("o1", "n1"));
        body.remove("deviceId");
        assertThat(assertRefused(api, () -> api.push(body.toString()), 400, "INVALID_REQUEST")).contains("deviceId");
        assertValidOpWasNotRecorded("d1", createOp("o1", "n1"));
    }

    @ParameterizedTest(name = "deviceId {0}")
    @ValueSource(strings = {"\"\"", "\"   \"", "7", "null", "{}", "[\"d1\"]"})
    void pushWithUnusableDeviceIdIsRefusedAndChangesNothing(String deviceId) {
        String body = "{\"deviceId\":" + deviceId + ",\"ops\":[" + createOp("o1", "n1") + "]}";
        assertThat(assertRefused(api, () -> api.push(body), 400, "INVALID_REQUEST")).contains("deviceId");
    }

    @Test
    void pushWithTooLongDeviceIdIsRefusedAndChangesNothing() {
        String body = pushBody("d".repeat(201), createOp("o1", "n1"));
        assertThat(assertRefused(api, () -> api.push(body), 400, "INVALID_REQUEST")).contains("deviceId");
    }

    @Test
    void pushWithoutOpsIsRefusedAndChangesNothing() {
        assertThat(assertRefused(api, () -> api.push("{\"deviceId\":\"d1\"}"), 400, "INVALID_REQUEST")).contains("ops");
    }

    @ParameterizedTest(name = "ops {0}")
    @ValueSource(strings = {"{}", "\"o1\"", "1", "null", "true"})
    void opsThatAreNotAnArrayAreRefusedAndChangeNothing(String ops) {
        String body = "{\"deviceId\":\"d1\",\"ops\":" + ops + "}";
        assertThat(assertRefused(api, () -> api.push(body), 400, "INVALID_REQUEST")).contains("ops");
    }

    @ParameterizedTest(name = "op {0}")
    @ValueSource(strings = {"5", "\"CREATE\"", "null", "[]"})
    void opThatIsNotAnObjectRefusesTheWholePushAndChangesNothing(String badOp) {
        String body = "{\"deviceId\":\"d1\",\"ops\":[" + createOp("o1", "n1") + "," + badOp + "]}";
        assertThat(assertRefused(api, () -> api.push(body), 400, "INVALID_REQUEST")).contains("ops[1]");
        assertValidOpWasNotRecorded("d1", createOp("o1", "n1"));
    }

    @ParameterizedTest(name = "opId {0}")
    @ValueSource(strings = {"<absent>", "\"\"", "\"  \"", "12", "null", "{}"})
    void opWithoutUsableOpIdRefusesTheWholePushAndChangesNothing(String opId) {
        ObjectNode second = createOp("o2", "n2");
        if (opId.equals("<absent>")) {
            second.remove("opId");
        } else {
            second.set("opId", TestJson.parse(opId));
        }
        String body = pushBody("d1", createOp("o1", "n1"), second);
        assertThat(assertRefused(api, () -> api.push(body), 400, "INVALID_REQUEST")).contains("ops[1].opId");
        assertValidOpWasNotRecorded("d1", createOp("o1", "n1"));
    }

    @Test
    void refusedPushDoesNotBindItsDeviceToTheUser() {
        String body = "{\"deviceId\":\"dz\",\"ops\":[" + createOp("o1", "n1") + ",5]}";
        assertRefused(api, () -> api.push(body), 400, "INVALID_REQUEST");

        Api bob = api.as("bob");
        HttpResponse<String> response = bob.push(pushBody("dz", createOp("o1", "n1")));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(resultsOf(response).get(0).get("status").asText()).isEqualTo("APPLIED");
    }

    // ---- limits ----

    @Test
    void bodyOverTheLimitIsRefusedAndChangesNothing() {
        Api limited = start("small-body", builder -> builder.maxBodyBytes(1024));
        String body = pushBody("d1", createOp("o1", "n1", JSON.objectNode().put("text", "x".repeat(2048))));
        assertThat(body.length()).isGreaterThan(2048);

        String message = assertRefused(limited, () -> limited.push(body), 413, "PAYLOAD_TOO_LARGE");
        assertThat(message).contains("1024");
        assertValidOpWasNotRecorded(limited, "d1", createOp("o1", "n1"));
    }

    @Test
    void streamedBodyOverTheLimitWithoutContentLengthIsRefusedAndChangesNothing() {
        Api limited = start("small-body", builder -> builder.maxBodyBytes(1024));
        byte[] body = pushBody("d1", createOp("o1", "n1", JSON.objectNode().put("text", "x".repeat(2048))))
                .getBytes(StandardCharsets.UTF_8);

        assertRefused(limited, () -> limited.push(BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body))),
                413, "PAYLOAD_TOO_LARGE");
        assertValidOpWasNotRecorded(limited, "d1", createOp("o1", "n1"));
    }

    @Test
    void tooManyOpsAreRefusedAndNoneIsApplied() {
        Api limited = start("few-ops", builder -> builder.maxOpsPerPush(5));
        ObjectNode[] six = new ObjectNode[6];
        for (int i = 0; i < six.length; i++) {
            six[i] = createOp("o" + i, "n" + i);
        }

        String message = assertRefused(limited, () -> limited.push(pushBody("d1", six)), 413, "TOO_MANY_OPS");
        assertThat(message).contains("5").contains("6");

        HttpResponse<String> five = limited.push(pushBody("d1", six[0], six[1], six[2], six[3], six[4]));
        assertThat(five.statusCode()).isEqualTo(200);
        assertThat(resultsOf(five)).extracting(result -> result.get("status").asText()).containsOnly("APPLIED").hasSize(5);
    }

    @ParameterizedTest(name = "{0} levels")
    @ValueSource(ints = {65, 100, 100_000})
    void jsonNestedDeeperThan64LevelsIsRefusedAndChangesNothing(int depth) {
        String body = pushBody("d1", createOp("o1", "n1", null)).replace("\"data\":null", "\"data\":" + nested(depth - 3));
        assertThat(depthOf(body)).isEqualTo(depth);

        assertThat(assertRefused(api, () -> api.push(body), 400, "JSON_TOO_DEEP")).contains("64");
        assertValidOpWasNotRecorded("d1", createOp("o1", "n1"));
    }

    @Test
    void bodyNested64LevelsIsAcceptedButARecordDeeperThanTheRecordLimitIsRejectedAlone() {
        String body = pushBody("d1", createOp("o1", "n1", null)).replace("\"data\":null", "\"data\":" + nested(61));
        assertThat(depthOf(body)).isEqualTo(64);

        HttpResponse<String> response = api.push(body);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode result = resultsOf(response).get(0);
        assertThat(result.get("status").asText()).isEqualTo("REJECTED");
        assertThat(result.get("error").get("code").asText()).isEqualTo("RECORD_TOO_DEEP");
        assertThat(result.get("error").get("message").asText()).contains(String.valueOf(Wire.MAX_RECORD_DEPTH));
    }

    @Test
    void recordNestedToTheRecordLimitIsApplied() {
        String body = pushBody("d1", createOp("o1", "n1", null))
                .replace("\"data\":null", "\"data\":" + nested(Wire.MAX_RECORD_DEPTH));

        HttpResponse<String> response = api.push(body);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(resultsOf(response).get(0).get("status").asText()).isEqualTo("APPLIED");
    }

    @Test
    void conflictOnARecordNestedToTheLimitIsAnsweredWithAResponseClientsCanRead() {
        String record = nested(Wire.MAX_RECORD_DEPTH);
        String first = pushBody("d1", createOp("o1", "n1", null)).replace("\"data\":null", "\"data\":" + record);
        assertThat(api.push(first).statusCode()).isEqualTo(200);

        HttpResponse<String> conflict = api.push(pushBody("d1", createOp("o2", "n1")));
        assertThat(conflict.statusCode()).isEqualTo(200);
        assertThat(resultsOf(conflict).get(0).get("status").asText()).isEqualTo("CONFLICT");
        assertThatCode(() -> Wire.read(conflict.body().getBytes(StandardCharsets.UTF_8), PushResponse.class))
                .as("the CONFLICT result carries the server's record; a client reading the answer with the"
                        + " protocol's own reader (nesting limit %d) must be able to parse it. Answer nests %d levels",
                        Wire.MAX_DEPTH, depthOf(conflict.body()))
                .doesNotThrowAnyException();
    }

    @Test
    void overlongNumberIsRefusedWithAnAccurateMessage() {
        String body = pushBody("d1", createOp("o1", "n1")).replace("\"text\":\"hello\"", "\"count\":" + "9".repeat(1500));
        HttpResponse<String> response = api.push(body);

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = assertErrorBody(response);
        assertThat(error.get("code").asText()).as("a long number is not deep nesting").isNotEqualTo("JSON_TOO_DEEP");
        assertThat(error.get("message").asText()).doesNotContain("deeper");
        assertNothingChangedAndStillServes(api, null);
    }

    @Test
    void overlongFieldNameIsRefusedWithAnAccurateMessage() {
        String body = pushBody("d1", createOp("o1", "n1")).replace("\"text\":", "\"" + "k".repeat(60_000) + "\":");
        HttpResponse<String> response = api.push(body);

        assertThat(response.statusCode()).isEqualTo(400);
        JsonNode error = assertErrorBody(response);
        assertThat(error.get("code").asText()).as("a long field name is not deep nesting").isNotEqualTo("JSON_TOO_DEEP");
        assertThat(error.get("message").asText()).doesNotContain("deeper");
        assertNothingChangedAndStillServes(api, null);
    }

    // ---- request line and headers, refused by the HTTP server before the API ----

    @Test
    void aHeaderLargerThanTheLimitIsRefused431WithACode() {
        String message = assertRefused(api, () -> api.send(api.request("/v1/pull").header("X-Padding", "p".repeat(40_000)).GET()),
                431, "HEADERS_TOO_LARGE");
        assertThat(message).contains("32768 bytes");
    }

    @Test
    void aUrlLongerThanTheLimitIsRefused414WithACode() {
        String message = assertRefused(api, () -> api.get("/v1/pull?cursor=" + "c".repeat(40_000)), 414, "URI_TOO_LONG");
        assertThat(message).contains("32768 bytes");
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"/v1/devices/%00/operations", "/v1/devices/d%00/operations", "/v1/pull%00"})
    void anEncodedNulInThePathIsRefused400WithACode(String path) {
        assertRefused(api, () -> api.get(path), 400, "INVALID_REQUEST");
        assertRefused(api, () -> api.send(api.request("/v1/conflicts/a%00b/resolve").header("Content-Type", "application/json")
                .POST(BodyPublishers.ofString("{\"choice\":\"SERVER\"}"))), 400, "INVALID_REQUEST");
    }

    /** 100 shared scopes with names of 64 characters and a subject of 200 characters of 3 bytes each: the most a token may grant. */
    @Test
    void theLargestTokenTheProtocolAllowsGetsThrough() {
        java.util.Map<String, ScopeAccess> scopes = new java.util.HashMap<>();
        for (int i = 0; i < 100; i++) {
            scopes.put(String.format("%03d", i) + "s".repeat(61), ScopeAccess.READ_WRITE);
        }
        String token = api.server.tokens().issue("\u4e2d".repeat(200), Duration.ofHours(1), scopes);

        HttpResponse<String> response = api.send(HttpRequest.newBuilder(URI.create(api.server.url() + "/v1/pull"))
                .header("Authorization", "Bearer " + token).GET());

        assertThat(token.length()).as("a token past Jetty's default 8 KiB").isGreaterThan(8192);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }

    // ---- pull parameters ----

    @ParameterizedTest(name = "cursor {0}")
    @MethodSource("invalidCursors")
    void invalidPullCursorIsRefusedAndChangesNothing(String cursor) {
        String message = assertRefused(api, () -> api.get("/v1/pull?cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8)),
                400, "INVALID_CURSOR");
        assertThat(message).contains("cursor");
    }

    static Stream<String> invalidCursors() {
        Base64.Encoder base64 = Base64.getUrlEncoder().withoutPadding();
        return Stream.of(
                "not a cursor!",
                "%%%",
                base64.encodeToString("hello".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c1:".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c1:abc".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c1:-5".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c2:5".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c2:5:0123456789abcdef".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c2:5:0123456789abcdef:0123456789ABCDEF".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c2:-5:0123456789abcdef:0123456789abcdef".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c2:5:0123456789abcdef:0123456789abcdef:".getBytes(StandardCharsets.UTF_8)),
                base64.encodeToString("c1:99999999999999999999".getBytes(StandardCharsets.UTF_8)));
    }

    @ParameterizedTest(name = "limit {0}")
    @ValueSource(strings = {"0", "-1", "abc", "1.5", "", "99999999999", "1e3"})
    void invalidPullLimitIsRefusedAndChangesNothing(String limit) {
        String message = assertRefused(api, () -> api.get("/v1/pull?limit=" + URLEncoder.encode(limit, StandardCharsets.UTF_8)),
                400, "INVALID_LIMIT");
        assertThat(message).contains("1000");
    }

    @ParameterizedTest(name = "count {0}")
    @ValueSource(strings = {"yes", "1", "TRUE", "", "true "})
    void anInvalidPullCountIsRefusedAndChangesNothing(String count) {
        String message = assertRefused(api, () -> api.get("/v1/pull?count=" + URLEncoder.encode(count, StandardCharsets.UTF_8)),
                400, "INVALID_REQUEST");
        assertThat(message).contains("count must be true or false");
    }

    @Test
    void pullLimitAtTheBoundsIsAccepted() {
        assertThat(api.get("/v1/pull?limit=1").statusCode()).isEqualTo(200);
        assertThat(api.get("/v1/pull?limit=1000").statusCode()).isEqualTo(200);
    }

    @Test
    void pullLimitAboveTheMaximumIsServedAsTheMaximum() {
        assertThat(api.get("/v1/pull?limit=1001").statusCode()).isEqualTo(200);
        assertThat(api.get("/v1/pull?limit=" + Integer.MAX_VALUE).statusCode()).isEqualTo(200);
    }

    // ---- unknown endpoints ----

    @ParameterizedTest(name = "GET {0}")
    @ValueSource(strings = {"/nope", "/v1/nope", "/v2/push", "/v1/pull/extra"})
    void unknownEndpointIsAnsweredWithJsonNotFound(String path) {
        String message = assertRefused(api, () -> api.get(path), 404, "NOT_FOUND");
        assertThat(message).contains(path);
    }

    @Test
    void wrongMethodIsAnsweredWithJsonError() {
        HttpResponse<String> response = api.get("/v1/push");
        assertThat(response.statusCode()).isIn(404, 405);
        assertErrorBody(response);
        assertNothingChangedAndStillServes(api, null);
    }

    // ---- op-level faults: that op is REJECTED, the rest of the batch applies ----

    @ParameterizedTest(name = "{0}")
    @MethodSource("opFaults")
    void faultyOpIsRejectedAloneWhileTheRestOfItsBatchApplies(String fault, UnaryOperator<ObjectNode> breakOp,
            String code, String named) {
        ObjectNode bad = breakOp.apply(createOp("bad", "n-bad"));
        String body = pushBody("d1", createOp("before", "n-before"), bad, createOp("after", "n-after"));

        HttpResponse<String> response = api.push(body);

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode results = resultsOf(response);
        assertThat(results).hasSize(3);
        assertThat(results.get(0).get("opId").asText()).isEqualTo("before");
        assertThat(results.get(0).get("status").asText()).isEqualTo("APPLIED");
        assertThat(results.get(1).get("opId").asText()).isEqualTo("bad");
        assertThat(results.get(1).get("status").asText()).isEqualTo("REJECTED");
        assertThat(results.get(1).has("version")).as("a rejected op has no version").isFalse();
        JsonNode error = results.get(1).get("error");
        assertThat(error.get("code").asText()).isEqualTo(code);
        assertPersonReadable(error.get("message").asText());
        assertThat(error.get("message").asText()).contains(named);
        assertThat(results.get(2).get("opId").asText()).isEqualTo("after");
        assertThat(results.get(2).get("status").asText()).isEqualTo("APPLIED");

        assertThat(api.changesSince(null)).extracting(change -> change.get("recordId").asText())
                .containsExactly("n-before", "n-after");

        HttpResponse<String> again = api.push(body);
        assertThat(again.statusCode()).isEqualTo(200);
        JsonNode repeated = resultsOf(again);
        assertThat(repeated).extracting(result -> result.get("status").asText())
                .containsExactly("DUPLICATE", "DUPLICATE", "DUPLICATE");
        assertThat(repeated.get(0).get("version").asLong()).isEqualTo(1);
        assertThat(repeated.get(1).get("error")).as("a re-sent rejected op repeats its error").isEqualTo(error);
        assertThat(api.changesSince(null)).as("nothing applied twice").hasSize(2);
    }

    static Stream<Arguments> opFaults() {
        return Stream.of(
                fault("unknown op type", op -> op.put("type", "UPSERT"), "UNKNOWN_OP_TYPE", "type"),
                fault("lower-case op type", op -> op.put("type", "create"), "UNKNOWN_OP_TYPE", "type"),
                fault("missing op type", op -> without(op, "type"), "UNKNOWN_OP_TYPE", "type"),
                fault("missing collection", op -> without(op, "collection"), "INVALID_OP", "collection"),
                fault("collection with a slash", op -> op.put("collection", "notes/x"), "INVALID_OP", "collection"),
                fault("collection starting with a dot", op -> op.put("collection", ".notes"), "INVALID_OP", "collection"),
                fault("collection with a space", op -> op.put("collection", "my notes"), "INVALID_OP", "collection"),
                fault("collection of 65 characters", op -> op.put("collection", "c".repeat(65)), "INVALID_OP", "collection"),
                fault("collection that is a number", op -> op.put("collection", 5), "INVALID_OP", "collection"),
                fault("missing recordId", op -> without(op, "recordId"), "INVALID_OP", "recordId"),
                fault("blank recordId", op -> op.put("recordId", "  "), "INVALID_OP", "recordId"),
                fault("recordId of 201 characters", op -> op.put("recordId", "r".repeat(201)), "INVALID_OP", "recordId"),
                fault("CREATE without data", op -> without(op, "data"), "INVALID_OP", "data"),
                fault("CREATE with array data", op -> op.set("data", JSON.arrayNode().add(1)), "INVALID_OP", "data"),
                fault("UPDATE with data that is not an object", op -> update(op, 1).put("data", "title=x"), "INVALID_OP", "data"),
                fault("UPDATE without data", op -> without(update(op, 1), "data"), "INVALID_OP", "data"),
                fault("UPDATE without baseVersion", op -> without(update(op, 1), "baseVersion"), "INVALID_OP", "baseVersion"),
                fault("DELETE without baseVersion", op -> without(delete(op, 1), "baseVersion"), "INVALID_OP", "baseVersion"),
                fault("negative baseVersion", op -> update(op, -1), "INVALID_OP", "baseVersion"),
                fault("fractional baseVersion", op -> update(op, 1).put("baseVersion", 1.5), "INVALID_OP", "baseVersion"),
                fault("baseVersion as text", op -> update(op, 1).put("baseVersion", "1"), "INVALID_OP", "baseVersion"),
                fault("baseVersion beyond a long", op -> update(op, 1).set("baseVersion",
                        JSON.numberNode(new BigInteger("99999999999999999999"))), "INVALID_OP", "baseVersion"),
                fault("DELETE with data", op -> delete(op, 1).set("data", JSON.objectNode().put("a", 1)), "INVALID_OP", "data"),
                fault("hlc with 16 digits of millis", op -> op.put("hlc", "0001700000000000-00000-d1"), "INVALID_OP", "hlc"),
                fault("hlc without node", op -> op.put("hlc", "1700000000000-00000-"), "INVALID_OP", "hlc"),
                fault("hlc that is a date", op -> op.put("hlc", "2024-01-01T00:00:00Z"), "INVALID_OP", "hlc"),
                fault("missing hlc", op -> without(op, "hlc"), "INVALID_OP", "hlc"),
                fault("hlc that is a number", op -> op.put("hlc", 1700000000000L), "INVALID_OP", "hlc"),
                fault("unknown priority", op -> op.put("priority", "URGENT"), "INVALID_OP", "priority"),
                fault("priority that is a number", op -> op.put("priority", 3), "INVALID_OP", "priority"),
                fault("record over maxRecordBytes", op -> op.set("data", JSON.objectNode().put("text", "x".repeat(MAX_RECORD_BYTES))),
                        "RECORD_TOO_LARGE", String.valueOf(MAX_RECORD_BYTES)),
                fault("UPDATE of a record that does not exist", op -> update(op, 1), "RECORD_NOT_FOUND", "notes/n-bad"),
                fault("DELETE of a record that does not exist", op -> delete(op, 1), "RECORD_NOT_FOUND", "notes/n-bad"));
    }

    @Test
    void resentRejectedOpIsAnsweredDuplicateWithItsFirstError() {
        ObjectNode bad = createOp("o1", "n1").put("priority", "URGENT");
        JsonNode first = resultsOf(api.push(pushBody("d1", bad))).get(0);
        assertThat(first.get("status").asText()).isEqualTo("REJECTED");

        JsonNode again = resultsOf(api.push(pushBody("d1", bad))).get(0);
        assertThat(again.get("status").asText()).isEqualTo("DUPLICATE");
        assertThat(again.get("opId").asText()).isEqualTo("o1");
        assertThat(again.get("error")).isEqualTo(first.get("error"));
        assertThat(again.has("version")).isFalse();

        JsonNode fixedButSameOpId = resultsOf(api.push(pushBody("d1", createOp("o1", "n1")))).get(0);
        assertThat(fixedButSameOpId.get("status").asText()).as("an op id keeps its first outcome").isEqualTo("DUPLICATE");
        assertThat(fixedButSameOpId.get("error")).isEqualTo(first.get("error"));
        assertThat(api.changesSince(null)).isEmpty();
    }

    @Test
    void hlcErrorMessageGivesAnExampleTheServerAccepts() {
        HttpResponse<String> response = api.push(pushBody("d1", createOp("o1", "n1").put("hlc", "yesterday")));
        String message = resultsOf(response).get(0).get("error").get("message").asText();

        Matcher example = Pattern.compile("such as (\\S+)").matcher(message);
        assertThat(example.find()).as("message names an example: %s", message).isTrue();
        assertThat(Hlc.isValid(example.group(1)))
                .as("the example in '%s' must itself be a valid hlc (13 digits of millis, 5 of counter, node)", message)
                .isTrue();
    }

    @Test
    void updateThatWouldGrowTheRecordPastMaxRecordBytesIsRejected() {
        String half = "x".repeat(MAX_RECORD_BYTES * 3 / 4);
        api.push(pushBody("d1", createOp("o1", "n1", JSON.objectNode().put("a", half))));

        ObjectNode patch = JSON.objectNode().put("b", half);
        HttpResponse<String> response = api.push(pushBody("d1", update(createOp("o2", "n1", patch), 1)));

        JsonNode result = resultsOf(response).get(0);
        assertThat(result.get("status").asText())
                .as("the record after the patch would be about %d bytes, over the limit of %d",
                        2 * half.length(), MAX_RECORD_BYTES)
                .isEqualTo("REJECTED");
        assertThat(result.get("error").get("code").asText()).isEqualTo("RECORD_TOO_LARGE");
    }

    // ---- helpers ----

    private static Arguments fault(String name, UnaryOperator<ObjectNode> breakOp, String code, String named) {
        return Arguments.of(name, breakOp, code, named);
    }

    private static ObjectNode without(ObjectNode op, String field) {
        op.remove(field);
        return op;
    }

    private static ObjectNode update(ObjectNode op, long baseVersion) {
        return op.put("type", "UPDATE").put("baseVersion", baseVersion);
    }

    private static ObjectNode delete(ObjectNode op, long baseVersion) {
        op.remove("data");
        return op.put("type", "DELETE").put("baseVersion", baseVersion);
    }

    private static ObjectNode createOp(String opId, String recordId) {
        return createOp(opId, recordId, JSON.objectNode().put("text", "hello"));
    }

    private static ObjectNode createOp(String opId, String recordId, ObjectNode data) {
        ObjectNode op = JSON.objectNode()
                .put("opId", opId)
                .put("collection", "notes")
                .put("recordId", recordId)
                .put("type", "CREATE");
        op.set("data", data);
        return op.put("hlc", HLC).put("priority", "NORMAL");
    }

    private static ObjectNode pushNode(String deviceId, ObjectNode... ops) {
        ObjectNode body = JSON.objectNode().put("deviceId", deviceId);
        ArrayNode array = body.putArray("ops");
        for (ObjectNode op : ops) {
            array.add(op);
        }
        return body;
    }

    private static String pushBody(String deviceId, ObjectNode... ops) {
        return pushNode(deviceId, ops).toString();
    }

    /** An object nested {@code levels} deep: {"a":{"a":...{"a":1}...}}. */
    private static String nested(int levels) {
        return "{\"a\":".repeat(levels - 1) + "{\"a\":1" + "}".repeat(levels);
    }

    private static int depthOf(String json) {
        int depth = 0;
        int max = 0;
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{' || c == '[') {
                max = Math.max(max, ++depth);
            } else if (c == '}' || c == ']') {
                depth--;
            }
        }
        return max;
    }


    private static JsonNode resultsOf(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return TestJson.parse(response.body()).get("results");
    }

    private static JsonNode errorOf(HttpResponse<String> response) {
        return TestJson.parse(response.body());
    }

    /** Checks the body is {"code","message"} JSON with a readable message, and returns it. */
    private static JsonNode assertErrorBody(HttpResponse<String> response) {
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/json"));
        JsonNode body = TestJson.parse(response.body());
        assertThat(body.isObject()).as(response.body()).isTrue();
        assertThat(body.get("code")).as("code in %s", response.body()).isNotNull();
        assertThat(body.get("code").isTextual()).isTrue();
        assertThat(body.get("code").asText()).matches("[A-Z][A-Z0-9_]*");
        assertThat(body.get("message")).as("message in %s", response.body()).isNotNull();
        assertPersonReadable(body.get("message").asText());
        return body;
    }

    private static void assertPersonReadable(String message) {
        assertThat(message).isNotBlank()
                .contains(" ")
                .hasSizeGreaterThan(15)
                .doesNotContain("Exception")
                .doesNotContain("\tat ")
                .doesNotContain("dev.outpost.");
    }

    /**
     * Sends a bad request, checks its status, code and readable message, then checks nothing
     * changed and the server still serves. Returns the message.
     */
    private String assertRefused(Api target, Supplier<HttpResponse<String>> request, int status, String code) {
        String before = target.cursor();
        HttpResponse<String> response = request.get();
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        JsonNode error = assertErrorBody(response);
        assertThat(error.get("code").asText()).as(response.body()).isEqualTo(code);
        assertNothingChangedAndStillServes(target, before);
        return error.get("message").asText();
    }

    /** No change after {@code cursor}; then a valid push applies and is the only new change. */
    private void assertNothingChangedAndStillServes(Api target, String cursor) {
        assertThat(target.changesSince(cursor)).as("changes after the refused request").isEmpty();
        String recordId = "probe-" + (++probes);
        HttpResponse<String> response = target.push(pushBody("d-probe", createOp("probe-op-" + probes, recordId)));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(resultsOf(response).get(0).get("status").asText()).isEqualTo("APPLIED");
        assertThat(target.changesSince(cursor)).extracting(change -> change.get("recordId").asText())
                .containsExactly(recordId);
    }

    /** The op of a refused push was not recorded: sent now it applies, not DUPLICATE. */
    private void assertValidOpWasNotRecorded(String deviceId, ObjectNode op) {
        assertValidOpWasNotRecorded(api, deviceId, op);
    }

    private static void assertValidOpWasNotRecorded(Api target, String deviceId, ObjectNode op) {
        HttpResponse<String> response = target.push(pushBody(deviceId, op));
        JsonNode result = resultsOf(response).get(0);
        assertThat(result.get("status").asText()).isEqualTo("APPLIED");
        assertThat(result.get("version").asLong()).isEqualTo(1);
    }

    private Api start(String dir, Consumer<OutpostServer.Builder> configure) {
        OutpostServer.Builder builder = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp.resolve(dir))
                .databaseUrl(TestDatabases.freshUrl());
        configure.accept(builder);
        OutpostServer server = builder.build().start();
        servers.add(server);
        return new Api(server, "alice");
    }

    /** Requests to one server as one user. */
    private final class Api {
        private final OutpostServer server;
        private final String token;

        Api(OutpostServer server, String user) {
            this.server = server;
            this.token = server.tokens().issue(user, Duration.ofHours(1));
        }

        Api as(String user) {
            return new Api(server, user);
        }

        HttpResponse<String> push(String body) {
            return push(BodyPublishers.ofString(body));
        }

        HttpResponse<String> push(BodyPublisher body) {
            return send(request("/v1/push").header("Content-Type", "application/json").POST(body));
        }

        HttpResponse<String> get(String pathAndQuery) {
            return send(request(pathAndQuery).GET());
        }

        /** The cursor after every change this user can see now. */
        String cursor() {
            String cursor = null;
            while (true) {
                JsonNode page = pull(cursor);
                cursor = page.get("cursor").asText();
                if (!page.get("hasMore").asBoolean()) {
                    return cursor;
                }
            }
        }

        List<JsonNode> changesSince(String cursor) {
            List<JsonNode> changes = new ArrayList<>();
            while (true) {
                JsonNode page = pull(cursor);
                page.get("changes").forEach(changes::add);
                cursor = page.get("cursor").asText();
                if (!page.get("hasMore").asBoolean()) {
                    return changes;
                }
            }
        }

        private JsonNode pull(String cursor) {
            HttpResponse<String> response = get("/v1/pull" + (cursor == null ? "" : "?cursor=" + cursor));
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            return TestJson.parse(response.body());
        }

        private HttpRequest.Builder request(String pathAndQuery) {
            return HttpRequest.newBuilder(URI.create(server.url() + pathAndQuery))
                    .timeout(Duration.ofSeconds(10))
                    .header("Authorization", "Bearer " + token);
        }

        private HttpResponse<String> send(HttpRequest.Builder request) {
            return TestHttp.send(http, request);
        }
    }
}
