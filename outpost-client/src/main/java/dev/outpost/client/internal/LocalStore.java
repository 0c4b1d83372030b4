package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.LocalRecord;
import dev.outpost.client.OutpostException;
import dev.outpost.client.OutpostException.Category;
import dev.outpost.client.SyncState;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.Ids;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.ServerRecord;
import dev.outpost.protocol.Wire;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

/**
 * The device's database: one SQLite file holding the local record view, the op queue and the
 * sync metadata (schema in {@code V1__local_store.sql} beside this class).
 *
 * <p>The file is in WAL mode with {@code synchronous=FULL}: a commit returns after the WAL is
 * fsynced, so a write call that returned survives a killed process and a power loss. Every
 * write changes the local view and appends its op in one transaction. All methods are
 * serialized on this object.
 */
public final class LocalStore implements AutoCloseable {
    static final int SCHEMA_VERSION = 1;

    private final Path file;
    private final Clock clock;
    private final Connection db;
    private final String deviceId;
    private final Hlc hlc;

    private LocalStore(Path file, Clock clock, Connection db, String deviceId, Hlc hlc) {
        this.file = file;
        this.clock = clock;
        this.db = db;
        this.deviceId = deviceId;
        this.hlc = hlc;
    }

    /** Opens the store at {@code file}, creating it (and a device id) on first use. */
    public static LocalStore open(Path file, Clock clock) throws OutpostException {
        Connection db = null;
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            db = DriverManager.getConnection("jdbc:sqlite:" + file);
            try (Statement statement = db.createStatement()) {
                statement.execute("PRAGMA busy_timeout = 10000");
                statement.execute("PRAGMA journal_mode = WAL");
                statement.execute("PRAGMA synchronous = FULL");
            }
            migrate(db, file);
            db.setAutoCommit(false);
            String deviceId = meta(db, "device_id");
            if (deviceId == null) {
                deviceId = UUID.randomUUID().toString();
                putMeta(db, "device_id", deviceId);
            }
            Hlc hlc = Hlc.create(deviceId, clock::millis, meta(db, "hlc"));
            db.commit();
            return new LocalStore(file, clock, db, deviceId, hlc);
        } catch (SQLException | IOException e) {
            closeQuietly(db);
            throw storage("cannot open the local store " + file + ": " + e.getMessage(), e);
        }
    }

    private static void migrate(Connection db, Path file) throws SQLException, OutpostException {
        int version;
        try (Statement statement = db.createStatement(); ResultSet rows = statement.executeQuery("PRAGMA user_version")) {
            rows.next();
            version = rows.getInt(1);
        }
        if (version > SCHEMA_VERSION) {
            throw new OutpostException(Category.STORAGE, "STORE_TOO_NEW", "the local store " + file + " has schema version "
                    + version + " but this client knows only up to " + SCHEMA_VERSION + "; it was written by a newer Outpost");
        }
        if (version == 0) {
            db.setAutoCommit(false);
            try (Statement statement = db.createStatement()) {
                for (String sql : script("V1__local_store.sql").split(";\\s*\n")) {
                    String stripped = stripComments(sql);
                    if (!stripped.isEmpty()) {
                        statement.execute(stripped);
                    }
                }
                statement.execute("PRAGMA user_version = " + SCHEMA_VERSION);
                db.commit();
            } catch (SQLException e) {
                db.rollback();
                throw e;
            } finally {
                db.setAutoCommit(true);
            }
        }
    }

    private static String script(String name) {
        try (InputStream in = LocalStore.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("schema script " + name + " is missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read schema script " + name, e);
        }
    }

    private static String stripComments(String sql) {
        StringBuilder out = new StringBuilder();
        for (String line : sql.split("\n")) {
            if (!line.strip().startsWith("--")) {
                out.append(line).append('\n');
            }
        }
        return out.toString().strip();
    }

    public String deviceId() {
        return deviceId;
    }

    public Path file() {
        return file;
    }

    // ---- writes ---------------------------------------------------------------------------

    /** Creates the record or replaces all its fields. */
    public synchronized LocalRecord put(String collection, String id, ObjectNode data, Priority priority)
            throws OutpostException {
        ObjectNode fields = JsonMergePatch.withoutNulls(data);
        return write(collection, id, "put", () -> {
            Row row = load(collection, id);
            if (row == null || row.local.deleted()) {
                append(collection, id, OpType.CREATE, fields, priority, row);
            } else {
                ObjectNode patch = JsonMergePatch.diff(row.local.data(), fields);
                if (patch.isEmpty()) {
                    return;
                }
                append(collection, id, OpType.UPDATE, patch, priority, row);
            }
            saveLocal(collection, id, new RecordState(fields, false), row);
        });
    }

    /** Applies a merge patch to an existing record. */
    public synchronized LocalRecord update(String collection, String id, ObjectNode patch, Priority priority)
            throws OutpostException {
        return write(collection, id, "update", () -> {
            Row row = load(collection, id);
            if (row == null || row.local.deleted()) {
                throw new OutpostException(Category.VALIDATION, "RECORD_NOT_FOUND",
                        "cannot update " + collection + "/" + id + ": no such record on this device");
            }
            ObjectNode after = JsonMergePatch.withoutNulls(JsonMergePatch.apply(row.local.data(), patch));
            ObjectNode normalized = JsonMergePatch.diff(row.local.data(), after);
            if (normalized.isEmpty()) {
                return;
            }
            append(collection, id, OpType.UPDATE, normalized, priority, row);
            saveLocal(collection, id, new RecordState(after, false), row);
        });
    }

    /** Deletes a record; returns whether there was a live record to delete. */
    public synchronized boolean delete(String collection, String id, Priority priority) throws OutpostException {
        boolean[] deleted = {false};
        write(collection, id, "delete", () -> {
            Row row = load(collection, id);
            if (row == null || row.local.deleted()) {
                return;
            }
            append(collection, id, OpType.DELETE, null, priority, row);
            saveLocal(collection, id, RecordState.ABSENT, row);
            deleted[0] = true;
        });
        return deleted[0];
    }

    private interface Work {
        void run() throws SQLException, OutpostException;
    }

    private LocalRecord write(String collection, String id, String action, Work work) throws OutpostException {
        try {
            work.run();
            putMeta(db, "hlc", hlc.last());
            db.commit();
            return readRecord(collection, id).orElse(null);
        } catch (SQLException e) {
            rollback(e);
            throw storage(action + " of " + collection + "/" + id + " was not saved: " + e.getMessage(), e);
        } catch (OutpostException | RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    private void append(String collection, String id, OpType type, ObjectNode data, Priority priority, Row row)
            throws SQLException {
        Long base = null;
        if (type != OpType.CREATE && !hasPending(collection, id)) {
            base = row.serverVersion;
        }
        try (PreparedStatement insert = db.prepareStatement(
                "INSERT INTO ops (op_id, collection, record_id, type, base_version, data, hlc, priority, created_at, status) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING')")) {
            insert.setString(1, Ids.uuidV7());
            insert.setString(2, collection);
            insert.setString(3, id);
            insert.setString(4, type.name());
            insert.setObject(5, base);
            insert.setString(6, data == null ? null : Wire.write(data));
            insert.setString(7, hlc.now());
            insert.setString(8, priority.name());
            insert.setLong(9, clock.millis());
            insert.executeUpdate();
        }
    }

    // ---- reads ----------------------------------------------------------------------------

    public synchronized Optional<LocalRecord> get(String collection, String id) throws OutpostException {
        try {
            return readRecord(collection, id);
        } catch (SQLException e) {
            throw storage("cannot read " + collection + "/" + id + ": " + e.getMessage(), e);
        }
    }

    /** The collection's live records, ordered by id. */
    public synchronized List<LocalRecord> list(String collection) throws OutpostException {
        try (PreparedStatement select = db.prepareStatement(
                "SELECT id, data, server_version, EXISTS (SELECT 1 FROM ops o WHERE o.collection = r.collection "
                        + "AND o.record_id = r.id AND o.status = 'PENDING') FROM records r "
                        + "WHERE collection = ? AND deleted = 0 ORDER BY id")) {
            select.setString(1, collection);
            List<LocalRecord> records = new ArrayList<>();
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    records.add(new LocalRecord(collection, rows.getString(1), Wire.object(rows.getString(2)),
                            rows.getLong(3), rows.getBoolean(4) ? SyncState.PENDING : SyncState.SYNCED));
                }
            }
            return records;
        } catch (SQLException e) {
            throw storage("cannot list " + collection + ": " + e.getMessage(), e);
        }
    }

    /** How many ops wait to be pushed. */
    public synchronized int pendingCount() throws OutpostException {
        try (Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("SELECT COUNT(*) FROM ops WHERE status = 'PENDING'")) {
            rows.next();
            return rows.getInt(1);
        } catch (SQLException e) {
            throw storage("cannot count pending ops: " + e.getMessage(), e);
        }
    }

    /** How many ops ended in each status, for inspection and tests. */
    public synchronized Map<String, Integer> opCounts() throws OutpostException {
        try (Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("SELECT status, COUNT(*) FROM ops GROUP BY status")) {
            Map<String, Integer> counts = new HashMap<>();
            while (rows.next()) {
                counts.put(rows.getString(1), rows.getInt(2));
            }
            return counts;
        } catch (SQLException e) {
            throw storage("cannot count ops: " + e.getMessage(), e);
        }
    }

    private Optional<LocalRecord> readRecord(String collection, String id) throws SQLException {
        Row row = load(collection, id);
        if (row == null || row.local.deleted()) {
            return Optional.empty();
        }
        return Optional.of(new LocalRecord(collection, id, row.local.data().deepCopy(), row.serverVersion,
                hasPending(collection, id) ? SyncState.PENDING : SyncState.SYNCED));
    }

    // ---- sync -----------------------------------------------------------------------------

    /**
     * The next ops to push, oldest first, each with the base version it is sent with: its own
     * if it was written against a server version, else the version its predecessors in the
     * record's chain will have brought the record to.
     */
    synchronized List<PendingOp> nextBatch(int max) throws OutpostException {
        try (PreparedStatement select = db.prepareStatement(
                "SELECT seq, op_id, collection, record_id, type, base_version, data, hlc, priority "
                        + "FROM ops WHERE status = 'PENDING' ORDER BY seq LIMIT ?")) {
            select.setInt(1, max);
            List<PendingOp> batch = new ArrayList<>();
            Map<String, Long> chainVersion = new HashMap<>();
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    String collection = rows.getString(3);
                    String recordId = rows.getString(4);
                    OpType type = OpType.valueOf(rows.getString(5));
                    long stored = rows.getLong(6);
                    boolean hasBase = !rows.wasNull();
                    String key = collection + '\u0000' + recordId;
                    Long known = chainVersion.get(key);
                    if (known == null) {
                        Row row = load(collection, recordId);
                        known = row == null ? 0L : row.serverVersion;
                    }
                    Long base = type == OpType.CREATE ? null : (hasBase ? stored : known);
                    chainVersion.put(key, known + 1);
                    String data = rows.getString(7);
                    batch.add(new PendingOp(rows.getLong(1), rows.getString(2), collection, recordId, type, base,
                            data == null ? null : Wire.object(data), rows.getString(8), Priority.valueOf(rows.getString(9))));
                }
            }
            return batch;
        } catch (SQLException e) {
            throw storage("cannot read the op queue: " + e.getMessage(), e);
        }
    }

    /** The counts of one batch's outcomes. */
    record Outcomes(int applied, int conflicts, int rejected) {
    }

    /**
     * Records the server's answers to a pushed batch and rebases the touched records, in one
     * transaction. {@code results} are in the batch's order.
     */
    synchronized Outcomes recordResults(List<PendingOp> sent, List<OpResult> results) throws OutpostException {
        int applied = 0;
        int conflicts = 0;
        int rejected = 0;
        long now = clock.millis();
        Set<String> touched = new LinkedHashSet<>();
        try {
            for (int i = 0; i < sent.size(); i++) {
                PendingOp op = sent.get(i);
                OpResult result = results.get(i);
                Row row = load(op.collection(), op.recordId());
                String status;
                if (result.error() != null) {
                    status = "DEAD";
                    rejected++;
                } else if (result.record() != null) {
                    status = "CONFLICT";
                    conflicts++;
                    ServerRecord server = result.record();
                    if (row == null || server.version() >= row.serverVersion) {
                        saveServer(op.collection(), op.recordId(), new RecordState(server.data(), server.deleted()),
                                server.version(), server.hlc(), now, row);
                    }
                } else if (result.version() != null) {
                    status = "APPLIED";
                    applied++;
                    if (row == null || result.version() > row.serverVersion) {
                        RecordState before = row == null ? RecordState.ABSENT : row.server;
                        saveServer(op.collection(), op.recordId(), before.after(op.type(), op.data()),
                                result.version(), op.hlc(), now, row);
                    }
                } else {
                    throw new OutpostException(Category.SERVER, "BAD_RESULT", "the server's result for op " + op.opId()
                            + " has status " + result.status() + " but neither a version, a record nor an error");
                }
                try (PreparedStatement update = db.prepareStatement(
                        "UPDATE ops SET status = ?, result = ?, last_error = ?, attempts = attempts + 1, finished_at = ? "
                                + "WHERE seq = ?")) {
                    update.setString(1, status);
                    update.setString(2, Wire.write(result));
                    update.setString(3, result.error() == null ? null : result.error().code() + ": " + result.error().message());
                    update.setLong(4, now);
                    update.setLong(5, op.seq());
                    update.executeUpdate();
                }
                touched.add(op.collection() + '\u0000' + op.recordId());
            }
            for (String key : touched) {
                int split = key.indexOf('\u0000');
                rebase(key.substring(0, split), key.substring(split + 1));
            }
            db.commit();
            return new Outcomes(applied, conflicts, rejected);
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot record the results of " + sent.size() + " pushed ops: " + e.getMessage(), e);
        } catch (OutpostException | RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    /** Notes a failed attempt on each op of a batch that the server did not answer. */
    synchronized void recordAttempt(List<PendingOp> sent, String error) throws OutpostException {
        try (PreparedStatement update = db.prepareStatement(
                "UPDATE ops SET attempts = attempts + 1, last_error = ? WHERE seq = ? AND status = 'PENDING'")) {
            for (PendingOp op : sent) {
                update.setString(1, error);
                update.setLong(2, op.seq());
                update.addBatch();
            }
            update.executeBatch();
            db.commit();
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot record a failed attempt: " + e.getMessage(), e);
        }
    }

    /** The last pull cursor, or null before the first pull. */
    synchronized String cursor() throws OutpostException {
        try {
            return meta(db, "cursor");
        } catch (SQLException e) {
            throw storage("cannot read the pull cursor: " + e.getMessage(), e);
        }
    }

    /**
     * Applies a page of pulled changes and stores the cursor after it, in one transaction, so
     * a crash between pages resumes after the last page fully applied.
     */
    synchronized int applyChanges(List<Change> changes, String cursor) throws OutpostException {
        long now = clock.millis();
        int applied = 0;
        try {
            for (Change change : changes) {
                Row row = load(change.collection(), change.recordId());
                if (change.hlc() != null && Hlc.isValid(change.hlc())) {
                    hlc.observe(change.hlc());
                }
                if (row != null && change.version() <= row.serverVersion) {
                    continue;
                }
                saveServer(change.collection(), change.recordId(), new RecordState(change.data(), change.deleted()),
                        change.version(), change.hlc(), now, row);
                rebase(change.collection(), change.recordId());
                applied++;
            }
            putMeta(db, "cursor", cursor);
            putMeta(db, "hlc", hlc.last());
            db.commit();
            return applied;
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot apply " + changes.size() + " pulled changes: " + e.getMessage(), e);
        }
    }

    // ---- rows -----------------------------------------------------------------------------

    private record Row(RecordState local, RecordState server, long serverVersion) {
    }

    private Row load(String collection, String id) throws SQLException {
        try (PreparedStatement select = db.prepareStatement(
                "SELECT data, deleted, server_data, server_version, server_deleted FROM records WHERE collection = ? AND id = ?")) {
            select.setString(1, collection);
            select.setString(2, id);
            try (ResultSet rows = select.executeQuery()) {
                if (!rows.next()) {
                    return null;
                }
                String data = rows.getString(1);
                String serverData = rows.getString(3);
                return new Row(
                        new RecordState(data == null ? null : Wire.object(data), rows.getInt(2) != 0),
                        new RecordState(serverData == null ? null : Wire.object(serverData), rows.getInt(5) != 0),
                        rows.getLong(4));
            }
        }
    }

    private boolean hasPending(String collection, String id) throws SQLException {
        try (PreparedStatement select = db.prepareStatement(
                "SELECT 1 FROM ops WHERE collection = ? AND record_id = ? AND status = 'PENDING' LIMIT 1")) {
            select.setString(1, collection);
            select.setString(2, id);
            try (ResultSet rows = select.executeQuery()) {
                return rows.next();
            }
        }
    }

    private void saveLocal(String collection, String id, RecordState local, Row row) throws SQLException {
        if (row == null) {
            try (PreparedStatement insert = db.prepareStatement(
                    "INSERT INTO records (collection, id, data, deleted, server_version, server_deleted) VALUES (?, ?, ?, ?, 0, 1)")) {
                insert.setString(1, collection);
                insert.setString(2, id);
                insert.setString(3, local.data() == null ? null : Wire.write(local.data()));
                insert.setInt(4, local.deleted() ? 1 : 0);
                insert.executeUpdate();
            }
            return;
        }
        try (PreparedStatement update = db.prepareStatement(
                "UPDATE records SET data = ?, deleted = ? WHERE collection = ? AND id = ?")) {
            update.setString(1, local.data() == null ? null : Wire.write(local.data()));
            update.setInt(2, local.deleted() ? 1 : 0);
            update.setString(3, collection);
            update.setString(4, id);
            update.executeUpdate();
        }
    }

    private void saveServer(String collection, String id, RecordState server, long version, String serverHlc, long now,
            Row row) throws SQLException {
        String data = server.data() == null ? null : Wire.write(server.data());
        if (row == null) {
            try (PreparedStatement insert = db.prepareStatement(
                    "INSERT INTO records (collection, id, data, deleted, server_data, server_version, server_deleted, "
                            + "server_hlc, last_synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")) {
                insert.setString(1, collection);
                insert.setString(2, id);
                insert.setString(3, data);
                insert.setInt(4, server.deleted() ? 1 : 0);
                insert.setString(5, data);
                insert.setLong(6, version);
                insert.setInt(7, server.deleted() ? 1 : 0);
                insert.setString(8, serverHlc);
                insert.setLong(9, now);
                insert.executeUpdate();
            }
            return;
        }
        try (PreparedStatement update = db.prepareStatement(
                "UPDATE records SET server_data = ?, server_version = ?, server_deleted = ?, server_hlc = ?, last_synced_at = ? "
                        + "WHERE collection = ? AND id = ?")) {
            update.setString(1, data);
            update.setLong(2, version);
            update.setInt(3, server.deleted() ? 1 : 0);
            update.setString(4, serverHlc);
            update.setLong(5, now);
            update.setString(6, collection);
            update.setString(7, id);
            update.executeUpdate();
        }
    }

    /** Rebuilds a record's local view as its server state with its pending ops applied in order. */
    private void rebase(String collection, String id) throws SQLException {
        Row row = load(collection, id);
        if (row == null) {
            return;
        }
        RecordState state = row.server;
        boolean anyPending = false;
        try (PreparedStatement select = db.prepareStatement(
                "SELECT type, data FROM ops WHERE collection = ? AND record_id = ? AND status = 'PENDING' ORDER BY seq")) {
            select.setString(1, collection);
            select.setString(2, id);
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    anyPending = true;
                    String data = rows.getString(2);
                    state = state.after(OpType.valueOf(rows.getString(1)), data == null ? null : Wire.object(data));
                }
            }
        }
        if (!anyPending && row.serverVersion == 0) {
            try (PreparedStatement delete = db.prepareStatement("DELETE FROM records WHERE collection = ? AND id = ?")) {
                delete.setString(1, collection);
                delete.setString(2, id);
                delete.executeUpdate();
            }
            return;
        }
        saveLocal(collection, id, state, row);
    }

    // ---- plumbing -------------------------------------------------------------------------

    private static String meta(Connection db, String key) throws SQLException {
        try (PreparedStatement select = db.prepareStatement("SELECT value FROM meta WHERE key = ?")) {
            select.setString(1, key);
            try (ResultSet rows = select.executeQuery()) {
                return rows.next() ? rows.getString(1) : null;
            }
        }
    }

    private static void putMeta(Connection db, String key, String value) throws SQLException {
        if (value == null) {
            return;
        }
        try (PreparedStatement upsert = db.prepareStatement(
                "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")) {
            upsert.setString(1, key);
            upsert.setString(2, value);
            upsert.executeUpdate();
        }
    }

    private void rollback(Exception cause) {
        try {
            db.rollback();
        } catch (SQLException e) {
            cause.addSuppressed(e);
        }
    }

    private static OutpostException storage(String message, Exception cause) {
        return new OutpostException(Category.STORAGE, "STORAGE_FAILURE", message, cause);
    }

    private static void closeQuietly(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException e) {
                // Already failing to open; the open error is what the caller needs.
            }
        }
    }

    @Override
    public synchronized void close() {
        closeQuietly(db);
    }
}
