package dev.outpost.client.internal;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.HashMap;
import java.util.Map;

/**
 * Prepared statements of one connection, compiled once and reused: SQLite spends more time
 * compiling a small statement than running it. Callers share the connection's lock, never
 * close a statement they get, and close every result set they open.
 */
final class Statements implements AutoCloseable {
    private final Connection db;
    private final Map<String, PreparedStatement> cache = new HashMap<>();

    Statements(Connection db) {
        this.db = db;
    }

    PreparedStatement get(String sql) throws SQLException {
        PreparedStatement statement = cache.get(sql);
        if (statement == null) {
            statement = db.prepareStatement(sql);
            cache.put(sql, statement);
        }
        return statement;
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
