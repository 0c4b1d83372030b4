package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.outpost.testdb.TestDatabases;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A pull answer's headers name its cursor and whether more follow, as its body does, on every page. */
class PullHeadersTest {
    private static final String HLC = "1700000000000-00000-device";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private OutpostServer server;
    private String token;

    @BeforeEach
    void start() {
        server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).databaseUrl(TestDatabases.freshUrl())
                .build().start();
        token = server.tokens().issue("alice", Duration.ofHours(1));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void eachPageNamesInItsHeadersTheCursorAndHasMoreItsBodyHolds() throws Exception {
        StringBuilder ops = new StringBuilder();
        for (int i = 0; i < 5; i++) {
            ops.append(i == 0 ? "" : ",").append("{\"opId\":\"o").append(i).append("\",\"collection\":\"notes\",\"recordId\":\"n")
                    .append(i).append("\",\"type\":\"CREATE\",\"data\":{\"n\":").append(i).append("},\"hlc\":\"").append(HLC)
                    .append("\"}");
        }
        HttpResponse<String> pushed = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/push"))
                .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"deviceId\":\"phone\",\"ops\":[" + ops + "]}")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(pushed.statusCode()).as(pushed.body()).isEqualTo(200);

        String cursor = null;
        int pages = 0;
        int changes = 0;
        boolean more = true;
        while (more) {
            HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/pull?limit=2"
                    + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8))))
                    .header("Authorization", "Bearer " + token).GET().build(), HttpResponse.BodyHandlers.ofString());
            assertThat(page.statusCode()).isEqualTo(200);
            JsonNode body = new ObjectMapper().readTree(page.body());
            assertThat(page.headers().firstValue("Outpost-Cursor")).contains(body.get("cursor").asText());
            assertThat(page.headers().firstValue("Outpost-Has-More")).contains(body.get("hasMore").asText());
            cursor = body.get("cursor").asText();
            more = body.get("hasMore").asBoolean();
            changes += body.get("changes").size();
            pages++;
        }
        assertThat(changes).isEqualTo(5);
        assertThat(pages).isEqualTo(3);
    }
}
