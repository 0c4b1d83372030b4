package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The MANUAL policy: the server keeps its record, stores the conflict, and a person settles it. */
class ManualConflictTest {
    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();
    private TestServer server;
    private Outpost phone;
    private Outpost laptop;

    @BeforeEach
    void conflict() throws Exception {
        server = TestServer.start(builder -> builder.conflictPolicy("notes", ConflictPolicy.MANUAL));
        phone = device("phone");
        laptop = device("laptop");
        phone.put("notes", "n1", "{\"t\":\"start\",\"keep\":1}");
        phone.sync();
        laptop.sync();
        phone.update("notes", "n1", "{\"t\":\"phone\"}");
        laptop.update("notes", "n1", "{\"t\":\"laptop\"}");
        phone.sync();
        assertThat(laptop.sync().conflicts()).isEqualTo(1);
    }

    @AfterEach
    void stop() {
        phone.close();
        laptop.close();
        server.close();
    }

    private Outpost device(String name) throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name + ".db")).serverUrl(server.url())
                .clock(new FakeClock()).tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
    }

    private HttpResponse<String> send(String method, String path, String body, String user) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.url() + path)).timeout(Duration.ofSeconds(5));
        if (user != null) {
            request.header("Authorization", "Bearer " + server.token(user));
        }
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private JsonNode openConflicts(String user) throws Exception {
        HttpResponse<String> response = send("GET", "/v1/conflicts", null, user);
        assertThat(response.statusCode()).isEqualTo(200);
        return Wire.mapper().readTree(response.body()).get("conflicts");
    }

    private String theConflictId() throws Exception {
        return openConflicts("ann").get(0).get("id").asText();
    }

    private void syncBoth() throws OutpostException {
        phone.sync();
        laptop.sync();
    }

    @Test
    void theServerKeepsItsRecordAndListsTheConflictWithBaseLocalAndRemote() throws Exception {
        JsonNode conflicts = openConflicts("ann");
        assertThat(conflicts).hasSize(1);
        JsonNode conflict = conflicts.get(0);
        assertThat(conflict.get("recordId").asText()).isEqualTo("n1");
        assertThat(conflict.get("status").asText()).isEqualTo("OPEN");
        assertThat(conflict.get("base").get("data")).isEqualTo(Wire.object("{\"t\":\"start\",\"keep\":1}"));
        assertThat(conflict.get("local").get("data")).isEqualTo(Wire.object("{\"t\":\"laptop\"}"));
        assertThat(conflict.get("remote").get("data")).isEqualTo(Wire.object("{\"t\":\"phone\",\"keep\":1}"));
        assertThat(server.records("ann").get("notes/n1").get("t").asText()).isEqualTo("phone");
        assertThat(openConflicts("bob")).as("another user sees none of it").isEmpty();
    }

    @Test
    void resolvingForTheClientAppliesTheDevicesChangeEverywhere() throws Exception {
        HttpResponse<String> resolved = send("POST", "/v1/conflicts/" + theConflictId() + "/resolve",
                "{\"choice\":\"CLIENT\"}", "ann");
        assertThat(resolved.statusCode()).as(resolved.body()).isEqualTo(200);
        JsonNode answer = Wire.mapper().readTree(resolved.body());
        assertThat(answer.get("conflict").get("resolution").asText()).isEqualTo("CLIENT");
        assertThat(answer.get("record").get("data")).isEqualTo(Wire.object("{\"t\":\"laptop\",\"keep\":1}"));

        syncBoth();
        assertThat(phone.get("notes", "n1").orElseThrow().data()).isEqualTo(Wire.object("{\"t\":\"laptop\",\"keep\":1}"));
        assertThat(laptop.get("notes", "n1").orElseThrow().data()).isEqualTo(server.records("ann").get("notes/n1"));
        assertThat(openConflicts("ann")).isEmpty();
    }

    @Test
    void resolvingWithMergedDataWritesItAndResolvingForTheServerChangesNothing() throws Exception {
        String id = theConflictId();
        HttpResponse<String> merged = send("POST", "/v1/conflicts/" + id + "/resolve",
                "{\"choice\":\"MERGED\",\"data\":{\"t\":\"phone and laptop\",\"keep\":1}}", "ann");
        assertThat(merged.statusCode()).as(merged.body()).isEqualTo(200);
        syncBoth();
        assertThat(phone.get("notes", "n1").orElseThrow().data().get("t").asText()).isEqualTo("phone and laptop");
        assertThat(laptop.get("notes", "n1").orElseThrow().data().get("t").asText()).isEqualTo("phone and laptop");

        HttpResponse<String> again = send("POST", "/v1/conflicts/" + id + "/resolve", "{\"choice\":\"SERVER\"}", "ann");
        assertThat(again.statusCode()).isEqualTo(409);
        assertThat(again.body()).contains("CONFLICT_ALREADY_RESOLVED");
    }

    @Test
    void resolvingForTheServerKeepsItsRecord() throws Exception {
        int changes = server.changes("ann").size();
        HttpResponse<String> resolved = send("POST", "/v1/conflicts/" + theConflictId() + "/resolve",
                "{\"choice\":\"SERVER\"}", "ann");
        assertThat(resolved.statusCode()).isEqualTo(200);
        assertThat(server.changes("ann")).as("no new version").hasSize(changes);
        assertThat(openConflicts("ann")).isEmpty();
    }

    @Test
    void badResolutionsAreRefusedWithClearErrorsAndChangeNothing() throws Exception {
        String id = theConflictId();
        String path = "/v1/conflicts/" + id + "/resolve";
        assertThat(send("POST", "/v1/conflicts/no-such-id/resolve", "{\"choice\":\"SERVER\"}", "ann").statusCode()).isEqualTo(404);
        HttpResponse<String> foreign = send("POST", path, "{\"choice\":\"CLIENT\"}", "bob");
        assertThat(foreign.statusCode()).as("another user's conflict").isEqualTo(404);
        assertThat(foreign.body()).contains("CONFLICT_NOT_FOUND").doesNotContain("laptop");
        assertThat(send("POST", path, "{\"choice\":\"MAYBE\"}", "ann").body()).contains("INVALID_REQUEST").contains("MAYBE");
        assertThat(send("POST", path, "{\"choice\":\"MERGED\"}", "ann").body()).contains("data is required");
        assertThat(send("POST", path, "{\"choice\":\"MERGED\",\"data\":[1]}", "ann").statusCode()).isEqualTo(400);
        assertThat(send("POST", path, "{\"choice\":\"SERVER\",\"data\":{\"a\":1}}", "ann").body()).contains("only for choice MERGED");
        assertThat(send("POST", path, "{\"choice\":", "ann").body()).contains("MALFORMED_JSON");
        assertThat(send("POST", path, "{\"choice\":\"CLIENT\"}", null).statusCode()).isEqualTo(401);
        assertThat(send("GET", "/v1/conflicts", null, null).statusCode()).isEqualTo(401);

        assertThat(openConflicts("ann")).hasSize(1);
        assertThat(server.records("ann").get("notes/n1").get("t").asText()).isEqualTo("phone");
    }
}
