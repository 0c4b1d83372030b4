package dev.outpost.server.internal;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Keeps a long-lived connection's prepared statements: SQLite compiles a statement on every
 * {@code prepareStatement}, which was half the time of a push. The wrapped connection hands
 * out the statement prepared before for the same SQL (up to {@value #CAPACITY}, least recently
 * used out); closing it only clears its parameters, and closing the connection closes them
 * all. The store's code stays plain JDBC. A connection and its statements are used by one
 * thread at a time (the store's write lock, or a borrowed reader).
 */
final class StatementCache {
    static final int CAPACITY = 64;

    private StatementCache() {
    }

    static Connection wrap(Connection connection) {
        Map<String, PreparedStatement> statements = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, PreparedStatement> eldest) {
                if (size() > CAPACITY) {
                    try {
                        eldest.getValue().close();
                    } catch (SQLException e) {
                        // Dropping it from the cache either way.
                    }
                    return true;
                }
                return false;
            }
        };
        InvocationHandler handler = (proxy, method, args) -> {
            if (method.getName().equals("prepareStatement") && args != null && args.length == 1 && args[0] instanceof String sql) {
                PreparedStatement cached = statements.get(sql);
                if (cached == null || cached.isClosed()) {
                    cached = connection.prepareStatement(sql);
                    statements.put(sql, cached);
                }
                return reusable(cached);
            }
            if (method.getName().equals("close") && (args == null || args.length == 0)) {
                for (PreparedStatement statement : statements.values()) {
                    try {
                        statement.close();
                    } catch (SQLException e) {
                        // Closing the connection next.
                    }
                }
                statements.clear();
            }
            return invoke(method, connection, args);
        };
        return (Connection) Proxy.newProxyInstance(StatementCache.class.getClassLoader(), new Class<?>[] {Connection.class}, handler);
    }

    private static PreparedStatement reusable(PreparedStatement statement) {
        InvocationHandler handler = (proxy, method, args) -> {
            if (method.getName().equals("close") && (args == null || args.length == 0)) {
                statement.clearParameters();
                statement.clearBatch();
                return null;
            }
            if (method.getName().equals("isClosed") && (args == null || args.length == 0)) {
                return false;
            }
            return invoke(method, statement, args);
        };
        return (PreparedStatement) Proxy.newProxyInstance(StatementCache.class.getClassLoader(),
                new Class<?>[] {PreparedStatement.class}, handler);
    }

    private static Object invoke(Method method, Object target, Object[] args) throws Throwable {
        try {
            return method.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }
}
