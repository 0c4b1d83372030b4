package dev.outpost.testing;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.server.OutpostServer;
import dev.outpost.server.ScopeAccess;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;

/**
 * A real Outpost server on a free loopback port, for tests and demos, over an SQLite file in
 * a temporary directory, or over a fresh PostgreSQL schema when the run asks for one
 * ({@link TestDatabases#PROPERTY}). Closing it stops the server and deletes the directory.
 */
public final class TestServer implements AutoCloseable {
    private final Path dataDir;
    private final boolean ownsDir;
    private final UnaryOperator<OutpostServer.Builder> configure;
    private final String databaseUrl;
    private OutpostServer server;
    private int port;

    private TestServer(Path dataDir, boolean ownsDir, UnaryOperator<OutpostServer.Builder> configure) {
        this.dataDir = dataDir;
        this.ownsDir = ownsDir;
        this.configure = configure;
        this.databaseUrl = TestDatabases.freshUrl();
    }

    /** Starts a server in a new temporary directory. */
    public static TestServer start() {
        return start(UnaryOperator.identity());
    }

    /** Starts a server in a new temporary directory, configured further by {@code configure}. */
    public static TestServer start(UnaryOperator<OutpostServer.Builder> configure) {
        try {
            return start(Files.createTempDirectory("outpost-server-"), true, configure);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts a server whose data lives in {@code dataDir}, which is kept on close. */
    public static TestServer startIn(Path dataDir) {
        return start(dataDir, false, UnaryOperator.identity());
    }

    private static TestServer start(Path dataDir, boolean ownsDir, UnaryOperator<OutpostServer.Builder> configure) {
        TestServer test = new TestServer(dataDir, ownsDir, configure);
        test.server = test.builder(0).build().start();
        test.port = test.server.port();
        return test;
    }

    /** The server's base URL, kept across {@link #restart()}. */
    public String url() {
        return "http://127.0.0.1:" + port;
    }

    /** The server's port, kept across {@link #restart()}. */
    public int port() {
        return port;
    }

    /** The server's data directory. */
    public Path dataDir() {
        return dataDir;
    }

    /** A token the server accepts for {@code user}, valid for a day. */
    public String token(String user) {
        return server.tokens().issue(user, Duration.ofDays(1));
    }

    /** A token for {@code user}, valid for a day, that also grants shared scopes. */
    public String token(String user, Map<String, ScopeAccess> scopes) {
        return server.tokens().issue(user, Duration.ofDays(1), scopes);
    }

    /**
     * Every change the server holds for {@code user}, in commit order, read through
     * {@code GET /v1/pull} from the beginning: what a device that has never synced would get.
     */
    public List<Change> changes(String user) {
        HttpClient http = HttpClient.newHttpClient();
        String token = token(user);
        List<Change> log = new ArrayList<>();
        String cursor = null;
        PullResponse page;
        do {
            String query = "/v1/pull?limit=1000" + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
            HttpRequest request = HttpRequest.newBuilder(URI.create(url() + query))
                    .header("Authorization", "Bearer " + token).timeout(Duration.ofSeconds(10)).GET().build();
            try {
                HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
                if (response.statusCode() != 200) {
                    throw new IllegalStateException("pull answered HTTP " + response.statusCode() + ": "
                            + new String(response.body(), StandardCharsets.UTF_8));
                }
                page = Wire.read(response.body(), PullResponse.class);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot pull from the test server", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted pulling from the test server", e);
            }
            log.addAll(page.changes());
            cursor = page.cursor();
        } while (page.hasMore());
        return log;
    }

    /** The live records the server holds for {@code user}, keyed {@code collection/id}. */
    public Map<String, ObjectNode> records(String user) {
        Map<String, ObjectNode> records = new HashMap<>();
        for (Change change : changes(user)) {
            String key = change.collection() + "/" + change.recordId();
            if (change.deleted()) {
                records.remove(key);
            } else {
                records.put(key, change.data());
            }
        }
        return records;
    }

    /** Stops the server, keeping its data, so it can be started again with {@link #restart()}. */
    public void stop() {
        server.close();
    }

    /** Starts the server again on the same port over the same data. */
    public void restart() {
        server = builder(port).build().start();
    }

    private OutpostServer.Builder builder(int port) {
        return configure.apply(OutpostServer.builder().host("127.0.0.1").port(port).dataDir(dataDir).databaseUrl(databaseUrl));
    }

    @Override
    public void close() {
        server.close();
        if (ownsDir) {
            deleteTree(dataDir);
        }
    }

    /** Deletes a directory and everything in it, as far as it can. */
    public static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        } catch (IOException e) {
            // best effort: temporary files
        }
    }
}
