package dev.outpost.server.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.AuditEntry;
import dev.outpost.protocol.ConflictInfo;
import dev.outpost.protocol.Ids;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.ConflictRules;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.ServerRecord;
import dev.outpost.protocol.Wire;
import dev.outpost.server.NaturalKey;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The server's store over JDBC: SQLite (the embedded default) or PostgreSQL, one behaviour.
 *
 * <p>A push is one transaction. It first locks its device and the records its ops touch
 * (in key order, so two pushes cannot deadlock on them), so that concurrent pushes of the
 * same op, from two connections or two server nodes, apply it once, and concurrent changes
 * to one record are checked against each other's versions. Changes for the log are kept
 * back until the end and written under the change-log lock, which is held until the commit
 * is visible: the log's order is commit order and a pull cursor never skips a change. On
 * SQLite, which has one writer at a time, the locks are not needed.
 */
public final class JdbcSyncStore implements SyncStore {
    private static final int KNOWN_DEVICES = 100_000;

    private final Connections connections;
    private final Dialect dialect;
    private final Clock clock;
    private final int maxRecordBytes;
    private final Policies policies;
    /**
     * Devices whose binding to a user this node has seen committed, by device id. A binding
     * never changes once made, so a push from a known device skips the claim; past
     * {@link #KNOWN_DEVICES} entries the memory starts afresh.
     */
    private final Map<String, String> deviceOwners = new ConcurrentHashMap<>();
    /** The select-list expression of {@link #changeJson(Dialect)}, for this store's database. */
    private final String changeJson;

    private JdbcSyncStore(Connections connections, Dialect dialect, Clock clock, int maxRecordBytes, Policies policies) {
        this.connections = connections;
        this.dialect = dialect;
        this.clock = clock;
        this.maxRecordBytes = maxRecordBytes;
        this.policies = policies;
        this.changeJson = changeJson(dialect);
    }

    /**
     * SQL that makes a row of {@code changes} into its {@link dev.outpost.protocol.Change} as
     * JSON text, the form a pull sends, so a page is read with one value a change and sent
     * without decoding or encoding it. The record's data is copied in as the JSON the server
     * wrote; the scope is left out for the user's own, which is the statement's first parameter.
     */
    static String changeJson(Dialect dialect) {
        return "'{\"collection\":' || " + dialect.jsonString("collection")
                + " || ',\"recordId\":' || " + dialect.jsonString("record_id")
                + " || ',\"version\":' || version"
                + " || CASE WHEN deleted <> 0 THEN ',\"deleted\":true' ELSE ',\"deleted\":false' END"
                + " || CASE WHEN data IS NULL THEN '' ELSE ',\"data\":' || data END"
                + " || CASE WHEN hlc IS NULL THEN '' ELSE ',\"hlc\":' || " + dialect.jsonString("hlc") + " END"
                + " || ',\"origin\":{\"deviceId\":' || " + dialect.jsonString("origin_device")
                + " || ',\"opId\":' || " + dialect.jsonString("origin_op") + " || '}'"
                + " || CASE WHEN scope = ? THEN '' ELSE ',\"scope\":' || "
                + dialect.jsonString("substr(scope, " + (Scopes.SHARED_PREFIX.length() + 1) + ")") + " END"
                + " || '}'";
    }

    /**
     * Opens (creating if needed) the database at a {@code jdbc:sqlite:} or
     * {@code jdbc:postgresql:} URL and brings its schema up to date. PostgreSQL is reached
     * through a pool of at most {@code poolSize} connections. An update that would make a
     * record larger than {@code maxRecordBytes} of JSON is rejected.
     */
    public static JdbcSyncStore open(String url, int poolSize, Clock clock, int maxRecordBytes, Policies policies)
            throws SQLException {
        Dialect dialect = Dialect.of(url);
        if (dialect == Dialect.SQLITE) {
            org.sqlite.SQLiteDataSource source = new org.sqlite.SQLiteDataSource();
            source.setUrl(url);
            SchemaMigrations.migrate(source, dialect);
            try (Connection connection = source.getConnection()) {
                NaturalKeyIndexes.sync(connection, dialect, policies);
            }
            return new JdbcSyncStore(SqliteConnections.open(url), dialect, clock, maxRecordBytes, policies);
        }
        PooledConnections pool;
        try {
            pool = PooledConnections.open(url, poolSize);
        } catch (RuntimeException e) {
            throw new SQLException("cannot connect: " + e.getMessage(), e);
        }
        try {
            SchemaMigrations.migrate(pool.dataSource(), dialect);
            try (Connection connection = pool.dataSource().getConnection()) {
                NaturalKeyIndexes.sync(connection, dialect, policies);
            }
            return new JdbcSyncStore(pool, dialect, clock, maxRecordBytes, policies);
        } catch (SQLException | RuntimeException e) {
            pool.close();
            throw e;
        }
    }

    @Override
    public Pushed push(Scopes scopes, String deviceId, List<PushParser.Parsed> parsedOps) {
        long receivedAt = clock.millis();
        String user = scopes.user();
        List<PushParser.Parsed> ops = parsedOps.stream().map(parsed -> withinGrants(scopes, parsed)).toList();
        String owner = deviceOwners.get(deviceId);
        if (owner != null && !owner.equals(user)) {
            throw deviceNotOwned(deviceId);
        }
        try {
            Pushed answered = connections.write(connection -> {
                Tx tx = new Tx(connection);
                List<Long> keys = new ArrayList<>();
                keys.add(LockKeys.device(deviceId));
                keys.addAll(LockKeys.records(scopes, ops, policies));
                dialect.lockAll(connection, keys);
                if (owner == null) {
                    tx.claimDevice(user, deviceId, receivedAt);
                }
                List<OpResult> results = new ArrayList<>(ops.size());
                Map<String, OpResult> seen = tx.firstOutcomes(deviceId, ops);
                tx.preload(scopes, ops, seen.keySet());
                for (PushParser.Parsed parsed : ops) {
                    OpResult first = seen.get(parsed.opId());
                    if (first != null) {
                        results.add(first.asDuplicate());
                        continue;
                    }
                    OpResult result = parsed.rejection() != null
                            ? parsed.rejection()
                            : tx.apply(scopes.stored(parsed.op().scope()), deviceId, parsed, receivedAt);
                    tx.recordOutcome(user, deviceId, parsed, result, receivedAt);
                    seen.put(parsed.opId(), result);
                    results.add(result);
                }
                tx.writeOutcomes();
                tx.writeChanges();
                return new Pushed(results, Map.copyOf(tx.winners));
            });
            if (owner == null) {
                if (deviceOwners.size() >= KNOWN_DEVICES) {
                    deviceOwners.clear();
                }
                deviceOwners.put(deviceId, user);
            }
            return answered;
        } catch (SQLException | RuntimeException e) {
            if (e instanceof ApiException api) {
                throw api;
            }
            throw new IllegalStateException("push of " + ops.size() + " ops from device " + deviceId
                    + " failed in the database and was rolled back: " + e.getMessage(), e);
        }
    }

    private static ApiException deviceNotOwned(String deviceId) {
        return new ApiException(403, "DEVICE_NOT_OWNED", "device " + deviceId
                + " belongs to another user; a device id is bound to the first user who pushes with it");
    }

    /** The op as parsed, or rejected if it names a shared scope the token does not let it write. */
    private static PushParser.Parsed withinGrants(Scopes scopes, PushParser.Parsed parsed) {
        Operation op = parsed.op();
        if (op == null || op.scope() == null || scopes.canWrite(op.scope())) {
            return parsed;
        }
        OpResult rejected = scopes.canRead(op.scope())
                ? OpResult.rejected(op.opId(), "SCOPE_READ_ONLY", "scope '" + op.scope() + "' is granted to this token for reading only")
                : OpResult.rejected(op.opId(), "SCOPE_NOT_GRANTED", "this token grants no scope '" + op.scope() + "'");
        return new PushParser.Parsed(parsed.opId(), op, rejected);
    }

    @Override
    public List<AuditEntry> operations(String user, String deviceId, OpStatus status, int limit, int offset) {
        try {
            return connections.read(reader -> {
                try (PreparedStatement owner = reader.prepareStatement("SELECT user_id FROM devices WHERE device_id = ?")) {
                    owner.setString(1, deviceId);
                    try (ResultSet rows = owner.executeQuery()) {
                        if (!rows.next() || !rows.getString(1).equals(user)) {
                            throw new ApiException(404, "DEVICE_NOT_FOUND", "no device of yours has id " + deviceId);
                        }
                    }
                }
                try (PreparedStatement select = reader.prepareStatement(
                        "SELECT op_id, collection, record_id, type, result, received_at, completed_at FROM operations "
                                + "WHERE device_id = ? AND (? IS NULL OR status = ?) ORDER BY completed_at DESC, op_id DESC LIMIT ? OFFSET ?")) {
                    select.setString(1, deviceId);
                    select.setString(2, status == null ? null : status.name());
                    select.setString(3, status == null ? null : status.name());
                    select.setInt(4, limit);
                    select.setInt(5, offset);
                    List<AuditEntry> entries = new ArrayList<>();
                    try (ResultSet rows = select.executeQuery()) {
                        while (rows.next()) {
                            OpResult result = readResult(rows.getString(5));
                            String type = rows.getString(4);
                            entries.add(new AuditEntry(rows.getString(1), rows.getString(2), rows.getString(3),
                                    type == null ? null : OpType.valueOf(type), result.status(), result.version(), result.record(),
                                    result.error(), Instant.ofEpochMilli(rows.getLong(6)).toString(),
                                    Instant.ofEpochMilli(rows.getLong(7)).toString()));
                        }
                    }
                    return entries;
                }
            });
        } catch (SQLException e) {
            throw new IllegalStateException("reading the audit of device " + deviceId + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public List<ConflictInfo> conflicts(Scopes scopes, int limit) {
        List<String> writable = scopes.writable();
        try {
            return connections.read(reader -> {
                try (PreparedStatement select = reader.prepareStatement("SELECT " + CONFLICT_COLUMNS
                        + " FROM conflicts WHERE scope IN (" + marks(writable.size()) + ") AND status = 'OPEN' "
                        + "ORDER BY created_at, id LIMIT ?")) {
                    int i = 1;
                    for (String scope : writable) {
                        select.setString(i++, scope);
                    }
                    select.setInt(i, limit);
                    List<ConflictInfo> conflicts = new ArrayList<>();
                    try (ResultSet rows = select.executeQuery()) {
                        while (rows.next()) {
                            conflicts.add(readConflict(rows));
                        }
                    }
                    return conflicts;
                }
            });
        } catch (SQLException e) {
            throw new IllegalStateException("listing the conflicts of user " + scopes.user() + " failed: " + e.getMessage(), e);
        }
    }

    private static final String CONFLICT_COLUMNS = "id, collection, record_id, base, local, remote, status, resolution, created_at";

    private static ConflictInfo readConflict(ResultSet rows) throws SQLException {
        String base = rows.getString(4);
        try {
            return new ConflictInfo(rows.getString(1), rows.getString(2), rows.getString(3),
                    base == null ? null : Wire.read(base, ServerRecord.class), Wire.read(rows.getString(5), Operation.class),
                    Wire.read(rows.getString(6), ServerRecord.class), rows.getString(7), rows.getString(8),
                    Instant.ofEpochMilli(rows.getLong(9)).toString());
        } catch (IOException e) {
            throw new UncheckedIOException("stored conflict " + rows.getString(1) + " is not valid JSON", e);
        }
    }

    @Override
    public Resolved resolve(Scopes scopes, String conflictId, String choice, ObjectNode data) {
        long now = clock.millis();
        try {
            return connections.write(connection -> {
                Tx tx = new Tx(connection);
                ConflictInfo open = tx.conflict(scopes.writable(), conflictId);
                if (open == null) {
                    throw new ApiException(404, "CONFLICT_NOT_FOUND", "no conflict of yours has id " + conflictId);
                }
                String scope = tx.conflictScope;
                dialect.lock(connection, LockKeys.record(scope, open.collection(), open.recordId()));
                // Read again under the record's lock: a concurrent resolve of the same conflict has finished.
                open = tx.conflict(List.of(scope), conflictId);
                if (!"OPEN".equals(open.status())) {
                    throw new ApiException(409, "CONFLICT_ALREADY_RESOLVED", "conflict " + conflictId + " was resolved already ("
                            + open.resolution() + ")");
                }
                ServerRecord current = tx.load(scope, open.collection(), open.recordId());
                ServerRecord record = current;
                Long resolvedVersion = null;
                if (!choice.equals("SERVER")) {
                    Operation op = open.local();
                    ConflictRules.Settlement settled = choice.equals("CLIENT")
                            ? ConflictRules.settle(ConflictPolicy.CLIENT_WINS, op, current, open.base(), Set.of())
                            : new ConflictRules.Settlement(ConflictRules.Winner.MERGED, JsonMergePatch.withoutNulls(data), false);
                    OpResult written = tx.write(scope, tx.conflictDevice, op, current, settled.data(), null, settled.deleted(),
                            now, OpStatus.MERGED);
                    if (written.status() == OpStatus.REJECTED) {
                        throw new ApiException(written.error().code().equals("RECORD_TOO_LARGE") ? 413 : 400,
                                written.error().code(), written.error().message());
                    }
                    record = written.record();
                    resolvedVersion = written.version();
                }
                try (PreparedStatement update = connection.prepareStatement(
                        "UPDATE conflicts SET status = 'RESOLVED', resolution = ?, resolved_version = ?, resolved_at = ? WHERE id = ?")) {
                    update.setString(1, choice);
                    if (resolvedVersion == null) {
                        update.setNull(2, Types.BIGINT);
                    } else {
                        update.setLong(2, resolvedVersion);
                    }
                    update.setLong(3, now);
                    update.setString(4, conflictId);
                    update.executeUpdate();
                }
                tx.writeChanges();
                ConflictInfo resolved = new ConflictInfo(open.id(), open.collection(), open.recordId(), open.base(), open.local(),
                        open.remote(), "RESOLVED", choice, open.createdAt());
                return new Resolved(resolved, record);
            });
        } catch (SQLException | RuntimeException e) {
            if (e instanceof ApiException api) {
                throw api;
            }
            throw new IllegalStateException("resolving conflict " + conflictId + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public Page pull(Scopes scopes, long afterSeq, int limit, boolean countRemaining) {
        List<String> readable = scopes.readable();
        String inScopes = readable.size() == 1 ? "scope = ?" : "scope IN (" + marks(readable.size()) + ")";
        try {
            return connections.read(reader -> {
                dialect.readInLogOrder(reader);
                Page page = page(reader, scopes, readable, inScopes, afterSeq, limit);
                if (page.changes().isEmpty() && afterSeq > 0) {
                    refuseIfAheadOfLog(reader, afterSeq);
                }
                if (!countRemaining || !page.hasMore()) {
                    return countRemaining ? new Page(page.changes(), page.lastSeq(), false, 0) : page;
                }
                try (PreparedStatement count = reader.prepareStatement(
                        "SELECT count(*) FROM changes WHERE " + inScopes + " AND seq > ?")) {
                    int i = 1;
                    for (String scope : readable) {
                        count.setString(i++, scope);
                    }
                    count.setLong(i, page.lastSeq());
                    try (ResultSet rows = count.executeQuery()) {
                        rows.next();
                        return new Page(page.changes(), page.lastSeq(), true, rows.getLong(1));
                    }
                }
            });
        } catch (SQLException e) {
            throw new IllegalStateException("pull for user " + scopes.user() + " after change " + afterSeq + " failed: "
                    + e.getMessage(), e);
        }
    }

    /**
     * Refuses a cursor past the change log's last change (409 {@code CURSOR_AHEAD_OF_LOG}): the
     * database was put back to an earlier state (a restored backup, a failover to a replica
     * that lagged), and the changes numbered anew would be passed over.
     */
    private static void refuseIfAheadOfLog(Connection reader, long afterSeq) throws SQLException {
        try (Statement statement = reader.createStatement();
                ResultSet rows = statement.executeQuery("SELECT max(seq) FROM changes")) {
            long last = rows.next() ? rows.getLong(1) : 0;
            if (afterSeq > last) {
                throw new ApiException(409, "CURSOR_AHEAD_OF_LOG", "this cursor is past change " + last
                        + ", the server's last: its database was put back to an earlier state. Pull again without a cursor");
            }
        }
    }

    /** One page of the log after {@code afterSeq}, and whether more follow. */
    private Page page(Connection reader, Scopes scopes, List<String> readable, String inScopes, long afterSeq, int limit)
            throws SQLException {
        try (PreparedStatement select = reader.prepareStatement(
                "SELECT seq, " + changeJson + " FROM changes WHERE " + inScopes + " AND seq > ? ORDER BY seq LIMIT ?")) {
            select.setString(1, scopes.own());
            int i = 2;
            for (String scope : readable) {
                select.setString(i++, scope);
            }
            select.setLong(i++, afterSeq);
            select.setInt(i, limit + 1);
            List<byte[]> changes = new ArrayList<>();
            long lastSeq = afterSeq;
            boolean hasMore = false;
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    if (changes.size() == limit) {
                        hasMore = true;
                        break;
                    }
                    lastSeq = rows.getLong(1);
                    changes.add(dialect.utf8(rows, 2));
                }
            }
            return new Page(changes, lastSeq, hasMore);
        }
    }

    @Override
    public boolean ready() {
        try {
            return connections.read(reader -> {
                try (Statement statement = reader.createStatement(); ResultSet rows = statement.executeQuery("SELECT 1")) {
                    return rows.next();
                }
            });
        } catch (SQLException | RuntimeException e) {
            return false;
        }
    }

    @Override
    public void close() {
        connections.close();
    }

    /** {@code n} comma-separated parameter marks. */
    private static String marks(int n) {
        return String.join(", ", java.util.Collections.nCopies(n, "?"));
    }

    private static OpResult readResult(String json) {
        try {
            return Wire.read(json, OpResult.class);
        } catch (IOException e) {
            throw new UncheckedIOException("stored op result is not valid JSON", e);
        }
    }

    /** A change for the log, written when the transaction ends. */
    private record PendingChange(String scope, String collection, String recordId, long version, boolean deleted, String json,
            String hlc, String deviceId, String opId, long committedAt) {
    }

    private record RecordKey(String scope, String collection, String id) {
    }

    private record PendingRecord(long version, boolean deleted, String json, String hlc, long updatedAt) {
    }

    /**
     * The work of one transaction on one connection. Records are read once (a push reads all
     * of its records in one statement) and kept with their latest state; their rows are written
     * in one batch before the change log, or before a query that reads the table.
     */
    private final class Tx {
        private final Connection connection;
        private final List<PendingChange> changes = new ArrayList<>();
        private final List<Outcome> outcomes = new ArrayList<>();
        /** Each record read or written in this transaction, as it stands now; null for one that does not exist. */
        private final Map<RecordKey, ServerRecord> known = new HashMap<>();
        /** The records changed and not yet written to the table, latest state only. */
        private final Map<RecordKey, PendingRecord> unwritten = new LinkedHashMap<>();
        /** The device and scope of the conflict last read by {@link #conflict}. */
        private String conflictDevice;
        private String conflictScope;
        /** Who prevailed in each conflict settled in this transaction, by op id. */
        private final Map<String, ConflictRules.Winner> winners = new HashMap<>();

        Tx(Connection connection) {
            this.connection = connection;
        }

        void claimDevice(String user, String deviceId, long now) throws SQLException {
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO devices (device_id, user_id, first_seen) VALUES (?, ?, ?) ON CONFLICT (device_id) DO NOTHING")) {
                insert.setString(1, deviceId);
                insert.setString(2, user);
                insert.setLong(3, now);
                insert.executeUpdate();
            }
            try (PreparedStatement select = connection.prepareStatement("SELECT user_id FROM devices WHERE device_id = ?")) {
                select.setString(1, deviceId);
                try (ResultSet rows = select.executeQuery()) {
                    rows.next();
                    if (!rows.getString(1).equals(user)) {
                        throw deviceNotOwned(deviceId);
                    }
                }
            }
        }

        /** The stored first outcomes of those of {@code ops} this device sent before, by op id; a mutable map. */
        Map<String, OpResult> firstOutcomes(String deviceId, List<PushParser.Parsed> ops) throws SQLException {
            Map<String, OpResult> found = new HashMap<>();
            Set<String> ids = new LinkedHashSet<>();
            for (PushParser.Parsed parsed : ops) {
                ids.add(parsed.opId());
            }
            try (PreparedStatement select = connection.prepareStatement(
                    dialect.selectEach("op_id, result", "operations", "device_id = ?", "op_id"))) {
                dialect.bindAll(select, 1, ids);
                select.setString(2, deviceId);
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        found.put(rows.getString(1), readResult(rows.getString(2)));
                    }
                }
            }
            return found;
        }

        /**
         * Reads, in one statement per scope and collection, the current state of every record
         * the push's new ops touch, so that applying them reads no more rows.
         */
        void preload(Scopes scopes, List<PushParser.Parsed> ops, Set<String> sentBefore) throws SQLException {
            Map<List<String>, Set<String>> ids = new LinkedHashMap<>();
            for (PushParser.Parsed parsed : ops) {
                Operation op = parsed.op();
                if (op == null || parsed.rejection() != null || sentBefore.contains(parsed.opId())) {
                    continue;
                }
                String scope = scopes.stored(op.scope());
                if (!known.containsKey(new RecordKey(scope, op.collection(), op.recordId()))) {
                    ids.computeIfAbsent(List.of(scope, op.collection()), k -> new LinkedHashSet<>()).add(op.recordId());
                }
            }
            for (Map.Entry<List<String>, Set<String>> group : ids.entrySet()) {
                String scope = group.getKey().get(0);
                String collection = group.getKey().get(1);
                for (String id : group.getValue()) {
                    known.put(new RecordKey(scope, collection, id), null);
                }
                try (PreparedStatement select = connection.prepareStatement(dialect.selectEach(
                        "id, version, deleted, data, hlc", "records", "scope = ? AND collection = ?", "id"))) {
                    dialect.bindAll(select, 1, group.getValue());
                    select.setString(2, scope);
                    select.setString(3, collection);
                    try (ResultSet rows = select.executeQuery()) {
                        while (rows.next()) {
                            String id = rows.getString(1);
                            String data = rows.getString(4);
                            known.put(new RecordKey(scope, collection, id), new ServerRecord(collection, id, rows.getLong(2),
                                    rows.getInt(3) != 0, data == null ? null : Wire.object(data), rows.getString(5)));
                        }
                    }
                }
            }
        }

        OpResult apply(String scope, String deviceId, PushParser.Parsed parsed, long now) throws SQLException {
            Operation op = parsed.op();
            ServerRecord current = load(scope, op.collection(), op.recordId());
            String json = null;
            ObjectNode data;
            boolean deleted;
            switch (op.type()) {
                case CREATE -> {
                    if (current != null && !current.deleted()) {
                        return settleConflict(scope, deviceId, op, current, now);
                    }
                    NaturalKey key = policies.naturalKeyOf(op.collection());
                    OpResult unfit = key == null ? null : NaturalKeyIndexes.unfit(key, op, op.data());
                    if (unfit != null) {
                        return unfit;
                    }
                    ServerRecord same = sameByNaturalKey(scope, op);
                    if (same != null) {
                        return new OpResult(op.opId(), OpStatus.DUPLICATE, same.version(), same, null);
                    }
                    data = op.data();
                    json = parsed.dataJson();
                    deleted = false;
                }
                case UPDATE -> {
                    if (current == null) {
                        return notFound(op);
                    }
                    if (current.deleted() || current.version() != op.baseVersion()) {
                        return settleConflict(scope, deviceId, op, current, now);
                    }
                    data = JsonMergePatch.apply(current.data(), op.data());
                    deleted = false;
                }
                case DELETE -> {
                    if (current == null) {
                        return notFound(op);
                    }
                    if (current.deleted() || current.version() != op.baseVersion()) {
                        return settleConflict(scope, deviceId, op, current, now);
                    }
                    data = null;
                    deleted = true;
                }
                default -> throw new IllegalStateException("unhandled op type " + op.type());
            }
            return write(scope, deviceId, op, current, data, json, deleted, now, OpStatus.APPLIED);
        }

        /**
         * Settles a conflicting op by its collection's policy. When the server's record stands
         * the op is answered CONFLICT with it; when the op's change prevails or merges, the
         * settled record is written as the next version and the op answered MERGED with it.
         */
        private OpResult settleConflict(String scope, String deviceId, Operation op, ServerRecord current, long now)
                throws SQLException {
            ConflictPolicy policy = policies.of(op.collection());
            boolean needsBase = policy == ConflictPolicy.MERGE || policy == ConflictPolicy.MANUAL
                    || (current.deleted() && op.type() == OpType.UPDATE && policy != ConflictPolicy.SERVER_WINS);
            ServerRecord base = needsBase && op.baseVersion() != null
                    ? at(scope, op.collection(), op.recordId(), op.baseVersion()) : null;
            Map<String, String> fieldTimes = policy == ConflictPolicy.MERGE && base != null && !current.deleted()
                    ? fieldTimes(scope, base, current) : Map.of();
            ConflictRules.Settlement settled = ConflictRules.settle(policy, op, current, base,
                    policies.countersOf(op.collection()), fieldTimes);
            winners.put(op.opId(), settled.winner());
            if (settled.winner() == ConflictRules.Winner.SERVER) {
                if (policy == ConflictPolicy.MANUAL) {
                    keepForReview(scope, deviceId, op, base, current, now);
                }
                return OpResult.conflict(op.opId(), current);
            }
            return write(scope, deviceId, op, current, settled.data(), null, settled.deleted(), now, OpStatus.MERGED);
        }

        private void keepForReview(String scope, String deviceId, Operation op, ServerRecord base, ServerRecord current, long now)
                throws SQLException {
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO conflicts (id, scope, collection, record_id, device_id, op_id, base, local, remote, status, created_at) "
                            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'OPEN', ?)")) {
                insert.setString(1, Ids.uuidV7());
                insert.setString(2, scope);
                insert.setString(3, op.collection());
                insert.setString(4, op.recordId());
                insert.setString(5, deviceId);
                insert.setString(6, op.opId());
                insert.setString(7, base == null ? null : Wire.write(base));
                insert.setString(8, Wire.write(op));
                insert.setString(9, Wire.write(current));
                insert.setLong(10, now);
                insert.executeUpdate();
            }
        }

        /** Conflict {@code id} if it lies in one of {@code scopes}, or null; remembers its device and scope. */
        ConflictInfo conflict(List<String> scopes, String id) throws SQLException {
            try (PreparedStatement select = connection.prepareStatement("SELECT " + CONFLICT_COLUMNS
                    + ", device_id, scope FROM conflicts WHERE id = ? AND scope IN (" + marks(scopes.size()) + ")")) {
                select.setString(1, id);
                for (int i = 0; i < scopes.size(); i++) {
                    select.setString(i + 2, scopes.get(i));
                }
                try (ResultSet rows = select.executeQuery()) {
                    if (!rows.next()) {
                        return null;
                    }
                    conflictDevice = rows.getString(10);
                    conflictScope = rows.getString(11);
                    return readConflict(rows);
                }
            }
        }

        /**
         * A live record of the user's that a CREATE duplicates by its collection's natural key,
         * or null. The op must carry every key field; the record's exact fields must be equal
         * and its tolerance fields numbers within the tolerance.
         */
        private ServerRecord sameByNaturalKey(String scope, Operation op) throws SQLException {
            NaturalKey key = policies.naturalKeyOf(op.collection());
            if (key == null) {
                return null;
            }
            List<Object> args = new ArrayList<>();
            String sql = NaturalKeyIndexes.lookup(dialect, scope, op.collection(), key, op.data(), args);
            if (sql == null) {
                return null;
            }
            writeRecords();
            try (PreparedStatement select = connection.prepareStatement(sql)) {
                for (int i = 0; i < args.size(); i++) {
                    select.setObject(i + 1, args.get(i));
                }
                try (ResultSet rows = select.executeQuery()) {
                    if (!rows.next()) {
                        return null;
                    }
                    return new ServerRecord(op.collection(), rows.getString(1), rows.getLong(2), false,
                            Wire.object(rows.getString(3)), rows.getString(4));
                }
            }
        }

        /**
         * For each field the server changed between {@code base} and {@code current}, the HLC of
         * the change that last set it, read from the change log (including this transaction's
         * changes). A field whose history is incomplete is left out, so it is timed by the
         * record's HLC.
         */
        private Map<String, String> fieldTimes(String scope, ServerRecord base, ServerRecord current) throws SQLException {
            Map<Long, ServerRecord> history = new TreeMap<>();
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT version, deleted, data, hlc FROM changes WHERE scope = ? AND collection = ? AND record_id = ?"
                            + " AND version > ? AND version <= ? ORDER BY version")) {
                select.setString(1, scope);
                select.setString(2, current.collection());
                select.setString(3, current.recordId());
                select.setLong(4, base.version());
                select.setLong(5, current.version());
                try (ResultSet rows = select.executeQuery()) {
                    while (rows.next()) {
                        String data = rows.getString(3);
                        history.put(rows.getLong(1), new ServerRecord(current.collection(), current.recordId(), rows.getLong(1),
                                rows.getInt(2) != 0,
                                data == null ? null : Wire.object(data), rows.getString(4)));
                    }
                }
            }
            for (PendingChange change : changes) {
                if (change.version() > base.version() && change.version() <= current.version()
                        && change.recordId().equals(current.recordId()) && change.collection().equals(current.collection())
                        && change.scope().equals(scope)) {
                    history.put(change.version(), new ServerRecord(current.collection(), current.recordId(), change.version(),
                            change.deleted(),
                            change.json() == null ? null : Wire.object(change.json()), change.hlc()));
                }
            }
            Map<String, String> times = new HashMap<>();
            ObjectNode before = base.deleted() ? null : base.data();
            long expected = base.version() + 1;
            for (ServerRecord change : history.values()) {
                if (change.version() != expected++) {
                    return Map.of();
                }
                ObjectNode after = change.deleted() ? null : change.data();
                Set<String> fields = new HashSet<>();
                if (before != null) {
                    before.fieldNames().forEachRemaining(fields::add);
                }
                if (after != null) {
                    after.fieldNames().forEachRemaining(fields::add);
                }
                for (String field : fields) {
                    if (!Objects.equals(before == null ? null : before.get(field), after == null ? null : after.get(field))) {
                        times.put(field, change.hlc());
                    }
                }
                before = after;
            }
            return expected == current.version() + 1 ? times : Map.of();
        }

        /**
         * The record as it was at {@code version}, from the change log (including the changes
         * this transaction has yet to write); null if that change is not there.
         */
        private ServerRecord at(String scope, String collection, String id, long version) throws SQLException {
            for (PendingChange change : changes) {
                if (change.version() == version && change.recordId().equals(id) && change.collection().equals(collection)
                        && change.scope().equals(scope)) {
                    return new ServerRecord(collection, id, version, change.deleted(),
                            change.json() == null ? null : Wire.object(change.json()), change.hlc());
                }
            }
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT deleted, data, hlc FROM changes WHERE scope = ? AND collection = ? AND record_id = ? AND version = ?")) {
                select.setString(1, scope);
                select.setString(2, collection);
                select.setString(3, id);
                select.setLong(4, version);
                try (ResultSet rows = select.executeQuery()) {
                    if (!rows.next()) {
                        return null;
                    }
                    String data = rows.getString(2);
                    return new ServerRecord(collection, id, version, rows.getInt(1) != 0,
                            data == null ? null : Wire.object(data), rows.getString(3));
                }
            }
        }

        /** Writes the record's next version; {@code dataJson} is {@code data} as JSON if known, else null. */
        OpResult write(String scope, String deviceId, Operation op, ServerRecord current, ObjectNode data, String dataJson,
                boolean deleted, long now, OpStatus status) throws SQLException {
            // The record's timestamp never goes back: a late-clocked device's change keeps the later one.
            String recordHlc = current == null || current.hlc() == null || Hlc.compare(op.hlc(), current.hlc()) > 0
                    ? op.hlc() : current.hlc();
            long version = current == null ? 1 : current.version() + 1;
            String json = data == null ? null : dataJson != null ? dataJson : Wire.write(data);
            if (json != null && json.getBytes(StandardCharsets.UTF_8).length > maxRecordBytes) {
                return OpResult.rejected(op.opId(), "RECORD_TOO_LARGE", op.type() + " of " + op.collection() + "/"
                        + op.recordId() + " would make the record " + json.getBytes(StandardCharsets.UTF_8).length
                        + " bytes; a record may be at most " + maxRecordBytes + " bytes");
            }
            NaturalKey naturalKey = data == null ? null : policies.naturalKeyOf(op.collection());
            OpResult unfit = naturalKey == null ? null : NaturalKeyIndexes.unfit(naturalKey, op, data);
            if (unfit != null) {
                return unfit;
            }
            RecordKey key = new RecordKey(scope, op.collection(), op.recordId());
            known.put(key, new ServerRecord(op.collection(), op.recordId(), version, deleted, data, recordHlc));
            unwritten.put(key, new PendingRecord(version, deleted, json, recordHlc, now));
            changes.add(new PendingChange(scope, op.collection(), op.recordId(), version, deleted, json, recordHlc, deviceId,
                    op.opId(), now));
            if (status == OpStatus.APPLIED) {
                return OpResult.applied(op.opId(), version);
            }
            return new OpResult(op.opId(), OpStatus.MERGED, version,
                    new ServerRecord(op.collection(), op.recordId(), version, deleted, data, recordHlc), null);
        }

        /** Writes the latest state of each record this transaction changed and not yet written, in one batch. */
        private void writeRecords() throws SQLException {
            if (unwritten.isEmpty()) {
                return;
            }
            try (PreparedStatement upsert = connection.prepareStatement(
                    "INSERT INTO records (scope, collection, id, version, deleted, data, hlc, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                            + "ON CONFLICT (scope, collection, id) DO UPDATE SET version = excluded.version, "
                            + "deleted = excluded.deleted, data = excluded.data, hlc = excluded.hlc, updated_at = excluded.updated_at")) {
                for (Map.Entry<RecordKey, PendingRecord> entry : unwritten.entrySet()) {
                    RecordKey key = entry.getKey();
                    PendingRecord record = entry.getValue();
                    upsert.setString(1, key.scope());
                    upsert.setString(2, key.collection());
                    upsert.setString(3, key.id());
                    upsert.setLong(4, record.version());
                    upsert.setInt(5, record.deleted() ? 1 : 0);
                    upsert.setString(6, record.json());
                    upsert.setString(7, record.hlc());
                    upsert.setLong(8, record.updatedAt());
                    upsert.addBatch();
                }
                upsert.executeBatch();
            }
            unwritten.clear();
        }

        /**
         * Writes the records this transaction changed, then its changes to the log under the
         * change-log lock, in the order they were made.
         */
        void writeChanges() throws SQLException {
            writeRecords();
            if (changes.isEmpty()) {
                return;
            }
            dialect.lockChangeLog(connection);
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO changes (scope, collection, record_id, version, deleted, data, hlc, origin_device, origin_op, committed_at) "
                            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (PendingChange change : changes) {
                    insert.setString(1, change.scope());
                    insert.setString(2, change.collection());
                    insert.setString(3, change.recordId());
                    insert.setLong(4, change.version());
                    insert.setInt(5, change.deleted() ? 1 : 0);
                    insert.setString(6, change.json());
                    insert.setString(7, change.hlc());
                    insert.setString(8, change.deviceId());
                    insert.setString(9, change.opId());
                    insert.setLong(10, change.committedAt());
                    insert.addBatch();
                }
                insert.executeBatch();
            }
            changes.clear();
        }

        ServerRecord load(String scope, String collection, String id) throws SQLException {
            RecordKey key = new RecordKey(scope, collection, id);
            if (known.containsKey(key)) {
                return known.get(key);
            }
            ServerRecord record = select(scope, collection, id);
            known.put(key, record);
            return record;
        }

        private ServerRecord select(String scope, String collection, String id) throws SQLException {
            try (PreparedStatement select = connection.prepareStatement(
                    "SELECT version, deleted, data, hlc FROM records WHERE scope = ? AND collection = ? AND id = ?")) {
                select.setString(1, scope);
                select.setString(2, collection);
                select.setString(3, id);
                try (ResultSet rows = select.executeQuery()) {
                    if (!rows.next()) {
                        return null;
                    }
                    String data = rows.getString(3);
                    return new ServerRecord(collection, id, rows.getLong(1), rows.getInt(2) != 0,
                            data == null ? null : Wire.object(data), rows.getString(4));
                }
            }
        }

        /** Keeps an op's outcome for {@link #writeOutcomes}, which writes them all in one batch. */
        void recordOutcome(String user, String deviceId, PushParser.Parsed parsed, OpResult result, long receivedAt) {
            outcomes.add(new Outcome(user, deviceId, parsed, result, receivedAt, clock.millis()));
        }

        /** Writes the kept outcomes (the idempotency records and the audit), in this transaction. */
        void writeOutcomes() throws SQLException {
            if (outcomes.isEmpty()) {
                return;
            }
            try (PreparedStatement insert = connection.prepareStatement(
                    "INSERT INTO operations (device_id, op_id, user_id, collection, record_id, type, status, result, received_at, completed_at) "
                            + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                for (Outcome outcome : outcomes) {
                    Operation op = outcome.parsed().op();
                    insert.setString(1, outcome.deviceId());
                    insert.setString(2, outcome.parsed().opId());
                    insert.setString(3, outcome.user());
                    insert.setString(4, op == null ? null : op.collection());
                    insert.setString(5, op == null ? null : op.recordId());
                    insert.setString(6, op == null ? null : op.type().name());
                    insert.setString(7, outcome.result().status().name());
                    insert.setString(8, Wire.write(outcome.result()));
                    insert.setLong(9, outcome.receivedAt());
                    insert.setLong(10, outcome.completedAt());
                    insert.addBatch();
                }
                insert.executeBatch();
            }
            outcomes.clear();
        }
    }

    /** An op's outcome waiting to be written. */
    private record Outcome(String user, String deviceId, PushParser.Parsed parsed, OpResult result, long receivedAt,
            long completedAt) {
    }

    private static OpResult notFound(Operation op) {
        return OpResult.rejected(op.opId(), "RECORD_NOT_FOUND", op.type() + " of " + op.collection() + "/" + op.recordId()
                + ": no such record; it must be created first");
    }
}
