package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.ClientConflictPolicy;
import dev.outpost.client.Conflict;
import dev.outpost.client.Resolution;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.ConflictRules;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.ServerRecord;
import dev.outpost.protocol.Wire;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * The conflicts the device settled or holds: the {@code conflicts} table (schema in
 * {@code V5__device_conflicts.sql}), and the rules that turn a {@link ClientConflictPolicy} and a
 * {@link Resolution} into the record the device's change should leave. Methods run inside the
 * transaction of the {@link LocalStore} that owns the connection; none commits.
 */
final class DeviceConflicts {
    /**
     * How many times in a row one change may be queued again by a policy or resolver before
     * its next conflict waits for the app instead: a record that keeps changing on the server
     * while the device sends its change again must not keep a sync busy for ever.
     */
    static final int MAX_REQUEUES = 8;

    private static final String COLUMNS = "id, op_seq, op_id, collection, record_id, base, local, remote, remote_version, "
            + "remote_deleted, local_hlc, remote_hlc, detected_at, status, awaiting_resolver, error, resolution, resolved_by, "
            + "remote_record_id";

    private final Statements statements;
    private final FieldCipher cipher;

    DeviceConflicts(Statements statements, FieldCipher cipher) {
        this.statements = statements;
        this.cipher = cipher;
    }

    /** A conflict as stored; {@code status} OPEN or RESOLVED. */
    record Stored(String id, long opSeq, String opId, String collection, String recordId, ObjectNode base, ObjectNode local,
            ObjectNode remote, long remoteVersion, boolean remoteDeleted, String localHlc, String remoteHlc, long detectedAt,
            String status, boolean awaitingResolver, String error, String resolution, String resolvedBy,
            String remoteRecordId) {

        /** The conflict as the app sees it. */
        Conflict toConflict() {
            return new Conflict(id, collection, recordId, opId, copy(base), copy(local), copy(remote), remoteVersion,
                    remoteDeleted, localHlc, remoteHlc, Instant.ofEpochMilli(detectedAt), error,
                    remoteRecordId == null ? recordId : remoteRecordId);
        }

        Stored withError(String reason) {
            return new Stored(id, opSeq, opId, collection, recordId, base, local, remote, remoteVersion, remoteDeleted,
                    localHlc, remoteHlc, detectedAt, status, false, reason, resolution, resolvedBy, remoteRecordId);
        }

        ServerRecord remoteRecord() {
            return new ServerRecord(collection, recordId, remoteVersion, remoteDeleted, remote, remoteHlc);
        }

        private static ObjectNode copy(ObjectNode node) {
            return node == null ? null : node.deepCopy();
        }
    }

    /** An op that carries a change to the server again: its type, payload and base version. */
    record Requeue(OpType type, ObjectNode data, Long baseVersion) {
    }

    // ---- rules ------------------------------------------------------------------------------

    /** The record as a change made it from {@code before}; null for a delete. */
    static ObjectNode intended(OpType type, ObjectNode opData, RecordState before) {
        return switch (type) {
            case DELETE -> null;
            case CREATE -> JsonMergePatch.withoutNulls(opData);
            case UPDATE -> JsonMergePatch.apply(before == null || before.deleted() ? null : before.data(), opData);
        };
    }

    /** What a policy makes of a conflict, given the device's op (type and payload). */
    static Resolution decide(ClientConflictPolicy policy, OpType type, ObjectNode opData, Stored conflict) {
        return switch (policy) {
            case SERVER_WINS -> Resolution.useServer();
            case CLIENT_WINS -> Resolution.useLocal();
            case LAST_MODIFIED_WINS -> Hlc.compare(conflict.localHlc(), conflict.remoteHlc()) > 0
                    ? Resolution.useLocal() : Resolution.useServer();
            case MERGE -> merge(type, opData, conflict);
            case PROMPT_USER -> Resolution.later();
        };
    }

    /** The three-way merge of the protocol ({@link ConflictRules}, policy MERGE, no counters). */
    private static Resolution merge(OpType type, ObjectNode opData, Stored conflict) {
        Operation op = new Operation(conflict.opId(), conflict.collection(), conflict.recordId(), type, null, opData,
                conflict.localHlc(), Priority.NORMAL);
        ServerRecord base = conflict.base() == null ? null
                : new ServerRecord(conflict.collection(), conflict.recordId(), 0, false, conflict.base(), null);
        ConflictRules.Settlement settled = ConflictRules.settle(ConflictPolicy.MERGE, op, conflict.remoteRecord(), base, Set.of());
        return switch (settled.winner()) {
            case SERVER -> Resolution.useServer();
            case CLIENT -> Resolution.useLocal();
            case MERGED -> Resolution.merged(settled.data());
        };
    }

    /**
     * The record once the device's change wins over {@code current}, as the server's CLIENT_WINS
     * applies it: a delete deletes, a create's record replaces, an update's fields go on top; a
     * record the server deleted comes back as the device had it ({@code local}).
     */
    static RecordState clientWins(OpType type, ObjectNode opData, ObjectNode local, RecordState current) {
        return switch (type) {
            case DELETE -> RecordState.ABSENT;
            case CREATE -> new RecordState(JsonMergePatch.withoutNulls(opData), false);
            case UPDATE -> current.deleted() || current.data() == null
                    ? new RecordState(local != null ? local : JsonMergePatch.withoutNulls(opData), false)
                    : new RecordState(JsonMergePatch.apply(current.data(), opData), false);
        };
    }

    /** The op that turns {@code current} (at {@code version}) into {@code target}; null if they are the same. */
    static Requeue change(RecordState current, long version, RecordState target) {
        if (target.deleted()) {
            return current.deleted() ? null : new Requeue(OpType.DELETE, null, version);
        }
        if (current.deleted()) {
            return new Requeue(OpType.CREATE, target.data(), null);
        }
        ObjectNode patch = JsonMergePatch.diff(current.data(), target.data());
        return patch.isEmpty() ? null : new Requeue(OpType.UPDATE, patch, version);
    }

    // ---- the table --------------------------------------------------------------------------

    /**
     * Stores a conflict: OPEN when {@code resolution} is null (waiting for the app, or for the
     * collection's resolver if {@code awaitingResolver}), else RESOLVED.
     */
    void insert(Stored conflict, boolean awaitingResolver, String resolution, String resolvedBy, String requeuedOpId,
            Long resolvedAt) throws SQLException {
        PreparedStatement insert = statements.get(
                "INSERT INTO conflicts (id, op_seq, op_id, collection, record_id, base, local, remote, remote_version, "
                        + "remote_deleted, local_hlc, remote_hlc, detected_at, status, awaiting_resolver, resolution, "
                        + "resolved_by, requeued_op_id, error, resolved_at, remote_record_id) "
                        + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        insert.setString(1, conflict.id());
        insert.setLong(2, conflict.opSeq());
        insert.setString(3, conflict.opId());
        insert.setString(4, conflict.collection());
        insert.setString(5, conflict.recordId());
        insert.setString(6, json(conflict, conflict.base()));
        insert.setString(7, json(conflict, conflict.local()));
        insert.setString(8, json(conflict, conflict.remote()));
        insert.setLong(9, conflict.remoteVersion());
        insert.setInt(10, conflict.remoteDeleted() ? 1 : 0);
        insert.setString(11, conflict.localHlc());
        insert.setString(12, conflict.remoteHlc());
        insert.setLong(13, conflict.detectedAt());
        insert.setString(14, resolution == null ? "OPEN" : "RESOLVED");
        insert.setInt(15, awaitingResolver ? 1 : 0);
        insert.setString(16, resolution);
        insert.setString(17, resolvedBy);
        insert.setString(18, requeuedOpId);
        insert.setString(19, conflict.error());
        insert.setObject(20, resolvedAt);
        insert.setString(21, conflict.remoteRecordId());
        insert.executeUpdate();
    }

    /** Settles an open conflict. */
    void resolve(String id, String resolution, String resolvedBy, String requeuedOpId, long now) throws SQLException {
        PreparedStatement update = statements.get(
                "UPDATE conflicts SET status = 'RESOLVED', awaiting_resolver = 0, resolution = ?, resolved_by = ?, "
                        + "requeued_op_id = ?, resolved_at = ? WHERE id = ?");
        update.setString(1, resolution);
        update.setString(2, resolvedBy);
        update.setString(3, requeuedOpId);
        update.setLong(4, now);
        update.setString(5, id);
        update.executeUpdate();
    }

    /** Leaves a conflict open for the app, no longer waiting for a resolver, with {@code error} (null: none). */
    void hold(String id, String error) throws SQLException {
        PreparedStatement update = statements.get("UPDATE conflicts SET awaiting_resolver = 0, error = ? WHERE id = ?");
        update.setString(1, error);
        update.setString(2, id);
        update.executeUpdate();
    }

    /** The conflict with this id, open or resolved; null if there is none. */
    Stored find(String id) throws SQLException {
        PreparedStatement select = statements.get("SELECT " + COLUMNS + " FROM conflicts WHERE id = ?");
        select.setString(1, id);
        List<Stored> found = read(select);
        return found.isEmpty() ? null : found.get(0);
    }

    /** The open conflicts, oldest first. */
    List<Stored> open() throws SQLException {
        return read(statements.get("SELECT " + COLUMNS + " FROM conflicts WHERE status = 'OPEN' ORDER BY rowid"));
    }

    /** The open conflicts not yet put to their collection's resolver, oldest first. */
    List<Stored> awaitingResolver() throws SQLException {
        return read(statements.get(
                "SELECT " + COLUMNS + " FROM conflicts WHERE status = 'OPEN' AND awaiting_resolver = 1 ORDER BY rowid"));
    }

    /** Whether a conflict on the record waits for the app (or its resolver). */
    boolean openOn(String collection, String id) throws SQLException {
        PreparedStatement select = statements.get(
                "SELECT 1 FROM conflicts WHERE collection = ? AND record_id = ? AND status = 'OPEN' LIMIT 1");
        select.setString(1, collection);
        select.setString(2, id);
        try (ResultSet rows = select.executeQuery()) {
            return rows.next();
        }
    }

    int openCount() throws SQLException {
        try (ResultSet rows = statements.get("SELECT COUNT(*) FROM conflicts WHERE status = 'OPEN'").executeQuery()) {
            rows.next();
            return rows.getInt(1);
        }
    }

    /** How many conflicts of the op in row {@code opSeq} (written at {@code since}) queued its change again. */
    int requeues(long opSeq, long since) throws SQLException {
        PreparedStatement select = statements.get(
                "SELECT COUNT(*) FROM conflicts WHERE op_seq = ? AND detected_at >= ? AND requeued_op_id IS NOT NULL");
        select.setLong(1, opSeq);
        select.setLong(2, since);
        try (ResultSet rows = select.executeQuery()) {
            rows.next();
            return rows.getInt(1);
        }
    }

    /** Deletes resolved conflicts settled before {@code cutoff}; returns how many went. */
    int purge(long cutoff) throws SQLException {
        PreparedStatement delete = statements.get("DELETE FROM conflicts WHERE status = 'RESOLVED' AND resolved_at < ?");
        delete.setLong(1, cutoff);
        return delete.executeUpdate();
    }

    private String json(Stored conflict, ObjectNode data) throws SQLException {
        return data == null ? null : Wire.write(cipher.seal(conflict.collection(), conflict.recordId(), data));
    }

    private ObjectNode object(String collection, String id, String json) throws SQLException {
        return json == null ? null : cipher.open(collection, id, Wire.object(json));
    }

    private List<Stored> read(PreparedStatement select) throws SQLException {
        List<Stored> found = new ArrayList<>();
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                String collection = rows.getString(4);
                String id = rows.getString(5);
                found.add(new Stored(rows.getString(1), rows.getLong(2), rows.getString(3), collection, id,
                        object(collection, id, rows.getString(6)), object(collection, id, rows.getString(7)),
                        object(collection, id, rows.getString(8)), rows.getLong(9), rows.getInt(10) != 0,
                        rows.getString(11), rows.getString(12), rows.getLong(13), rows.getString(14), rows.getInt(15) != 0,
                        rows.getString(16), rows.getString(17), rows.getString(18), rows.getString(19)));
            }
        }
        return found;
    }
}
