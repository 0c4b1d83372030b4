package dev.outpost.server.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * Brings a database's schema to the current version by running the numbered scripts
 * {@code db/<dialect>/V<n>__<name>.sql} it has not run yet, each in its own transaction, and
 * recording each in {@code schema_version}. A database from a newer Outpost is refused.
 */
final class Migrations {
    static final List<String> SQLITE = List.of("V1__sync_schema.sql", "V2__change_history_by_record.sql",
            "V3__manual_conflicts.sql");

    private Migrations() {
    }

    static void migrate(Connection connection, String dialect, List<String> scripts) throws SQLException {
        try (Statement statement = connection.createStatement()) {
            statement.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                    + "version INTEGER PRIMARY KEY, script TEXT NOT NULL, applied_at INTEGER NOT NULL)");
        }
        int current = currentVersion(connection);
        if (current > scripts.size()) {
            throw new SQLException("the database's schema is version " + current + " but this server knows only up to "
                    + scripts.size() + "; it was written by a newer Outpost");
        }
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try {
            for (int version = current + 1; version <= scripts.size(); version++) {
                String script = scripts.get(version - 1);
                try (Statement statement = connection.createStatement()) {
                    for (String sql : statements(read("db/" + dialect + "/" + script))) {
                        statement.execute(sql);
                    }
                    statement.execute("INSERT INTO schema_version (version, script, applied_at) VALUES ("
                            + version + ", '" + script + "', " + System.currentTimeMillis() + ")");
                }
                connection.commit();
            }
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    private static int currentVersion(Connection connection) throws SQLException {
        try (Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT COALESCE(MAX(version), 0) FROM schema_version")) {
            rows.next();
            return rows.getInt(1);
        }
    }

    private static String read(String resource) {
        try (InputStream in = Migrations.class.getResourceAsStream("/" + resource)) {
            if (in == null) {
                throw new IllegalStateException("migration script " + resource + " is missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read migration script " + resource, e);
        }
    }

    /** Splits a script into statements at semicolons ending a line, dropping comment lines. */
    private static List<String> statements(String script) {
        StringBuilder text = new StringBuilder();
        for (String line : script.split("\n")) {
            if (!line.strip().startsWith("--")) {
                text.append(line).append('\n');
            }
        }
        return List.of(text.toString().split(";\\s*\n")).stream()
                .map(String::strip)
                .filter(sql -> !sql.isEmpty())
                .toList();
    }
}
