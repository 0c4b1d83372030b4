package dev.outpost.testing;

import dev.outpost.server.OutpostServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * A real Outpost server on a free loopback port over an SQLite file in a temporary directory,
 * for tests and demos. Closing it stops the server and deletes the directory.
 */
public final class TestServer implements AutoCloseable {
    private final Path dataDir;
    private final boolean ownsDir;
    private OutpostServer server;
    private int port;

    private TestServer(Path dataDir, boolean ownsDir) {
        this.dataDir = dataDir;
        this.ownsDir = ownsDir;
    }

    /** Starts a server in a new temporary directory. */
    public static TestServer start() {
        try {
            return start(Files.createTempDirectory("outpost-server-"), true);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Starts a server whose data lives in {@code dataDir}, which is kept on close. */
    public static TestServer startIn(Path dataDir) {
        return start(dataDir, false);
    }

    private static TestServer start(Path dataDir, boolean ownsDir) {
        TestServer test = new TestServer(dataDir, ownsDir);
        test.server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(dataDir).build().start();
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

    /** Stops the server, keeping its data, so it can be started again with {@link #restart()}. */
    public void stop() {
        server.close();
    }

    /** Starts the server again on the same port over the same data. */
    public void restart() {
        server = OutpostServer.builder().host("127.0.0.1").port(port).dataDir(dataDir).build().start();
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
