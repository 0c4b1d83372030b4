package dev.outpost.server.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Names;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.Operation;
import dev.outpost.server.NaturalKey;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Natural-key lookups and the indexes that answer them. A collection whose natural key has
 * exact fields gets a partial expression index on its live records, by scope and those fields'
 * values, so the lookup a CREATE makes is an index search, not a scan of the collection. The
 * indexes follow the configuration: each start creates the ones it declares and drops those
 * of keys it no longer declares. Their names hold a digest of the collection and fields.
 */
final class NaturalKeyIndexes {
    /** The start of every natural-key index's name. */
    static final String PREFIX = "natural_key_";
    /** The advisory lock that keeps server nodes starting at once from making the same index twice. */
    private static final long LOCK = 0x4e41545552414cL;

    private NaturalKeyIndexes() {
    }

    /** Creates the indexes the natural keys of {@code policies} need and drops the others; commits. */
    static void sync(Connection connection, Dialect dialect, Policies policies) throws SQLException {
        Map<String, String> wanted = new LinkedHashMap<>();
        policies.naturalKeys().forEach((collection, key) -> {
            if (!key.exact().isEmpty()) {
                wanted.put(name(collection, key), definition(dialect, collection, key));
            }
        });
        boolean autoCommit = connection.getAutoCommit();
        connection.setAutoCommit(false);
        try (Statement statement = connection.createStatement()) {
            dialect.lock(connection, LOCK);
            List<String> existing = new ArrayList<>();
            try (ResultSet rows = statement.executeQuery(dialect.naturalKeyIndexNames())) {
                while (rows.next()) {
                    existing.add(rows.getString(1));
                }
            }
            for (String name : existing) {
                if (!wanted.containsKey(name)) {
                    statement.execute("DROP INDEX IF EXISTS " + name);
                }
            }
            for (Map.Entry<String, String> index : wanted.entrySet()) {
                if (!existing.contains(index.getKey())) {
                    statement.execute("CREATE INDEX IF NOT EXISTS " + index.getKey() + " ON records " + index.getValue());
                }
            }
            connection.commit();
        } catch (SQLException | RuntimeException e) {
            connection.rollback();
            throw e;
        } finally {
            connection.setAutoCommit(autoCommit);
        }
    }

    /**
     * The query for the oldest live record of {@code scope} that {@code data} matches by the
     * collection's natural key, its parameters added to {@code args}; null if {@code data}
     * lacks a key field or has a value of the wrong kind, as then nothing can match.
     */
    static String lookup(Dialect dialect, String scope, String collection, NaturalKey key, ObjectNode data, List<Object> args) {
        // The index's own condition, written the same, so that the partial index applies.
        StringBuilder sql = new StringBuilder("SELECT id, version, data, hlc FROM records WHERE scope = ? AND ")
                .append(liveRecordsOf(collection));
        args.add(scope);
        for (String field : key.exact()) {
            JsonNode value = data.get(field);
            if (value == null || value.isNull() || value.isContainerNode()) {
                return null;
            }
            dialect.exactField(sql, args, field, value);
        }
        for (Map.Entry<String, Double> field : key.within().entrySet()) {
            JsonNode value = data.get(field.getKey());
            if (value == null || !value.isNumber()) {
                return null;
            }
            dialect.fieldWithin(sql, args, field.getKey(), value.doubleValue(), field.getValue());
        }
        return sql.append(" ORDER BY version, id LIMIT 1").toString();
    }

    /**
     * The most bytes a record's exact natural-key values may take together, as JSON. An index
     * entry holds them with the scope, and PostgreSQL refuses an entry of more than about 2.7 KB.
     */
    static final int MAX_EXACT_KEY_BYTES = 1024;

    /**
     * Why {@code data}, a record of a collection with natural key {@code key}, cannot be held by
     * the key's index and lookups, or null if it can: it holds the NUL character (in a field
     * name or text value; PostgreSQL's jsonb, which the index reads the record as, refuses it),
     * or its exact key values are longer than {@link #MAX_EXACT_KEY_BYTES}. Both stores refuse
     * the same records, so the server behaves alike on each. The answer is {@code op} REJECTED
     * with code {@code NUL_CHARACTER} or {@code NATURAL_KEY_TOO_LONG}.
     */
    static OpResult unfit(NaturalKey key, Operation op, ObjectNode data) {
        String collection = op.collection();
        String recordId = op.recordId();
        String nul = fieldWithNul(data, "");
        if (nul != null) {
            return OpResult.rejected(op.opId(), "NUL_CHARACTER", collection + "/" + recordId + " holds the NUL character (\\u0000) in "
                    + (nul.isEmpty() ? "a field name" : "field '" + nul + "'") + "; records of " + collection
                    + ", which has a natural key, may not hold it in field names or text");
        }
        int bytes = 0;
        for (String field : key.exact()) {
            JsonNode value = data.get(field);
            if (value != null) {
                bytes += dev.outpost.protocol.Wire.write(value).getBytes(StandardCharsets.UTF_8).length;
            }
        }
        if (bytes > MAX_EXACT_KEY_BYTES) {
            return OpResult.rejected(op.opId(), "NATURAL_KEY_TOO_LONG", "the natural key of " + collection + "/" + recordId + " ("
                    + String.join(", ", new TreeSet<>(key.exact())) + ") takes " + bytes + " bytes as JSON; at most "
                    + MAX_EXACT_KEY_BYTES + " are allowed");
        }
        return null;
    }

    /** The path of the first field whose name or text holds NUL ("" for a name at the top), or null. */
    private static String fieldWithNul(JsonNode node, String path) {
        if (node.isTextual()) {
            return node.textValue().indexOf('\u0000') >= 0 ? path : null;
        }
        if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                String found = fieldWithNul(node.get(i), path + "[" + i + "]");
                if (found != null) {
                    return found;
                }
            }
        } else if (node.isObject()) {
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                String name = field.getKey();
                if (name.indexOf('\u0000') >= 0) {
                    return path;
                }
                String found = fieldWithNul(field.getValue(), path.isEmpty() ? name : path + "." + name);
                if (found != null) {
                    return found;
                }
            }
        }
        return null;
    }

    /**
     * The condition of a natural-key index, and of the lookups it answers: the live records of
     * {@code collection}, whose name is written into the SQL (so it must follow {@link Names}).
     */
    private static String liveRecordsOf(String collection) {
        if (!Names.isValidCollection(collection)) {
            throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
        }
        return "collection = '" + collection + "' AND deleted = 0";
    }

    /** The index's name: the prefix and a digest of the collection and its exact fields. */
    static String name(String collection, NaturalKey key) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] digest = sha.digest((collection + "\u0000" + String.join("\u0000", new TreeSet<>(key.exact())))
                    .getBytes(StandardCharsets.UTF_8));
            return PREFIX + HexFormat.of().formatHex(digest, 0, 10);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JVM has no SHA-256", e);
        }
    }

    /** The index's columns and condition: scope and each exact field, over the collection's live records. */
    private static String definition(Dialect dialect, String collection, NaturalKey key) {
        StringBuilder columns = new StringBuilder("(scope");
        for (String field : new TreeSet<>(key.exact())) {
            columns.append(", ").append(dialect.field(field));
        }
        return columns.append(") WHERE ").append(liveRecordsOf(collection)).toString();
    }
}
