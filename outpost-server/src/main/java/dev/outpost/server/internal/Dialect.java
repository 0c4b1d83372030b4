package dev.outpost.server.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.Wire;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Collection;
import java.util.List;

/**
 * What differs between the databases the server runs on: where their migration scripts live,
 * how a transaction keeps concurrent writers apart, and how SQL reads a field of a record's
 * JSON. The rest of the store is plain SQL both accept.
 */
enum Dialect {
    /**
     * The embedded default. SQLite admits one writer at a time and the store writes under one
     * lock, so the per-key locks are not needed.
     */
    SQLITE("sqlite") {
        @Override
        void lock(Connection connection, long key) {
            // One writer at a time already.
        }

        @Override
        void lockAll(Connection connection, Collection<Long> keys) {
            // One writer at a time already.
        }

        @Override
        void lockChangeLog(Connection connection) {
            // One writer at a time already: seq order is commit order.
        }

        @Override
        void readInLogOrder(Connection connection) {
            // SQLite keeps no statistics unless asked: its plan follows the index either way.
        }

        @Override
        byte[] utf8(ResultSet rows, int column) throws SQLException {
            // A TEXT value's bytes as stored, in the database's encoding (UTF-8): no String made.
            return rows.getBytes(column);
        }

        @Override
        String jsonString(String expression) {
            return "json_quote(" + expression + ")";
        }

        @Override
        String selectEach(String columns, String table, String where, String key) {
            // One statement text whatever the number of values, answered through the key's index.
            return "SELECT " + columns + " FROM " + table + " WHERE " + key + " IN (SELECT value FROM json_each(?)) AND " + where;
        }

        @Override
        void bindAll(PreparedStatement statement, int index, Collection<String> values) throws SQLException {
            statement.setString(index, Wire.write(values));
        }

        @Override
        String field(String name) {
            return "json_extract(data, '$." + name + "')";
        }

        @Override
        String naturalKeyIndexNames() {
            return "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'records' AND name LIKE '"
                    + NaturalKeyIndexes.PREFIX + "%'";
        }

        /**
         * As PostgreSQL's jsonb compares: of the same JSON kind (json_extract alone makes
         * {@code true} and {@code 1} equal) and numbers by value. An integer beyond 64 bits,
         * which json_extract reads as a rounded REAL, is compared by its JSON text instead, and
         * matches no other number.
         */
        @Override
        void exactField(StringBuilder sql, List<Object> args, String field, JsonNode value) {
            String path = "'$." + field + "'";
            String type = "json_type(data, " + path + ")";
            sql.append(" AND ").append(field(field)).append(" = ?");
            if (value.isBoolean()) {
                args.add(value.asBoolean() ? 1 : 0);
                sql.append(" AND ").append(type).append(" = ?");
                args.add(value.asBoolean() ? "true" : "false");
            } else if (value.isBigInteger() && !value.canConvertToLong()) {
                args.add(value.doubleValue());
                sql.append(" AND ").append(type).append(" = 'integer' AND (data -> ").append(path).append(") = ?");
                args.add(Wire.write(value));
            } else if (value.isNumber()) {
                args.add(value.isIntegralNumber() ? (Object) value.longValue() : (Object) value.doubleValue());
                sql.append(" AND ").append(type).append(" IN ('integer', 'real') AND (").append(type)
                        .append(" = 'real') = (typeof(").append(field(field)).append(") = 'real')");
            } else {
                args.add(value.asText());
                sql.append(" AND ").append(type).append(" = 'text'");
            }
        }

        @Override
        void fieldWithin(StringBuilder sql, List<Object> args, String field, double value, double tolerance) {
            // Numbers only, as on PostgreSQL: SQLite's arithmetic would take "17" or true as a number.
            sql.append(" AND CASE WHEN json_type(data, ?) IN ('integer', 'real') THEN abs(json_extract(data, ?) - ?) <= ? ELSE 0 END");
            args.add("$." + field);
            args.add("$." + field);
            args.add(value);
            args.add(tolerance);
        }
    },

    /**
     * PostgreSQL, possibly shared by several server nodes. Writers run at once; a push locks
     * its device and records with transaction-level advisory locks (held to commit, seen by
     * every node) and takes the change-log lock just before writing its changes.
     */
    POSTGRESQL("postgresql") {
        @Override
        String jsonString(String expression) {
            return "to_json(" + expression + ")::text";
        }

        @Override
        void lock(Connection connection, long key) throws SQLException {
            try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_xact_lock(?)")) {
                lock.setLong(1, key);
                lock.execute();
            }
        }

        @Override
        void lockAll(Connection connection, Collection<Long> keys) throws SQLException {
            if (keys.isEmpty()) {
                return;
            }
            // A function scan yields the array's elements in order, so the locks are taken in the caller's order.
            try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_xact_lock(k) FROM unnest(?) AS k")) {
                lock.setArray(1, connection.createArrayOf("int8", keys.toArray()));
                lock.execute();
            }
        }

        @Override
        String selectEach(String columns, String table, String where, String key) {
            // One index lookup per value, whatever the statistics say. The plain form, key = ANY(?),
            // is planned (and its plan kept) while the table is small as a scan of the index's
            // prefix filtered by the list, and stays so after the table has grown: 6 ms for 100
            // keys among 30,000 rows not yet analyzed, against 0.2 ms here.
            return "SELECT t.* FROM unnest(?::text[]) AS k(key) CROSS JOIN LATERAL (SELECT " + columns + " FROM " + table
                    + " WHERE " + where + " AND " + key + " = k.key OFFSET 0) AS t";
        }

        @Override
        void bindAll(PreparedStatement statement, int index, Collection<String> values) throws SQLException {
            statement.setArray(index, statement.getConnection().createArrayOf("text", values.toArray()));
        }

        @Override
        void readInLogOrder(Connection connection) throws SQLException {
            // A custom plan, which a connection makes for a statement's first runs, trusts the
            // table's statistics: on a change log that grew since it was last analyzed it fetches
            // every later change of the scope and sorts them (20 ms a page at 50,000 later changes).
            // The generic plan reads the scope's index in seq order and stops at the limit.
            try (Statement set = connection.createStatement()) {
                set.execute("SET LOCAL plan_cache_mode = force_generic_plan");
            }
        }

        @Override
        void lockChangeLog(Connection connection) throws SQLException {
            // The two-int form is a key space of its own: no record key can collide with it.
            try (PreparedStatement lock = connection.prepareStatement("SELECT pg_advisory_xact_lock(?, ?)")) {
                lock.setInt(1, CHANGE_LOG_CLASS);
                lock.setInt(2, 1);
                lock.execute();
            }
        }

        @Override
        String field(String name) {
            return "(data::jsonb -> '" + name + "')";
        }

        @Override
        String naturalKeyIndexNames() {
            return "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'records'"
                    + " AND indexname LIKE '" + NaturalKeyIndexes.PREFIX + "%'";
        }

        @Override
        void exactField(StringBuilder sql, List<Object> args, String field, JsonNode value) {
            sql.append(" AND ").append(field(field)).append(" = ?::jsonb");
            args.add(Wire.write(value));
        }

        @Override
        void fieldWithin(StringBuilder sql, List<Object> args, String field, double value, double tolerance) {
            sql.append(" AND CASE WHEN jsonb_typeof(data::jsonb -> ?) = 'number' "
                    + "THEN abs((data::jsonb ->> ?)::float8 - ?) <= ? ELSE false END");
            args.add(field);
            args.add(field);
            args.add(value);
            args.add(tolerance);
        }
    };

    private static final int CHANGE_LOG_CLASS = 0x4f555450;

    private final String scripts;

    Dialect(String scripts) {
        this.scripts = scripts;
    }

    /** The dialect of a JDBC URL, or an IllegalArgumentException naming the ones supported. */
    static Dialect of(String jdbcUrl) {
        if (jdbcUrl.startsWith("jdbc:sqlite:")) {
            return SQLITE;
        }
        if (jdbcUrl.startsWith("jdbc:postgresql:")) {
            return POSTGRESQL;
        }
        throw new IllegalArgumentException("unsupported database URL '" + jdbcUrl
                + "': the server stores data in SQLite (jdbc:sqlite:FILE) or PostgreSQL (jdbc:postgresql://HOST[:PORT]/DATABASE)");
    }

    /** The folder of this database's migration scripts, under {@code db/}. */
    String scripts() {
        return scripts;
    }

    /** Locks {@code key} until the transaction ends. */
    abstract void lock(Connection connection, long key) throws SQLException;

    /** Locks each of {@code keys}, in their iteration order, until the transaction ends; one round trip. */
    abstract void lockAll(Connection connection, Collection<Long> keys) throws SQLException;

    /**
     * A query of {@code columns} from the rows of {@code table} that meet {@code where} and whose
     * {@code key} is one of a list of strings. The list is parameter 1, bound by
     * {@link #bindAll}; the condition's own parameters follow. The statement's text does not
     * depend on the list's length, and each value is looked up through the key's index.
     */
    abstract String selectEach(String columns, String table, String where, String key);

    /** Binds the list parameter of a {@link #selectEach} query to {@code values}. */
    abstract void bindAll(PreparedStatement statement, int index, Collection<String> values) throws SQLException;

    /** Prepares a read transaction to page through the change log by seq; before its first statement. */
    abstract void readInLogOrder(Connection connection) throws SQLException;

    /** A TEXT column's value in UTF-8, or null. */
    byte[] utf8(ResultSet rows, int column) throws SQLException {
        String text = rows.getString(column);
        return text == null ? null : text.getBytes(StandardCharsets.UTF_8);
    }

    /**
     * SQL for the JSON string literal of a TEXT {@code expression} (quoted and escaped as JSON
     * requires), or the text {@code null} on SQLite for a NULL value. PostgreSQL gives NULL for
     * NULL, so the expression should not be NULL where the result is concatenated.
     */
    abstract String jsonString(String expression);

    /** Locks the change log until the transaction ends, so changes are numbered in commit order. */
    abstract void lockChangeLog(Connection connection) throws SQLException;

    /**
     * The expression for a record's top-level JSON field {@code name} (letters, digits and
     * '_' only: it is written into the SQL), as {@link #exactField} compares it and a natural-key
     * index holds it.
     */
    abstract String field(String name);

    /** A query of the names of the natural-key indexes on records ({@link NaturalKeyIndexes}). */
    abstract String naturalKeyIndexNames();

    /**
     * Appends a condition that the record's top-level {@code field} equals {@code value} (a
     * scalar), over the expression {@link #field} gives, so a natural-key index answers it.
     */
    abstract void exactField(StringBuilder sql, List<Object> args, String field, JsonNode value);

    /** Appends a condition that the record's numeric {@code field} is within {@code tolerance} of {@code value}. */
    abstract void fieldWithin(StringBuilder sql, List<Object> args, String field, double value, double tolerance);
}
