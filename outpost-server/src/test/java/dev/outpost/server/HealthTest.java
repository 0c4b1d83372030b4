package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Liveness and readiness for load balancers and orchestrators: {@code /health/live} answers
 * while the process serves; {@code /health/ready} (and {@code /health}, which clients probe)
 * answers 503 with a code when the database cannot be reached or a stop has begun.
 */
class HealthTest {
    private static final AtomicInteger DATABASES = new AtomicInteger();

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void aServingNodeIsLiveAndReadyAndHealthKeepsItsAnswer() throws Exception {
        try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp)
                .databaseUrl(TestDatabases.freshUrl()).build().start()) {
            HttpResponse<String> health = get(server.url(), "/health");
            HttpResponse<String> ready = get(server.url(), "/health/ready");
            HttpResponse<String> live = get(server.url(), "/health/live");

            assertThat(health.statusCode()).isEqualTo(200);
            assertThat(TestJson.parse(health.body()).get("status").asText()).isEqualTo("UP");
            assertThat(TestJson.parse(health.body()).get("database").asText()).isEqualTo("UP");
            assertThat(ready.statusCode()).isEqualTo(200);
            assertThat(TestJson.parse(ready.body()).get("database").asText()).isEqualTo("UP");
            assertThat(live.statusCode()).isEqualTo(200);
            assertThat(TestJson.parse(live.body()).get("status").asText()).isEqualTo("UP");
        }
    }

    /**
     * The server's own PostgreSQL database stops taking connections and its connections are
     * cut: readiness answers 503 DATABASE_UNAVAILABLE (within its bound, not the pool's 30 s
     * wait), liveness stays 200, and readiness comes back once the database does.
     */
    @Test
    void aDatabaseThatCannotBeReachedMakesTheNodeNotReadyButStillLive() throws Exception {
        String name = "health_" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
        String admin = TestDatabases.postgresAdminUrl();
        try (Connection connection = DriverManager.getConnection(admin); Statement statement = connection.createStatement()) {
            statement.execute("CREATE DATABASE " + name);
            String url = admin.replace("/postgres?", "/" + name + "?");
            try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).databaseUrl(url)
                    .build().start()) {
                assertThat(get(server.url(), "/health/ready").statusCode()).isEqualTo(200);

                statement.execute("ALTER DATABASE " + name + " ALLOW_CONNECTIONS false");
                statement.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "'");
                HttpResponse<String> ready = get(server.url(), "/health/ready");
                HttpResponse<String> health = get(server.url(), "/health");
                HttpResponse<String> live = get(server.url(), "/health/live");

                for (HttpResponse<String> down : java.util.List.of(ready, health)) {
                    assertThat(down.statusCode()).isEqualTo(503);
                    JsonNode body = TestJson.parse(down.body());
                    assertThat(body.get("code").asText()).isEqualTo("DATABASE_UNAVAILABLE");
                    assertThat(body.get("message").asText()).contains("database");
                    assertThat(body.get("status").asText()).isEqualTo("DOWN");
                    assertThat(body.get("database").asText()).isEqualTo("DOWN");
                }
                assertThat(live.statusCode()).isEqualTo(200);

                statement.execute("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true");
                int status = 0;
                for (int tries = 0; tries < 120 && status != 200; tries++) {
                    status = get(server.url(), "/health/ready").statusCode();
                    if (status != 200) {
                        Thread.sleep(500);
                    }
                }
                assertThat(status).as("ready again once the database answers").isEqualTo(200);
            } finally {
                statement.execute("ALTER DATABASE " + name + " ALLOW_CONNECTIONS true");
                statement.execute("DROP DATABASE " + name + " WITH (FORCE)");
            }
        }
    }

    /**
     * A push waits on SQLite's write lock when the stop begins: from then on readiness answers
     * 503 SHUTTING_DOWN, so a load balancer drains the node, while liveness stays 200 and the
     * push is still answered.
     */
    @Test
    void onceAStopHasBegunTheNodeIsNotReadyButStillLive() throws Exception {
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).build().start();
        String token = server.tokens().issue("alice", Duration.ofHours(1));
        String url = server.url();
        CompletableFuture<HttpResponse<String>> push;
        CompletableFuture<Void> closing;
        HttpResponse<String> ready;
        HttpResponse<String> health;
        HttpResponse<String> live;
        try (Connection blocker = DriverManager.getConnection("jdbc:sqlite:" + tmp.resolve(OutpostServer.DATABASE_FILE));
                Statement statement = blocker.createStatement()) {
            statement.execute("BEGIN IMMEDIATE");
            push = http.sendAsync(HttpRequest.newBuilder(URI.create(url + "/v1/push"))
                    .header("Authorization", "Bearer " + token).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"deviceId\":\"phone\",\"ops\":[{\"opId\":\"o1\",\"collection\":\"notes\","
                            + "\"recordId\":\"n1\",\"type\":\"CREATE\",\"data\":{},\"hlc\":\"1700000000000-00000-phone\"}]}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            awaitRequestsInFlight(url);
            assertThat(get(url, "/health/ready").statusCode()).as("ready until the stop begins").isEqualTo(200);

            closing = CompletableFuture.runAsync(server::close);
            int tries = 0;
            do {
                ready = get(url, "/health/ready");
            } while (ready.statusCode() == 200 && ++tries < 3000);
            health = get(url, "/health");
            live = get(url, "/health/live");
            assertThat(push).as("the push still waits for the database").isNotDone();
            statement.execute("ROLLBACK");
        }
        closing.get();

        for (HttpResponse<String> draining : java.util.List.of(ready, health)) {
            assertThat(draining.statusCode()).isEqualTo(503);
            JsonNode body = TestJson.parse(draining.body());
            assertThat(body.get("code").asText()).isEqualTo("SHUTTING_DOWN");
            assertThat(body.get("message").asText()).contains("stopping");
            assertThat(body.get("status").asText()).isEqualTo("DOWN");
        }
        assertThat(live.statusCode()).isEqualTo(200);
        assertThat(push.get().statusCode()).isEqualTo(200);
    }

    @Test
    void healthEndpointsAnswerOnlyGetAndUnknownOnesAreNotFound() throws Exception {
        try (OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).build().start()) {
            for (String path : new String[] {"/health", "/health/ready", "/health/live"}) {
                HttpResponse<String> posted = http.send(HttpRequest.newBuilder(URI.create(server.url() + path))
                        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(), HttpResponse.BodyHandlers.ofString());
                assertThat(posted.statusCode()).as(path).isEqualTo(405);
                assertThat(TestJson.parse(posted.body()).get("code").asText()).isEqualTo("METHOD_NOT_ALLOWED");
            }
            HttpResponse<String> unknown = get(server.url(), "/health/deep");
            assertThat(unknown.statusCode()).isEqualTo(404);
            assertThat(TestJson.parse(unknown.body()).get("code").asText()).isEqualTo("NOT_FOUND");
        }
    }

    /** Waits until the server's metrics say a request is being handled. */
    private void awaitRequestsInFlight(String url) throws IOException, InterruptedException {
        for (int i = 0; i < 3000; i++) {
            if (get(url, "/metrics").body().contains("outpost_requests_in_flight 1.0")) {
                return;
            }
            Thread.sleep(10);
        }
        throw new AssertionError("the push never reached the server's handler");
    }

    private HttpResponse<String> get(String url, String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url + path)).GET().build(), HttpResponse.BodyHandlers.ofString());
    }
}
