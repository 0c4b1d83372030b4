package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.Wire;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every endpoint with user A's token against what belongs to B: B's records, B's device, B's
 * conflicts and a scope granted only to B. Each answer is 403 or 404 (or an op-level refusal)
 * and carries none of B's data; B's data is unchanged afterwards.
 */
class AuthorizationMatrixTest {
    private static final String HLC = "1700000000000-00000-device";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private OutpostServer server;
    private String bob;
    private String alice;
    private String bobsConflict;

    @BeforeEach
    void bobHasRecordsADeviceAConflictAndAScope() {
        server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).databaseUrl(TestDatabases.freshUrl())
                .conflictPolicy("reviews", ConflictPolicy.MANUAL).build().start();
        bob = server.tokens().issue("bob", Duration.ofHours(1), Map.of("bob-team", ScopeAccess.READ_WRITE));
        alice = server.tokens().issue("alice", Duration.ofHours(1));
        push(bob, "bob-phone", create("b1", "notes", "bob's secret", null), create("r1", "reviews", "bob's review", null),
                create("t1", "notes", "bob's team plan", "bob-team"));
        push(bob, "bob-phone", update("r1", "reviews", 1, "first"));
        push(bob, "bob-laptop", update("r1", "reviews", 1, "stale"));
        JsonNode conflicts = json(send("GET", "/v1/conflicts", bob, null)).get("conflicts");
        assertThat(conflicts).hasSize(1);
        bobsConflict = conflicts.get(0).get("id").asText();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void pushWithBobsDeviceIsForbiddenAndAppliesNothing() {
        HttpResponse<String> response = send("POST", "/v1/push", alice,
                body("bob-phone", create("a1", "notes", "alice's", null)));

        assertThat(response.statusCode()).isEqualTo(403);
        assertThat(response.body()).contains("DEVICE_NOT_OWNED").doesNotContain("bob's");
        assertThat(pulled(alice)).isEmpty();
    }

    @Test
    void writingBobsRecordIdsReachesOnlyAlicesOwnScope() {
        JsonNode results = json(send("POST", "/v1/push", alice, body("alice-phone", update("b1", "notes", 1, "overwritten"),
                "{\"opId\":\"d-" + System.nanoTime() + "\",\"collection\":\"notes\",\"recordId\":\"b1\",\"type\":\"DELETE\","
                        + "\"baseVersion\":1,\"hlc\":\"" + HLC + "\"}"))).get("results");

        assertThat(results.get(0).get("error").get("code").asText()).isEqualTo("RECORD_NOT_FOUND");
        assertThat(results.get(1).get("error").get("code").asText()).isEqualTo("RECORD_NOT_FOUND");
        assertThat(results.toString()).doesNotContain("bob's");
        assertThat(pulled(bob)).contains("bob's secret").doesNotContain("overwritten");
    }

    @Test
    void writingAScopeGrantedOnlyToBobIsRefusedPerOp() {
        JsonNode result = json(send("POST", "/v1/push", alice, body("alice-phone",
                update("t1", "notes", 1, "hijacked", "bob-team")))).get("results").get(0);

        assertThat(result.get("status").asText()).isEqualTo("REJECTED");
        assertThat(result.get("error").get("code").asText()).isEqualTo("SCOPE_NOT_GRANTED");
        assertThat(pulled(bob)).contains("bob's team plan").doesNotContain("hijacked");
    }

    @Test
    void pullReturnsNoneOfBobsRecordsNorHisScope() {
        HttpResponse<String> response = send("GET", "/v1/pull", alice, null);

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(json(response).get("changes")).isEmpty();
    }

    @Test
    void bobsConflictsAreNeitherListedNorSettledForAlice() {
        HttpResponse<String> listed = send("GET", "/v1/conflicts", alice, null);
        HttpResponse<String> settled = send("POST", "/v1/conflicts/" + bobsConflict + "/resolve", alice, "{\"choice\":\"CLIENT\"}");

        assertThat(json(listed).get("conflicts")).isEmpty();
        assertThat(settled.statusCode()).isEqualTo(404);
        assertThat(settled.body()).contains("CONFLICT_NOT_FOUND").doesNotContain("bob's");
        assertThat(json(send("GET", "/v1/conflicts", bob, null)).get("conflicts")).hasSize(1);
    }

    @Test
    void theAuditOfBobsDeviceIsNotFoundForAlice() {
        HttpResponse<String> response = send("GET", "/v1/devices/bob-phone/operations", alice, null);

        assertThat(response.statusCode()).isEqualTo(404);
        assertThat(response.body()).contains("DEVICE_NOT_FOUND").doesNotContain("bob's");
    }

    @Test
    void aReadGrantOnBobsScopeShowsThatScopeAloneAndNoConflictsToSettle() {
        String reader = server.tokens().issue("alice", Duration.ofHours(1), Map.of("bob-team", ScopeAccess.READ));

        String changes = pulled(reader);
        HttpResponse<String> settled = send("POST", "/v1/conflicts/" + bobsConflict + "/resolve", reader, "{\"choice\":\"SERVER\"}");

        assertThat(changes).contains("bob's team plan").doesNotContain("bob's secret").doesNotContain("bob's review");
        assertThat(settled.statusCode()).isEqualTo(404);
    }

    @Test
    void everyEndpointWithoutAValidTokenIsUnauthorized() {
        for (String[] call : new String[][] {{"POST", "/v1/push"}, {"GET", "/v1/pull"}, {"GET", "/v1/conflicts"},
                {"POST", "/v1/conflicts/" + bobsConflict + "/resolve"}, {"GET", "/v1/devices/bob-phone/operations"}}) {
            HttpResponse<String> response = send(call[0], call[1], "not-a-token", call[0].equals("POST") ? "{}" : null);
            assertThat(response.statusCode()).as(call[0] + " " + call[1]).isEqualTo(401);
            assertThat(response.body()).doesNotContain("bob's");
        }
    }

    /**
     * Each endpoint with each way alice may reach for what is bob's: his record ids in her own
     * writes, his device, his conflicts (in his own scope and in a shared scope she may only
     * read), his device's audit. {@code outcome} is what she gets (see {@link #outcome}); in
     * every case the answer holds none of bob's data and bob's records and open conflicts are
     * as they were.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("misuses")
    void aliceReachingForWhatIsBobsGetsNoneOfItAndChangesNothing(String misuse, String method, String path, String body,
            boolean withReadGrant, String outcome) {
        String teamConflict = bobHasAConflictInHisTeamScope();
        String bobsRecords = pulled(bob);
        String bobsConflicts = json(send("GET", "/v1/conflicts", bob, null)).get("conflicts").toString();
        String token = withReadGrant ? server.tokens().issue("alice", Duration.ofHours(1), Map.of("bob-team", ScopeAccess.READ)) : alice;

        HttpResponse<String> response = send(method, path.replace("{own}", bobsConflict).replace("{team}", teamConflict), token,
                body);

        assertThat(outcome(path, response)).as(response.body()).isEqualTo(outcome);
        assertThat(response.body()).doesNotContain("bob's");
        if (!withReadGrant) {
            assertThat(pulled(token)).doesNotContain("bob's");
        }
        assertThat(pulled(bob)).as("bob's records").isEqualTo(bobsRecords);
        assertThat(json(send("GET", "/v1/conflicts", bob, null)).get("conflicts").toString()).as("bob's open conflicts")
                .isEqualTo(bobsConflicts);
    }

    static Stream<Arguments> misuses() {
        String aliceDevice = "alice-phone";
        return Stream.of(
                misuse("CREATE with bob's record id makes alice's own record", "POST", "/v1/push",
                        body(aliceDevice, create("b1", "notes", "alice's", null)), false, "200 APPLIED"),
                misuse("CREATE with bob's conflicted record id makes alice's own record", "POST", "/v1/push",
                        body(aliceDevice, create("r1", "reviews", "alice's", null)), false, "200 APPLIED"),
                misuse("UPDATE of bob's record id", "POST", "/v1/push",
                        body(aliceDevice, update("b1", "notes", 1, "overwritten")), false, "200 REJECTED:RECORD_NOT_FOUND"),
                misuse("UPDATE of bob's record id at a later version", "POST", "/v1/push",
                        body(aliceDevice, update("r1", "reviews", 2, "overwritten")), false, "200 REJECTED:RECORD_NOT_FOUND"),
                misuse("DELETE of bob's record id", "POST", "/v1/push", body(aliceDevice, delete("b1", "notes", 1, null)), false,
                        "200 REJECTED:RECORD_NOT_FOUND"),
                misuse("CREATE in bob's scope, not granted", "POST", "/v1/push",
                        body(aliceDevice, create("t9", "notes", "planted", "bob-team")), false, "200 REJECTED:SCOPE_NOT_GRANTED"),
                misuse("CREATE in bob's scope, granted to read", "POST", "/v1/push",
                        body(aliceDevice, create("t9", "notes", "planted", "bob-team")), true, "200 REJECTED:SCOPE_READ_ONLY"),
                misuse("CREATE over bob's record in his scope, granted to read", "POST", "/v1/push",
                        body(aliceDevice, create("t1", "notes", "planted", "bob-team")), true, "200 REJECTED:SCOPE_READ_ONLY"),
                misuse("UPDATE in bob's scope, granted to read", "POST", "/v1/push",
                        body(aliceDevice, update("t1", "notes", 1, "hijacked", "bob-team")), true, "200 REJECTED:SCOPE_READ_ONLY"),
                misuse("DELETE in bob's scope, granted to read", "POST", "/v1/push",
                        body(aliceDevice, delete("t1", "notes", 1, "bob-team")), true, "200 REJECTED:SCOPE_READ_ONLY"),
                misuse("DELETE in bob's scope, not granted", "POST", "/v1/push",
                        body(aliceDevice, delete("t1", "notes", 1, "bob-team")), false, "200 REJECTED:SCOPE_NOT_GRANTED"),
                misuse("push with bob's device", "POST", "/v1/push", body("bob-phone", create("a1", "notes", "alice's", null)), false,
                        "403 DEVICE_NOT_OWNED"),
                misuse("push with bob's device, granted bob's scope to read", "POST", "/v1/push",
                        body("bob-laptop", create("a1", "notes", "alice's", null)), true, "403 DEVICE_NOT_OWNED"),
                misuse("list conflicts", "GET", "/v1/conflicts", null, false, "200 conflicts=0"),
                misuse("list conflicts, granted bob's scope to read", "GET", "/v1/conflicts", null, true, "200 conflicts=0"),
                misuse("settle bob's own conflict", "POST", "/v1/conflicts/{own}/resolve", "{\"choice\":\"CLIENT\"}", false,
                        "404 CONFLICT_NOT_FOUND"),
                misuse("settle bob's team conflict, not granted", "POST", "/v1/conflicts/{team}/resolve", "{\"choice\":\"CLIENT\"}",
                        false, "404 CONFLICT_NOT_FOUND"),
                misuse("settle bob's team conflict as SERVER, granted to read", "POST", "/v1/conflicts/{team}/resolve",
                        "{\"choice\":\"SERVER\"}", true, "404 CONFLICT_NOT_FOUND"),
                misuse("settle bob's team conflict as CLIENT, granted to read", "POST", "/v1/conflicts/{team}/resolve",
                        "{\"choice\":\"CLIENT\"}", true, "404 CONFLICT_NOT_FOUND"),
                misuse("settle bob's team conflict as MERGED, granted to read", "POST", "/v1/conflicts/{team}/resolve",
                        "{\"choice\":\"MERGED\",\"data\":{\"text\":\"hijacked\"}}", true, "404 CONFLICT_NOT_FOUND"),
                misuse("audit of bob's device", "GET", "/v1/devices/bob-phone/operations", null, false, "404 DEVICE_NOT_FOUND"),
                misuse("audit of bob's device, filtered and paged", "GET", "/v1/devices/bob-laptop/operations?status=CONFLICT&limit=5&offset=0",
                        null, false, "404 DEVICE_NOT_FOUND"),
                misuse("audit of bob's device, granted bob's scope to read", "GET", "/v1/devices/bob-phone/operations", null, true,
                        "404 DEVICE_NOT_FOUND"),
                misuse("audit of a device no one has used", "GET", "/v1/devices/nobodys-phone/operations", null, false,
                        "404 DEVICE_NOT_FOUND"),
                misuse("pull", "GET", "/v1/pull", null, false, "200 changes=0"));
    }

    @Test
    void bobsDeviceAnswersAliceExactlyAsADeviceNoOneHasUsed() {
        HttpResponse<String> bobs = send("GET", "/v1/devices/bob-phone/operations", alice, null);
        HttpResponse<String> nobodys = send("GET", "/v1/devices/nobodys-phone/operations", alice, null);

        assertThat(bobs.statusCode()).isEqualTo(nobodys.statusCode());
        assertThat(bobs.body().replace("bob-phone", "X")).isEqualTo(nobodys.body().replace("nobodys-phone", "X"));
    }

    @Test
    void healthAndMetricsAnswerWithoutATokenAndTellNothingOfAnyUser() {
        push(alice, "alice-phone", create("a1", "notes", "alice's", null));

        for (String path : new String[] {"/health", "/metrics"}) {
            HttpResponse<String> response = sendWithoutToken(path);
            assertThat(response.statusCode()).as(path).isEqualTo(200);
            assertThat(response.body()).as(path).doesNotContain("bob").doesNotContain("alice").doesNotContain("phone")
                    .doesNotContain("notes").doesNotContain("reviews").doesNotContain("team");
        }
    }

    /** What alice got: the status and code of a refusal, or of an answer its ops' outcomes or its list's length. */
    private static String outcome(String path, HttpResponse<String> response) {
        JsonNode body = json(response);
        if (response.statusCode() != 200) {
            return response.statusCode() + " " + body.get("code").asText();
        }
        if (path.equals("/v1/push")) {
            StringBuilder outcomes = new StringBuilder("200");
            for (JsonNode result : body.get("results")) {
                outcomes.append(' ').append(result.get("status").asText());
                if (result.has("error")) {
                    outcomes.append(':').append(result.get("error").get("code").asText());
                }
            }
            return outcomes.toString();
        }
        String list = body.fieldNames().next();
        return "200 " + list + "=" + body.get(list).size();
    }

    /** Bob's stale update of his team's review: an open conflict in the shared scope; its id. */
    private String bobHasAConflictInHisTeamScope() {
        push(bob, "bob-phone", create("tr1", "reviews", "bob's team review", "bob-team"));
        push(bob, "bob-phone", update("tr1", "reviews", 1, "bob's first", "bob-team"));
        push(bob, "bob-laptop", update("tr1", "reviews", 1, "bob's stale", "bob-team"));
        for (JsonNode conflict : json(send("GET", "/v1/conflicts", bob, null)).get("conflicts")) {
            if (conflict.get("recordId").asText().equals("tr1")) {
                return conflict.get("id").asText();
            }
        }
        throw new AssertionError("bob has no conflict on his team's review");
    }

    private static Arguments misuse(String name, String method, String path, String body, boolean withReadGrant, String outcome) {
        return Arguments.of(name, method, path, body, withReadGrant, outcome);
    }

    private static String delete(String id, String collection, long base, String scope) {
        return "{\"opId\":\"d-" + id + "-" + System.nanoTime() + "\",\"collection\":\"" + collection + "\",\"recordId\":\"" + id
                + "\",\"type\":\"DELETE\",\"baseVersion\":" + base + ",\"hlc\":\"" + HLC + "\""
                + (scope == null ? "" : ",\"scope\":\"" + scope + "\"") + "}";
    }

    private HttpResponse<String> sendWithoutToken(String path) {
        try {
            return http.send(HttpRequest.newBuilder(URI.create(server.url() + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static String create(String id, String collection, String text, String scope) {
        return "{\"opId\":\"c-" + id + "-" + System.nanoTime() + "\",\"collection\":\"" + collection + "\",\"recordId\":\"" + id
                + "\",\"type\":\"CREATE\",\"data\":{\"text\":\"" + text + "\"},\"hlc\":\"" + HLC + "\""
                + (scope == null ? "" : ",\"scope\":\"" + scope + "\"") + "}";
    }

    private static String update(String id, String collection, long base, String text) {
        return update(id, collection, base, text, null);
    }

    private static String update(String id, String collection, long base, String text, String scope) {
        return "{\"opId\":\"u-" + id + "-" + System.nanoTime() + "\",\"collection\":\"" + collection + "\",\"recordId\":\"" + id
                + "\",\"type\":\"UPDATE\",\"baseVersion\":" + base + ",\"data\":{\"text\":\"" + text + "\"},\"hlc\":\"" + HLC + "\""
                + (scope == null ? "" : ",\"scope\":\"" + scope + "\"") + "}";
    }

    private static String body(String device, String... ops) {
        return "{\"deviceId\":\"" + device + "\",\"ops\":[" + String.join(",", ops) + "]}";
    }

    private void push(String token, String device, String... ops) {
        HttpResponse<String> response = send("POST", "/v1/push", token, body(device, ops));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }

    private String pulled(String token) {
        HttpResponse<String> response = send("GET", "/v1/pull?limit=1000", token, null);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode changes = json(response).get("changes");
        return changes.isEmpty() ? "" : changes.toString();
    }

    private HttpResponse<String> send(String method, String path, String token, String body) {
        return TestHttp.send(http, server.url(), method, path, token, body);
    }

    private static JsonNode json(HttpResponse<String> response) {
        try {
            return Wire.tree(response.body().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
