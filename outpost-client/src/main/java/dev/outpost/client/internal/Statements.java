package dev.outpost.client.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * Prepared statements of one connection, compiled once and reused: SQLite spends more time
 * compiling a small statement than running it. Callers share the connection's lock, never
 * close a statement they get, and close every result set they open. A statement the driver
 * gave up after a failure is compiled again at its next use.
 */
final class Statements implements AutoCloseable {
    private final Connection db;
    private final Map<String, PreparedStatement> cache = new HashMap<>();

    Statements(Connection db) {
        this.db = db;
    }

    PreparedStatement get(String sql) throws SQLException {
        PreparedStatement statement = cache.get(sql);
        if (statement == null || !usable(statement)) {
            statement = db.prepareStatement(sql);
            cache.put(sql, statement);
        }
        return statement;
    }

    /**
     * Whether the statement can still run. sqlite-jdbc finalizes a statement whose step fails
     * with most errors (SQLITE_CORRUPT, SQLITE_IOERR, SQLITE_FULL, ...) without marking it
     * closed; every later use then fails with "statement is not executing". Asking for its
     * parameter count checks only that, in Java.
     */
    private static boolean usable(PreparedStatement statement) {
        try {
            statement.getParameterMetaData().getParameterCount();
            return true;
        } catch (SQLException e) {
            try {
                statement.close();
            } catch (SQLException ignored) {
                // already finalized by the driver
            }
            return false;
        }
    }

    @Override
    public void close() {
        for (PreparedStatement statement : cache.values()) {
            try {
                statement.close();
            } catch (SQLException e) {
                // closing the store: nothing else to do with the statement
            }
        }
        cache.clear();
    }
}
