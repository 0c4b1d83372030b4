package dev.outpost.client.internal;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Copies an SQLite write-ahead log into its database file on a thread and connection of their
 * own, a few times a second while commits come in, so the connection that commits, which
 * callers wait for, does not stop to do it. The checkpoints are passive: they never wait for
 * or hold up a reader or the writer. The writing connection keeps SQLite's own automatic
 * checkpoint, set to {@link #WRITER_PAGES}, for when these fall behind.
 *
 * <p>The server has the same class for its own SQLite store; neither module depends on the other.
 */
final class WalCheckpoints implements AutoCloseable {
    /** The log size, in pages, past which the writing connection checkpoints at its commit. */
    static final int WRITER_PAGES = 16_384;
    /** How often, at most, the log is copied into the database file. */
    private static final long INTERVAL_MS = 100;

    private final Connection connection;
    private final ScheduledExecutorService thread;
    private final AtomicBoolean committed = new AtomicBoolean();

    private WalCheckpoints(Connection connection, String threadName) {
        this.connection = connection;
        this.thread = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread daemon = new Thread(runnable, threadName);
            daemon.setDaemon(true);
            return daemon;
        });
        thread.scheduleWithFixedDelay(this::checkpointIfCommitted, INTERVAL_MS, INTERVAL_MS, TimeUnit.MILLISECONDS);
    }

    /**
     * Sets {@code writer}'s automatic checkpoint to {@link #WRITER_PAGES} and starts
     * checkpointing through {@code connection}, a connection of its own to the same file in
     * auto-commit mode, on a daemon thread named {@code threadName}. The checkpoints own
     * {@code connection} from here on and close it in {@link #close}.
     */
    static WalCheckpoints start(Connection writer, Connection connection, String threadName) throws SQLException {
        try (Statement statement = writer.createStatement()) {
            statement.execute("PRAGMA wal_autocheckpoint = " + WRITER_PAGES);
        }
        return new WalCheckpoints(connection, threadName);
    }

    /** Says that a transaction was committed, so the next round has something to copy. */
    void committed() {
        committed.set(true);
    }

    private void checkpointIfCommitted() {
        if (!committed.getAndSet(false)) {
            return;
        }
        try (Statement statement = connection.createStatement()) {
            statement.execute("PRAGMA wal_checkpoint(PASSIVE)");
        } catch (SQLException e) {
            // Left for the next round, or for the writer's own checkpoint.
            committed.set(true);
        }
    }

    /** Stops the thread, waiting for a checkpoint under way, and closes the connection. */
    @Override
    public void close() {
        thread.shutdownNow();
        try {
            thread.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        try {
            connection.close();
        } catch (SQLException e) {
            // Closing at shutdown: nothing more to do with this connection.
        }
    }
}
