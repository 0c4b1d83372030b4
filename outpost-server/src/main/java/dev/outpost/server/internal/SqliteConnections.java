package dev.outpost.server.internal;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Connections to one SQLite file in WAL mode with {@code synchronous=FULL}, so a transaction
 * is on disk before it returns. SQLite admits one writer at a time: writes go through one
 * connection under a lock, concurrent ones sharing a commit; reads through a small pool that
 * sees the last committed state.
 */
final class SqliteConnections implements Connections {
    private static final int READERS = 4;

    private final String url;
    private final ReentrantLock writeLock = new ReentrantLock();
    private final Connection writer;
    private final BlockingQueue<Connection> readers = new ArrayBlockingQueue<>(READERS);

    private SqliteConnections(String url, Connection writer) {
        this.url = url;
        this.writer = writer;
    }

    static SqliteConnections open(String url) throws SQLException {
        Connection writer = connect(url);
        try {
            writer.setAutoCommit(false);
            SqliteConnections connections = new SqliteConnections(url, writer);
            for (int i = 0; i < READERS; i++) {
                connections.readers.add(connect(url));
            }
            return connections;
        } catch (SQLException | RuntimeException e) {
            writer.close();
            throw e;
        }
    }

    private static Connection connect(String url) throws SQLException {
        Connection connection = DriverManager.getConnection(url);
        try (Statement statement = connection.createStatement()) {
            statement.execute("PRAGMA busy_timeout = 10000");
            statement.execute("PRAGMA journal_mode = WAL");
            statement.execute("PRAGMA synchronous = FULL");
        } catch (SQLException e) {
            connection.close();
            throw e;
        }
        return StatementCache.wrap(connection);
    }

    /** A caller's work and, once its group has committed, its result or failure. */
    private static final class Task {
        final Work<?> work;
        Object result;
        Exception failure;
        boolean done;

        Task(Work<?> work) {
            this.work = work;
        }
    }

    private final ConcurrentLinkedQueue<Task> waiting = new ConcurrentLinkedQueue<>();

    /**
     * Group commit: the caller queues its work and takes the write lock; whoever holds it runs
     * every queued work, each in a savepoint (so one that fails is undone alone), and commits
     * them with one fsync. Callers whose work ran in another's group find it done. Nothing is
     * answered before the commit that holds it.
     */
    @Override
    @SuppressWarnings("unchecked")
    public <T> T write(Work<T> work) throws SQLException {
        Task task = new Task(work);
        waiting.add(task);
        writeLock.lock();
        try {
            if (!task.done) {
                commitWaiting();
            }
        } finally {
            writeLock.unlock();
        }
        if (task.failure instanceof SQLException e) {
            throw e;
        }
        if (task.failure instanceof RuntimeException e) {
            throw e;
        }
        if (task.failure != null) {
            throw new SQLException(task.failure.getMessage(), task.failure);
        }
        return (T) task.result;
    }

    private void commitWaiting() {
        List<Task> group = new ArrayList<>();
        for (Task next; (next = waiting.poll()) != null; ) {
            group.add(next);
        }
        try {
            for (Task task : group) {
                Savepoint savepoint = writer.setSavepoint();
                try {
                    task.result = task.work.run(writer);
                    writer.releaseSavepoint(savepoint);
                } catch (SQLException | RuntimeException e) {
                    writer.rollback(savepoint);
                    task.failure = e;
                }
            }
            writer.commit();
        } catch (SQLException | RuntimeException e) {
            try {
                writer.rollback();
            } catch (SQLException rollback) {
                e.addSuppressed(rollback);
            }
            for (Task task : group) {
                if (task.failure == null) {
                    task.result = null;
                    task.failure = e;
                }
            }
        } finally {
            for (Task task : group) {
                task.done = true;
            }
        }
    }

    @Override
    public <T> T read(Work<T> work) throws SQLException {
        Connection reader;
        try {
            reader = readers.poll(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SQLException("interrupted waiting for a database connection", e);
        }
        if (reader == null) {
            throw new SQLException("no database connection free for 30 s at " + url);
        }
        try {
            return work.run(reader);
        } finally {
            readers.add(reader);
        }
    }

    @Override
    public void close() {
        writeLock.lock();
        try {
            closeQuietly(writer);
            Connection reader;
            while ((reader = readers.poll()) != null) {
                closeQuietly(reader);
            }
        } finally {
            writeLock.unlock();
        }
    }

    private static void closeQuietly(Connection connection) {
        try {
            connection.close();
        } catch (SQLException e) {
            // Closing at shutdown: nothing more to do with this connection.
        }
    }
}
