package dev.outpost.server.internal;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import java.sql.Connection;
import java.sql.SQLException;
import javax.sql.DataSource;

/**
 * A pool of connections to a database that runs many writers at once (PostgreSQL). Each
 * write is one transaction at READ COMMITTED; the store keeps writers apart with the
 * dialect's locks, and a transaction the database aborts to break a deadlock is run again.
 */
final class PooledConnections implements Connections {
    /** How often a transaction aborted by a deadlock or serialization failure is tried again. */
    private static final int ATTEMPTS = 5;

    private final HikariDataSource pool;

    private PooledConnections(HikariDataSource pool) {
        this.pool = pool;
    }

    static PooledConnections open(String url, int size) {
        HikariConfig config = new HikariConfig();
        config.setJdbcUrl(url);
        config.setMaximumPoolSize(size);
        config.setMinimumIdle(Math.min(2, size));
        config.setAutoCommit(false);
        config.setTransactionIsolation("TRANSACTION_READ_COMMITTED");
        config.setConnectionTimeout(30_000);
        config.setPoolName("outpost-db");
        // A push's batched inserts go as multi-row INSERTs: one statement per table per push
        // rather than one per row (a URL that sets the property itself keeps its own value).
        if (!url.contains("reWriteBatchedInserts")) {
            config.addDataSourceProperty("reWriteBatchedInserts", "true");
        }
        // Fail at start, with the driver's reason, if the database cannot be reached at all.
        config.setInitializationFailTimeout(1);
        return new PooledConnections(new HikariDataSource(config));
    }

    DataSource dataSource() {
        return pool;
    }

    @Override
    public <T> T write(Work<T> work) throws SQLException {
        for (int attempt = 1; ; attempt++) {
            try (Connection connection = pool.getConnection()) {
                try {
                    T result = work.run(connection);
                    connection.commit();
                    return result;
                } catch (SQLException | RuntimeException e) {
                    try {
                        connection.rollback();
                    } catch (SQLException rollback) {
                        e.addSuppressed(rollback);
                    }
                    if (attempt < ATTEMPTS && e instanceof SQLException sql && retryable(sql)) {
                        continue;
                    }
                    throw e;
                }
            }
        }
    }

    /** Deadlock detected (40P01) or serialization failure (40001): nothing was written; run it again. */
    private static boolean retryable(SQLException e) {
        return "40P01".equals(e.getSQLState()) || "40001".equals(e.getSQLState());
    }

    @Override
    public <T> T read(Work<T> work) throws SQLException {
        try (Connection connection = pool.getConnection()) {
            try {
                return work.run(connection);
            } finally {
                connection.rollback();
            }
        }
    }

    @Override
    public void close() {
        pool.close();
    }
}
