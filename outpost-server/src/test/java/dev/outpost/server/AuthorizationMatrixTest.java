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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.url() + path)).header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode json(HttpResponse<String> response) {
        try {
            return Wire.tree(response.body().getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
