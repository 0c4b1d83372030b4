package dev.outpost.server.internal;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Connections to one SQLite file in WAL mode with {@code synchronous=FULL}, so a transaction
 * is on disk before it returns. SQLite admits one writer at a time: writes go through one
 * connection under a lock; reads through a small pool that sees the last committed state.
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

    @Override
    public <T> T write(Work<T> work) throws SQLException {
        writeLock.lock();
        try {
            try {
                T result = work.run(writer);
                writer.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                try {
                    writer.rollback();
                } catch (SQLException rollback) {
                    e.addSuppressed(rollback);
                }
                throw e;
            }
        } finally {
            writeLock.unlock();
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
