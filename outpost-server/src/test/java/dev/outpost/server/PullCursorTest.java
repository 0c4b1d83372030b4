package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.testdb.TestDatabases;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promises 6 and 7 for the pull cursor: it is bound to the user and the readable scopes it was
 * made for, so that a cursor never passes over changes its holder now may read (a scope
 * granted since, a cursor of another user's store) and never stands past the change log (a
 * database put back to an earlier state); on the run's store, SQLite or PostgreSQL.
 */
class PullCursorTest {
    private static final String SECRET = Base64.getEncoder().encodeToString(
            "a secret shared by the servers of this test, 32+ bytes".getBytes(StandardCharsets.US_ASCII));

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private final List<OutpostServer> servers = new ArrayList<>();
    private int ops;

    @AfterEach
    void stop() {
        servers.forEach(OutpostServer::close);
    }

    private OutpostServer server(String dir) {
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp.resolve(dir))
                .databaseUrl(TestDatabases.freshUrl()).tokenSecret(SECRET).build().start();
        servers.add(server);
        return server;
    }

    @Test
    void aScopeGrantedAfterTheCursorWasMadeIsAnsweredScopesChangedAndAPullFromTheStartGetsItsEarlierChanges() {
        OutpostServer server = server("a");
        String ann = server.tokens().issue("ann", Duration.ofHours(1), Map.of("team", ScopeAccess.READ_WRITE));
        String bobBefore = server.tokens().issue("bob", Duration.ofHours(1));
        String bobAfter = server.tokens().issue("bob", Duration.ofHours(1), Map.of("team", ScopeAccess.READ));
        push(server, ann, "ann-phone", "projects", "p1", "team");
        push(server, bobBefore, "bob-phone", "notes", "n1", null);
        JsonNode passedOver = ok(pull(server, bobBefore, null));
        assertThat(recordIds(passedOver)).containsExactly("n1");

        JsonNode refused = json(pull(server, bobAfter, passedOver.get("cursor").asText()), 409);
        JsonNode fromStart = ok(pull(server, bobAfter, null));

        assertThat(refused.get("code").asText()).isEqualTo("CURSOR_SCOPES_CHANGED");
        assertThat(refused.get("message").asText()).contains("without a cursor");
        assertThat(recordIds(fromStart)).containsExactly("p1", "n1");
        assertThat(ok(pull(server, bobAfter, fromStart.get("cursor").asText())).get("changes")).isEmpty();
    }

    @Test
    void aCursorReadsOnWhenOnlyAScopesAccessChangesAndIsRefusedWhenAScopeIsTakenAway() {
        OutpostServer server = server("a");
        String reader = server.tokens().issue("bob", Duration.ofHours(1), Map.of("team", ScopeAccess.READ));
        String writer = server.tokens().issue("bob", Duration.ofHours(1), Map.of("team", ScopeAccess.READ_WRITE));
        String own = server.tokens().issue("bob", Duration.ofHours(1));
        push(server, own, "bob-phone", "notes", "n1", null);
        String cursor = ok(pull(server, reader, null)).get("cursor").asText();

        assertThat(pull(server, writer, cursor).statusCode()).as("the same scopes readable").isEqualTo(200);
        assertThat(json(pull(server, own, cursor), 409).get("code").asText()).isEqualTo("CURSOR_SCOPES_CHANGED");
    }

    @Test
    void anotherUsersCursorIsAnsweredOtherUserAndReadsNothing() {
        OutpostServer server = server("a");
        String ann = server.tokens().issue("ann", Duration.ofHours(1));
        String bob = server.tokens().issue("bob", Duration.ofHours(1));
        push(server, ann, "ann-phone", "notes", "a1", null);
        String annsCursor = ok(pull(server, ann, null)).get("cursor").asText();

        JsonNode refused = json(pull(server, bob, annsCursor), 409);

        assertThat(refused.get("code").asText()).isEqualTo("CURSOR_OTHER_USER");
        assertThat(refused.get("message").asText()).contains("another user");
        assertThat(refused.has("changes")).isFalse();
    }

    @Test
    void aCursorPastTheChangeLogOfADatabasePutBackToAnEarlierStateIsAnsweredAheadOfLog() {
        OutpostServer before = server("a");
        String bob = before.tokens().issue("bob", Duration.ofHours(1));
        for (int i = 0; i < 3; i++) {
            push(before, bob, "bob-phone", "notes", "n" + i, null);
        }
        String cursor = ok(pull(before, bob, null)).get("cursor").asText();
        // The database put back to a backup holding one change: the next change is numbered 2 again.
        OutpostServer restored = server("b");
        push(restored, bob, "bob-phone", "notes", "n0", null);

        JsonNode refused = json(pull(restored, bob, cursor), 409);
        JsonNode fromStart = ok(pull(restored, bob, null));

        assertThat(refused.get("code").asText()).isEqualTo("CURSOR_AHEAD_OF_LOG");
        assertThat(refused.get("message").asText()).contains("change 1").contains("without a cursor");
        assertThat(recordIds(fromStart)).containsExactly("n0");
        assertThat(ok(pull(restored, bob, fromStart.get("cursor").asText())).get("changes"))
                .as("a cursor at the log's last change reads on").isEmpty();
    }

    @Test
    void aCursorOfTheFirstFormIsStillReadAndAnsweredWithABoundOne() {
        OutpostServer server = server("a");
        String bob = server.tokens().issue("bob", Duration.ofHours(1));
        for (int i = 0; i < 3; i++) {
            push(server, bob, "bob-phone", "notes", "n" + i, null);
        }
        String first = Base64.getUrlEncoder().withoutPadding().encodeToString("c1:1".getBytes(StandardCharsets.UTF_8));

        JsonNode page = ok(pull(server, bob, first));

        assertThat(recordIds(page)).containsExactly("n1", "n2");
        String next = new String(Base64.getUrlDecoder().decode(page.get("cursor").asText()), StandardCharsets.UTF_8);
        assertThat(next).matches("c2:3:[0-9a-f]{16}:[0-9a-f]{16}");
    }

    private void push(OutpostServer server, String token, String device, String collection, String id, String scope) {
        String op = "{\"opId\":\"op-" + (++ops) + "\",\"collection\":\"" + collection + "\",\"recordId\":\"" + id
                + "\",\"type\":\"CREATE\",\"data\":{\"n\":" + ops + "},\"hlc\":\"1700000000000-00000-" + device + "\""
                + (scope == null ? "" : ",\"scope\":\"" + scope + "\"") + "}";
        HttpResponse<String> response = TestHttp.send(http, server.url(), "POST", "/v1/push", token,
                "{\"deviceId\":\"" + device + "\",\"ops\":[" + op + "]}");
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(TestJson.parse(response.body()).get("results").get(0).get("status").asText()).isEqualTo("APPLIED");
    }

    private HttpResponse<String> pull(OutpostServer server, String token, String cursor) {
        return TestHttp.send(http, server.url(), "GET", "/v1/pull"
                + (cursor == null ? "" : "?cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8)), token, null);
    }

    private static JsonNode ok(HttpResponse<String> response) {
        return json(response, 200);
    }

    private static JsonNode json(HttpResponse<String> response, int status) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(status);
        return TestJson.parse(response.body());
    }

    private static List<String> recordIds(JsonNode page) {
        List<String> ids = new ArrayList<>();
        page.get("changes").forEach(change -> ids.add(change.get("recordId").asText()));
        return ids;
    }
}
