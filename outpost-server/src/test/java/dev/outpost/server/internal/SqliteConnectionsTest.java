package dev.outpost.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.Statement;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's SQLite connections: the log reaches the database file off the writer's path. */
class SqliteConnectionsTest {
    @TempDir
    Path dir;

    @Test
    void committedWritesReachTheDatabaseFileWithoutTheLogFillingFirst() throws Exception {
        Path file = dir.resolve("server.db");
        try (SqliteConnections connections = SqliteConnections.open("jdbc:sqlite:" + file)) {
            connections.write(connection -> {
                try (Statement statement = connection.createStatement()) {
                    statement.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
                }
                return null;
            });
            long before = awaitSettledSize(file);
            String body = "x".repeat(1_000);
            for (int commit = 0; commit < 10; commit++) {
                connections.write(connection -> {
                    try (PreparedStatement insert = connection.prepareStatement("INSERT INTO rows (body) VALUES (?)")) {
                        for (int row = 0; row < 20; row++) {
                            insert.setString(1, body);
                            insert.addBatch();
                        }
                        insert.executeBatch();
                    }
                    return null;
                });
            }

            // About 50 pages were logged, far below the writer's own checkpoint threshold,
            // so only the checkpoint thread can have moved them into the database file.
            assertThat(awaitSizeAbove(file, before + 100_000)).isGreaterThan(before + 100_000);
        }
    }

    @Test
    void closingStopsTheCheckpointThread() throws Exception {
        SqliteConnections connections = SqliteConnections.open("jdbc:sqlite:" + dir.resolve("server.db"));
        assertThat(checkpointThreads()).isPositive();

        connections.close();

        assertThat(checkpointThreads()).isZero();
    }

    private static long checkpointThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(thread -> thread.getName().equals("outpost-sqlite-checkpoint") && thread.isAlive())
                .count();
    }

    private static long awaitSettledSize(Path file) throws Exception {
        long size = Files.size(file);
        for (int i = 0; i < 20; i++) {
            Thread.sleep(50);
            size = Files.size(file);
        }
        return size;
    }

    private static long awaitSizeAbove(Path file, long bound) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        long size = Files.size(file);
        while (size <= bound && System.nanoTime() < deadline) {
            Thread.sleep(20);
            size = Files.size(file);
        }
        return size;
    }
}
