package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.DeadLetter;
import dev.outpost.client.OpInfo;
import dev.outpost.client.OpQuery;
import dev.outpost.client.OpState;
import dev.outpost.protocol.Ids;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The durable op queue: the {@code ops} table. Methods run inside the transaction of the
 * {@link LocalStore} that owns the connection; none commits.
 *
 * <p>Rules it keeps: ops of one record go out in the order they were written, and an op waits
 * while an earlier op of its record is pending or dead; ops of different records never wait
 * for each other. Only the head of a record's chain is sent, one op per record per batch, so
 * an op never travels with an earlier op of its record whose outcome is not yet known (were
 * that one rejected, the later one must wait behind it, not be applied against a version the
 * rejected op never made). A conflict held on the device for the app (the {@code conflicts}
 * table) holds back its record's later ops the way a dead op does. A new op raises the
 * priority of the earlier pending ops of its record to its own (so a CRITICAL write never
 * waits behind a LOW one). Batches are filled
 * across priorities by smooth weighted round robin (kept across batches): while all four
 * priorities have ready ops, every run of sum-of-weights consecutive ops holds each priority
 * exactly its weight (8, 4, 2, 1 of 15 by default), and each priority's first op goes out
 * within the first 15 sent, so none starves.
 */
final class OpQueue {
    private static final Priority[] HIGHEST_FIRST = {Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW};

    private final Statements statements;
    private final QueueSettings settings;
    private final FieldCipher cipher;
    private final Map<Priority, Long> roundRobin = new EnumMap<>(Priority.class);
    /** Ops dead-lettered as unreadable by draws since {@link #takeDeadAtDraw} last ran. */
    private int deadAtDraw;

    OpQueue(Statements statements, QueueSettings settings, FieldCipher cipher) {
        this.statements = statements;
        this.cipher = cipher;
        this.settings = settings;
        for (Priority priority : Priority.values()) {
            roundRobin.put(priority, 0L);
        }
    }

    /**
     * An op of a record's open chain (pending or dead), as stored; {@code base} is its base
     * version, null while it waits behind another open op of its record (see {@link #insert});
     * {@code data} is null for a DELETE and for a payload the store cannot read back.
     */
    record OpenOp(long seq, OpType type, ObjectNode data, Priority priority, String status, boolean sent, Long base) {
    }

    // ---- writing ----------------------------------------------------------------------------

    /**
     * What a record's chain holds after an append.
     *
     * @param hasDead an op of the chain is dead-lettered
     * @param empty no op of the record is open (a DELETE cancelled an unsent chain begun by a CREATE)
     */
    record Chain(boolean hasDead, boolean empty) {
    }

    /**
     * Queues the op of a local write, folding it into the record's ops where the result on the
     * server is the same as sending it on its own.
     *
     * <p>An UPDATE folds only into an unsent UPDATE that waits behind another open op of its
     * record (it has no base version): such an op takes its base only when the op before it is
     * answered, from that answer, and so is not judged against a version older than the one the
     * later write would go with. The record's first open op, which carries the version it was
     * written against, is never folded into: a conflict on it is judged on its own fields and
     * its own clock, and an unrelated later edit, or an older edit under a later clock, does not
     * go with it. A DELETE cancels the record's whole chain when that chain is a CREATE made
     * while the record was not live on the server followed only by unsent ops, none of which
     * the server has seen.
     *
     * @param serverVersion the record's server version as the device knows it
     * @param serverLive whether the record is live on the server as the device knows it
     */
    Chain append(String collection, String id, OpType type, ObjectNode data, Priority priority, long serverVersion,
            boolean serverLive, String hlc, long now) throws SQLException {
        List<OpenOp> open = openChain(collection, id);
        OpenOp last = open.isEmpty() ? null : open.get(open.size() - 1);
        if (settings.coalescing() && last != null && unsent(last)) {
            if (type == OpType.UPDATE && last.type() == OpType.UPDATE && last.base() == null && open.size() > 1
                    && last.data() != null) {
                ObjectNode merged = JsonMergePatch.compose(last.data(), data);
                if (merged != null) {
                    // The merged op ends where the later write would have: the record's clock
                    // on the server is this write's.
                    Priority raised = max(priority, last.priority());
                    PreparedStatement update = statements.get(
                        "UPDATE ops SET data = ?, codec = ?, hlc = ?, priority = ?, size = ? WHERE seq = ?");
                    Payloads.Stored stored = Payloads.encode(cipher.seal(collection, id, merged));
                    Payloads.bind(update, 1, stored);
                    update.setInt(2, stored.codec());
                    update.setString(3, hlc);
                    update.setString(4, raised.name());
                    update.setInt(5, stored.size());
                    update.setLong(6, last.seq());
                    update.executeUpdate();
                    inheritPriority(open, raised);
                    return chainAfter(open, false);
                }
            }
            OpenOp first = open.get(0);
            if (type == OpType.DELETE && first.type() == OpType.CREATE && first.base() != null
                    && open.stream().allMatch(OpQueue::unsent)) {
                if (!serverLive) {
                    // Before the CREATE the record was absent or deleted, which is what DELETE leaves.
                    PreparedStatement delete = statements.get("DELETE FROM ops WHERE seq = ?");
                    for (OpenOp op : open) {
                        delete.setLong(1, op.seq());
                        delete.addBatch();
                    }
                    delete.executeBatch();
                    return new Chain(false, true);
                }
                if (open.size() == 1) {
                    // A pull has since put a live server record under the unsent CREATE: cancelling
                    // would leave that record standing. The CREATE becomes a DELETE of it.
                    PreparedStatement toDelete = statements.get(
                        "UPDATE ops SET type = 'DELETE', data = NULL, codec = 0, size = 0, base_version = ?, hlc = ?, "
                                + "priority = ? WHERE seq = ?");
                    toDelete.setLong(1, serverVersion);
                    toDelete.setString(2, hlc);
                    toDelete.setString(3, max(priority, last.priority()).name());
                    toDelete.setLong(4, last.seq());
                    toDelete.executeUpdate();
                    return new Chain(false, false);
                }
            }
        }
        Long base = open.isEmpty() ? serverVersion : null;
        insert(collection, id, type, base, data, priority, hlc, now);
        inheritPriority(open, priority);
        return chainAfter(open, true);
    }

    /**
     * Queues the CREATE of a record the device holds no row for. A record keeps its row while
     * any op of it is open, so there is no chain to fold into or raise.
     */
    void appendCreate(String collection, String id, ObjectNode data, Priority priority, String hlc, long now)
            throws SQLException {
        insert(collection, id, OpType.CREATE, 0L, data, priority, hlc, now);
    }

    /**
     * Inserts a pending op. {@code base} is the server version it was written against, given
     * only when no op of its record is open: an op that has a base version has no open op
     * before it, which the draw relies on. Ops take a base later only as their record's first
     * open op ({@link #markSent}, {@link #baseForNext}), and an op put back before them
     * ({@link #requeue}) takes it from those not yet sent; those sent cannot be behind it, as it
     * held them back while its conflict was open.
     */
    private void insert(String collection, String id, OpType type, Long base, ObjectNode data, Priority priority, String hlc,
            long now) throws SQLException {
        Payloads.Stored stored = Payloads.encode(cipher.seal(collection, id, data));
        PreparedStatement insert = statements.get(
            "INSERT INTO ops (op_id, collection, record_id, type, base_version, data, hlc, priority, created_at, status, size, codec) "
                    + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'PENDING', ?, ?)");
        insert.setString(1, Ids.uuidV7());
        insert.setString(2, collection);
        insert.setString(3, id);
        insert.setString(4, type.name());
        insert.setObject(5, base);
        Payloads.bind(insert, 6, stored);
        insert.setString(7, hlc);
        insert.setString(8, priority.name());
        insert.setLong(9, now);
        insert.setInt(10, stored.size());
        insert.setInt(11, stored.codec());
        insert.executeUpdate();
    }

    private static boolean unsent(OpenOp op) {
        return op.status().equals("PENDING") && !op.sent();
    }

    private static Chain chainAfter(List<OpenOp> open, boolean appended) {
        return new Chain(hasDead(open), open.isEmpty() && !appended);
    }

    private static boolean hasDead(List<OpenOp> open) {
        for (OpenOp op : open) {
            if (op.status().equals("DEAD")) {
                return true;
            }
        }
        return false;
    }

    private void inheritPriority(List<OpenOp> earlier, Priority priority) throws SQLException {
        for (OpenOp op : earlier) {
            if (op.status().equals("PENDING") && op.priority().compareTo(priority) < 0) {
                PreparedStatement update = statements.get("UPDATE ops SET priority = ? WHERE seq = ?");
                update.setString(1, priority.name());
                update.setLong(2, op.seq());
                update.executeUpdate();
            }
        }
    }

    private static Priority max(Priority a, Priority b) {
        return a.compareTo(b) >= 0 ? a : b;
    }

    /** The record's pending and dead ops, oldest first. */
    /**
     * After a pull moved a record's server state from version {@code from} ({@code before}) to
     * {@code to} ({@code after}): the record's first open op, if it is an unsent UPDATE made
     * against {@code from} whose patch touches no top-level field that changed between the
     * two, is moved onto {@code to}. The server then applies it as a plain update instead of
     * answering a conflict for edits that never overlapped; the local view is the same either
     * way. Ops that overlap keep their base and meet the conflict policy.
     */
    void advanceDisjoint(String collection, String id, long from, ObjectNode before, long to, ObjectNode after)
            throws SQLException {
        if (before == null || after == null) {
            return;
        }
        List<OpenOp> open = openChain(collection, id);
        if (open.isEmpty()) {
            return;
        }
        OpenOp head = open.get(0);
        if (head.type() != OpType.UPDATE || head.sent() || !head.status().equals("PENDING") || head.data() == null) {
            return;
        }
        java.util.Set<String> changed = new java.util.HashSet<>();
        before.fieldNames().forEachRemaining(field -> {
            if (!before.get(field).equals(after.get(field))) {
                changed.add(field);
            }
        });
        after.fieldNames().forEachRemaining(field -> {
            if (!before.has(field)) {
                changed.add(field);
            }
        });
        java.util.Iterator<String> patched = head.data().fieldNames();
        while (patched.hasNext()) {
            if (changed.contains(patched.next())) {
                return;
            }
        }
        PreparedStatement update = statements.get("UPDATE ops SET base_version = ? WHERE seq = ? AND base_version = ?");
        update.setLong(1, to);
        update.setLong(2, head.seq());
        update.setLong(3, from);
        update.executeUpdate();
    }

    List<OpenOp> openChain(String collection, String id) throws SQLException {
        PreparedStatement select = statements.get(
            "SELECT seq, type, data, priority, status, sent_at, codec, base_version FROM ops "
                    + "WHERE collection = ? AND record_id = ? AND status IN ('PENDING', 'DEAD') ORDER BY seq");
        select.setString(1, collection);
        select.setString(2, id);
        List<OpenOp> chain = new ArrayList<>();
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                ObjectNode data;
                try {
                    data = cipher.open(collection, id, Payloads.read(rows, 3, 7));
                } catch (SQLException e) {
                    if (!Payloads.undecodable(e)) {
                        throw e;
                    }
                    // Dead-lettered at its draw; a later write of the record waits behind it.
                    data = null;
                }
                rows.getLong(6);
                boolean sent = !rows.wasNull();
                long stored = rows.getLong(8);
                Long base = rows.wasNull() ? null : stored;
                chain.add(new OpenOp(rows.getLong(1), OpType.valueOf(rows.getString(2)),
                        data, Priority.valueOf(rows.getString(4)),
                        rows.getString(5), sent, base));
            }
        }
        return chain;
    }

    // ---- sending ----------------------------------------------------------------------------

    /** A ready op drawn for a batch, before its base version is known. */
    private record Candidate(long seq, String opId, String collection, String recordId, OpType type, Long storedBase,
            ObjectNode data, String hlc, Priority priority) {
    }

    /**
     * Draws the next batch: the heads of record chains that are due by {@code now} (pending,
     * no earlier pending or dead op of their record), shared across priorities by weight,
     * leaving out the ops in {@code inFlight} (sent in a push not yet answered; the ops behind
     * them on their records are not heads, so they wait too). Marks them sent. An UPDATE or
     * DELETE goes with the version it was written against, or, if it followed other ops of its
     * record, the record's server version as now known.
     */
    List<PendingOp> nextBatch(int max, long now, RecordVersions versions, Set<Long> inFlight) throws SQLException {
        Map<Priority, Deque<Candidate>> pools = new EnumMap<>(Priority.class);
        // A JSON array, the form SQLite's json_each reads.
        String excluded = Wire.write(inFlight);
        boolean held = anyConflictHeld();
        for (Priority priority : HIGHEST_FIRST) {
            Deque<Candidate> pool = readyHeads(priority, now, max, excluded, held);
            if (!pool.isEmpty()) {
                pools.put(priority, pool);
            }
        }
        List<PendingOp> batch = new ArrayList<>();
        while (batch.size() < max && !pools.isEmpty()) {
            Priority turn = nextTurn(pools.keySet());
            Deque<Candidate> pool = pools.get(turn);
            Candidate op = pool.poll();
            if (pool.isEmpty()) {
                pools.remove(turn);
            }
            Long base = op.type() == OpType.CREATE ? null
                    : op.storedBase() != null ? op.storedBase() : versions.serverVersion(op.collection(), op.recordId());
            batch.add(new PendingOp(op.seq(), op.opId(), op.collection(), op.recordId(), op.type(), base, op.data(),
                    op.hlc(), op.priority()));
        }
        markSent(batch, now);
        return batch;
    }

    /** Smooth weighted round robin over the priorities that still have ready ops. */
    private Priority nextTurn(Set<Priority> present) {
        long total = 0;
        Priority best = null;
        for (Priority priority : HIGHEST_FIRST) {
            if (!present.contains(priority)) {
                continue;
            }
            int weight = settings.weight(priority);
            total += weight;
            long current = roundRobin.get(priority) + weight;
            roundRobin.put(priority, current);
            if (best == null || current > roundRobin.get(best)) {
                best = priority;
            }
        }
        roundRobin.put(best, roundRobin.get(best) - total);
        return best;
    }

    /**
     * Whether a conflict held for the app (an open {@code conflicts} row) holds back any
     * record's ops; while none does, the draw skips that check row by row.
     */
    private boolean anyConflictHeld() throws SQLException {
        try (ResultSet rows = statements.get("SELECT EXISTS (SELECT 1 FROM conflicts WHERE status = 'OPEN')").executeQuery()) {
            return rows.next() && rows.getInt(1) == 1;
        }
    }

    private Deque<Candidate> readyHeads(Priority priority, long now, int max, String inFlight, boolean conflictsHeld)
            throws SQLException {
        // The ops in flight are left out before a row's other conditions are checked, so they
        // cost the walk little however many requests are on their way. An op with a base
        // version is known to be its record's first open op (see insert), so only the others
        // look for an earlier open op of their record. The limit is written into the statement:
        // bound as a parameter, SQLite compiles the statement again every time it is bound.
        PreparedStatement select = statements.get(
            "SELECT seq, op_id, collection, record_id, type, base_version, data, hlc, codec FROM ops o "
                    + "WHERE status = 'PENDING' AND priority = ? AND next_attempt_at <= ? "
                    + "AND seq NOT IN (SELECT value FROM json_each(?)) AND (o.base_version IS NOT NULL OR NOT EXISTS ("
                    + "SELECT 1 FROM ops e WHERE e.collection = o.collection AND e.record_id = o.record_id "
                    + "AND e.status IN ('PENDING', 'DEAD') AND e.seq < o.seq))"
                    + (conflictsHeld ? " AND NOT EXISTS (SELECT 1 FROM conflicts c WHERE c.collection = o.collection "
                            + "AND c.record_id = o.record_id AND c.status = 'OPEN')" : "")
                    + " ORDER BY seq LIMIT " + max);
        select.setString(1, priority.name());
        select.setLong(2, now);
        select.setString(3, inFlight);
        Deque<Candidate> pool = new ArrayDeque<>();
        Map<Long, String> undecodable = new HashMap<>();
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                long base = rows.getLong(6);
                Long storedBase = rows.wasNull() ? null : base;
                ObjectNode data;
                try {
                    data = cipher.open(rows.getString(3), rows.getString(4), Payloads.read(rows, 7, 9));
                } catch (SQLException e) {
                    if (!Payloads.undecodable(e)) {
                        throw e;
                    }
                    undecodable.put(rows.getLong(1), e.getMessage());
                    continue;
                }
                pool.add(new Candidate(rows.getLong(1), rows.getString(2), rows.getString(3), rows.getString(4),
                        OpType.valueOf(rows.getString(5)), storedBase, data,
                        rows.getString(8), priority));
            }
        }
        for (Map.Entry<Long, String> op : undecodable.entrySet()) {
            deadUnread(op.getKey(), op.getValue(), now);
        }
        return pool;
    }

    /**
     * Dead-letters an op whose stored payload cannot be decoded, so it holds back only the later
     * ops of its record, not every draw; the app replays it with new data or discards it.
     */
    private void deadUnread(long seq, String why, long now) throws SQLException {
        PreparedStatement update = statements.get(
            "UPDATE ops SET status = 'DEAD', last_error = ?, finished_at = ? WHERE seq = ? AND status = 'PENDING'");
        update.setString(1, "UNREADABLE_PAYLOAD: the op could not be read back from the store, so it is not sent ("
                + why + "); replay it with new data or discard it");
        update.setLong(2, now);
        update.setLong(3, seq);
        deadAtDraw += update.executeUpdate();
    }

    /** How many ops draws dead-lettered as unreadable since the last call. */
    int takeDeadAtDraw() {
        int dead = deadAtDraw;
        deadAtDraw = 0;
        return dead;
    }

    /**
     * Marks ops as sent and fixes the base version each goes with, so a re-sent op carries the
     * same base as its first send (the server compares it, and may hold the first send).
     */
    private void markSent(List<PendingOp> batch, long now) throws SQLException {
        PreparedStatement update = statements.get(
                "UPDATE ops SET sent_at = COALESCE(sent_at, ?), base_version = COALESCE(base_version, ?) WHERE seq = ?");
        for (PendingOp op : batch) {
            update.setLong(1, now);
            update.setObject(2, op.baseVersion());
            update.setLong(3, op.seq());
            update.addBatch();
        }
        update.executeBatch();
    }

    /**
     * After the store was restored from a backup: every open op not marked sent may have been
     * sent after the backup was taken (and applied, its answer recorded only in the file that was
     * lost), so it is marked sent. Nothing is then folded into it or cancelled against it, and
     * it is sent again as it is, which the server answers from its first outcome if it holds it.
     */
    void markPossiblySent(long now) throws SQLException {
        PreparedStatement update = statements.get(
                "UPDATE ops SET sent_at = ? WHERE status IN ('PENDING', 'DEAD') AND sent_at IS NULL");
        update.setLong(1, now);
        update.executeUpdate();
    }

    /**
     * After an op of a record was applied at {@code version}, the record's next open op, if it
     * was written while that one was open, was made against that version: it goes with it.
     */
    void baseForNext(String collection, String id, long version) throws SQLException {
        PreparedStatement update = statements.get(
                "UPDATE ops SET base_version = ? WHERE seq = (SELECT MIN(seq) FROM ops WHERE collection = ? AND record_id = ? "
                        + "AND status IN ('PENDING', 'DEAD')) AND base_version IS NULL AND type <> 'CREATE'");
        update.setLong(1, version);
        update.setString(2, collection);
        update.setString(3, id);
        update.executeUpdate();
    }

    /**
     * Adds to {@code open} the open ops (PENDING or DEAD) of the records named, each keyed by
     * {@link #openOpKey} and giving its seq: what {@link #landed} needs for a page of pulled
     * changes, read with one statement.
     */
    void openOps(String collection, List<String> ids, Map<String, Long> open) throws SQLException {
        PreparedStatement select = statements.get("SELECT record_id, op_id, seq FROM ops WHERE collection = ? "
                + "AND record_id IN (SELECT value FROM json_each(?)) AND status IN ('PENDING', 'DEAD')");
        select.setString(1, collection);
        select.setString(2, Wire.write(ids));
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                open.put(openOpKey(collection, rows.getString(1), rows.getString(2)), rows.getLong(3));
            }
        }
    }

    /** What {@link #openSeqs} does with each open op it finds: its record's id and its seq. */
    interface OpenSeq {
        void found(String recordId, long seq);
    }

    /**
     * Calls {@code each} for every open op (PENDING or DEAD) of the records named, read with one
     * statement from the record index alone.
     */
    void openSeqs(String collection, List<String> ids, OpenSeq each) throws SQLException {
        eachFound("SELECT record_id, seq FROM ops WHERE collection = ? "
                + "AND record_id IN (SELECT value FROM json_each(?)) AND status IN ('PENDING', 'DEAD')", collection, ids, each);
    }

    /**
     * Calls {@code each} for every open op of the records named that has no base version, read
     * from the small index of those ops ({@code ops_unbased}). As an op with a base version is
     * its record's first open op, a record's open ops other than its first are all among these.
     */
    void unbasedSeqs(String collection, List<String> ids, OpenSeq each) throws SQLException {
        try (ResultSet any = statements.get("SELECT EXISTS (SELECT 1 FROM ops INDEXED BY ops_unbased "
                + "WHERE base_version IS NULL AND status IN ('PENDING', 'DEAD'))").executeQuery()) {
            if (!any.next() || any.getInt(1) == 0) {
                return;
            }
        }
        eachFound("SELECT record_id, seq FROM ops INDEXED BY ops_unbased WHERE collection = ? "
                + "AND record_id IN (SELECT value FROM json_each(?)) AND base_version IS NULL AND status IN ('PENDING', 'DEAD')",
                collection, ids, each);
    }

    /** Runs {@code sql}, which selects record id and seq for a collection and a JSON array of ids, calling {@code each} per row. */
    private void eachFound(String sql, String collection, List<String> ids, OpenSeq each) throws SQLException {
        PreparedStatement select = statements.get(sql);
        select.setString(1, collection);
        select.setString(2, Wire.write(ids));
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                each.found(rows.getString(1), rows.getLong(2));
            }
        }
    }

    /** The key of an op of a record in {@link #openOps}: collection, record id and op id joined with NULs. */
    static String openOpKey(String collection, String id, String opId) {
        return collection + '\u0000' + id + '\u0000' + opId;
    }

    /**
     * A pulled change that this device's op made, while that op is still open (its answer was
     * lost, perhaps until it was dead-lettered): the op, {@code seq}, is marked APPLIED now,
     * and the record's next op takes the change's version as its base.
     */
    void landed(long seq, String collection, String id, long version, long now) throws SQLException {
        PreparedStatement update = statements.get(
                "UPDATE ops SET status = 'APPLIED', finished_at = ?, last_error = NULL WHERE seq = ?");
        update.setLong(1, now);
        update.setLong(2, seq);
        update.executeUpdate();
        baseForNext(collection, id, version);
    }

    /** Puts off a batch until {@code dueAt} without counting an attempt on its ops. */
    void postpone(List<PendingOp> ops, String error, long dueAt) throws SQLException {
        PreparedStatement update = statements.get(
                "UPDATE ops SET last_error = ?, next_attempt_at = ? WHERE seq = ? AND status = 'PENDING'");
        for (PendingOp op : ops) {
            update.setString(1, error);
            update.setLong(2, dueAt);
            update.setLong(3, op.seq());
            update.addBatch();
        }
        update.executeBatch();
    }

    /** Where the queue reads a record's server version from. */
    interface RecordVersions {
        long serverVersion(String collection, String id) throws SQLException;
    }

    // ---- outcomes ---------------------------------------------------------------------------

    /** Ends an op with the server's answer. */
    void finish(long seq, String status, String result, String error, long now) throws SQLException {
        PreparedStatement update = statements.get(
            "UPDATE ops SET status = ?, result = ?, last_error = ?, attempts = attempts + 1, finished_at = ? WHERE seq = ?");
        update.setString(1, status);
        update.setString(2, result);
        update.setString(3, error);
        update.setLong(4, now);
        update.setLong(5, seq);
        update.executeUpdate();
    }

    /**
     * Counts a failed attempt on each op and schedules the next one by the retry policy, no
     * sooner than {@code retryAfter}; an op out of attempts is dead-lettered with the error.
     *
     * @return the ops dead-lettered
     */
    List<PendingOp> retryLater(List<PendingOp> ops, String error, Duration retryAfter, long now) throws SQLException {
        List<PendingOp> dead = new ArrayList<>();
        for (PendingOp op : ops) {
            int attempts;
            PreparedStatement select = statements.get("SELECT attempts FROM ops WHERE seq = ? AND status = 'PENDING'");
            select.setLong(1, op.seq());
            try (ResultSet rows = select.executeQuery()) {
                if (!rows.next()) {
                    continue;
                }
                attempts = rows.getInt(1) + 1;
            }
            if (attempts > settings.retry().maxRetries()) {
                kill(op.seq(), "gave up after " + attempts + " attempts; last error: " + error, attempts, now);
                dead.add(op);
                continue;
            }
            Duration wait = settings.retry().delay(attempts, settings.random());
            if (retryAfter != null && retryAfter.compareTo(wait) > 0) {
                wait = retryAfter;
            }
            PreparedStatement update = statements.get(
                "UPDATE ops SET attempts = ?, last_error = ?, next_attempt_at = ? WHERE seq = ?");
            update.setInt(1, attempts);
            update.setString(2, error);
            update.setLong(3, now + wait.toMillis());
            update.setLong(4, op.seq());
            update.executeUpdate();
        }
        return dead;
    }

    /** Moves an op to the dead-letter queue with {@code reason}. */
    void kill(long seq, String reason, int attempts, long now) throws SQLException {
        PreparedStatement update = statements.get(
            "UPDATE ops SET status = 'DEAD', last_error = ?, attempts = ?, finished_at = ? WHERE seq = ?");
        update.setString(1, reason);
        update.setInt(2, attempts);
        update.setLong(3, now);
        update.setLong(4, seq);
        update.executeUpdate();
    }

    /** The earliest time a pending op is due, or null if none waits for a retry. */
    Long nextAttemptAt(long now) throws SQLException {
        PreparedStatement select = statements.get(
            "SELECT MIN(next_attempt_at) FROM ops WHERE status = 'PENDING' AND next_attempt_at > ?");
        select.setLong(1, now);
        try (ResultSet rows = select.executeQuery()) {
            rows.next();
            long at = rows.getLong(1);
            return rows.wasNull() ? null : at;
        }
    }

    /** When the earliest pending op may go while every push waits until {@code heldUntil}; null if none is pending. */
    Long nextAttemptAtHeld(long heldUntil) throws SQLException {
        PreparedStatement select = statements.get(
            "SELECT MIN(MAX(COALESCE(next_attempt_at, 0), ?)) FROM ops WHERE status = 'PENDING'");
        select.setLong(1, heldUntil);
        try (ResultSet rows = select.executeQuery()) {
            rows.next();
            long at = rows.getLong(1);
            return rows.wasNull() ? null : at;
        }
    }

    // ---- dead letters -----------------------------------------------------------------------

    List<DeadLetter> deadLetters() throws SQLException {
        PreparedStatement select = statements.get(
            "SELECT op_id, collection, record_id, type, data, priority, attempts, last_error, created_at, finished_at, codec "
                    + "FROM ops WHERE status = 'DEAD' ORDER BY seq");
        List<DeadLetter> letters = new ArrayList<>();
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                ObjectNode data;
                try {
                    data = cipher.open(rows.getString(2), rows.getString(3), Payloads.read(rows, 5, 11));
                } catch (SQLException e) {
                    if (!Payloads.undecodable(e)) {
                        throw e;
                    }
                    data = null; // the reason says why; the app replays it with new data or discards it
                }
                letters.add(new DeadLetter(rows.getString(1), rows.getString(2), rows.getString(3),
                        OpType.valueOf(rows.getString(4)), data,
                        Priority.valueOf(rows.getString(6)), rows.getInt(7), rows.getString(8),
                        Instant.ofEpochMilli(rows.getLong(9)), Instant.ofEpochMilli(rows.getLong(10))));
            }
        }
        return letters;
    }

    /** The dead op with this id, as (seq, collection, record id, type); null if there is none. */
    DeadRef dead(String opId) throws SQLException {
        PreparedStatement select = statements.get(
            "SELECT seq, collection, record_id, type, result IS NOT NULL FROM ops WHERE op_id = ? AND status = 'DEAD'");
        select.setString(1, opId);
        try (ResultSet rows = select.executeQuery()) {
            return rows.next()
                    ? new DeadRef(rows.getLong(1), rows.getString(2), rows.getString(3), OpType.valueOf(rows.getString(4)),
                            opId, rows.getBoolean(5))
                    : null;
        }
    }

    /** A dead op; {@code answered}: the server recorded an outcome for it (it rejected it). */
    record DeadRef(long seq, String collection, String recordId, OpType type, String opId, boolean answered) {
    }

    /**
     * Puts a dead op back in the queue at its place in its record's order, its attempts reset,
     * with {@code data} if given. An op the server rejected, or one given new data, goes under a
     * new op id (the server remembers the old id's outcome). An op the server never answered
     * keeps its id and its sent mark: the server may have applied it before its answers were
     * lost, and then answers the replay DUPLICATE instead of applying it twice. The op keeps
     * the base version it was written or sent against.
     *
     * @return the op's id, new or kept
     */
    String replay(DeadRef dead, ObjectNode data) throws SQLException {
        boolean fresh = dead.answered() || data != null;
        String id = fresh ? Ids.uuidV7() : dead.opId();
        PreparedStatement update = statements.get(
            "UPDATE ops SET op_id = ?, status = 'PENDING', attempts = 0, next_attempt_at = 0, last_error = NULL, "
                    + "finished_at = NULL, result = NULL, sent_at = CASE WHEN ? THEN NULL ELSE sent_at END, "
                    + "data = COALESCE(?, data), size = COALESCE(?, size), codec = COALESCE(?, codec) WHERE seq = ?");
        Payloads.Stored stored = data == null ? null : Payloads.encode(cipher.seal(dead.collection(), dead.recordId(), data));
        update.setString(1, id);
        update.setBoolean(2, fresh);
        if (stored == null) {
            update.setNull(3, java.sql.Types.VARCHAR);
        } else {
            Payloads.bind(update, 3, stored);
        }
        update.setObject(4, stored == null ? null : stored.size());
        update.setObject(5, stored == null ? null : stored.codec());
        update.setLong(6, dead.seq());
        update.executeUpdate();
        return id;
    }

    /** The type, payload, timestamp and write time of the op in row {@code seq}. */
    record Kept(OpType type, ObjectNode data, String hlc, long createdAt) {
    }

    /** The op in row {@code seq} of the record; null if there is none. */
    Kept kept(long seq, String collection, String id) throws SQLException {
        PreparedStatement select = statements.get("SELECT type, data, codec, hlc, created_at FROM ops WHERE seq = ?");
        select.setLong(1, seq);
        try (ResultSet rows = select.executeQuery()) {
            return rows.next()
                    ? new Kept(OpType.valueOf(rows.getString(1)), cipher.open(collection, id, Payloads.read(rows, 2, 3)),
                            rows.getString(4), rows.getLong(5))
                    : null;
        }
    }

    /**
     * Queues a change again in row {@code seq} (an op the server answered CONFLICT), so it keeps
     * its place before the record's later ops: under a new op id, pending and unsent, its
     * attempts reset. The record's later unsent ops lose their base version: they follow this
     * one and go with the version it is applied at.
     *
     * @return the new op id
     */
    String requeue(long seq, String collection, String id, OpType type, ObjectNode data, Long baseVersion, String hlc)
            throws SQLException {
        String opId = Ids.uuidV7();
        Payloads.Stored stored = Payloads.encode(cipher.seal(collection, id, data));
        PreparedStatement update = statements.get(
            "UPDATE ops SET op_id = ?, type = ?, base_version = ?, data = ?, codec = ?, size = ?, hlc = ?, status = 'PENDING', "
                    + "attempts = 0, next_attempt_at = 0, last_error = NULL, result = NULL, finished_at = NULL, sent_at = NULL "
                    + "WHERE seq = ?");
        update.setString(1, opId);
        update.setString(2, type.name());
        update.setObject(3, baseVersion);
        Payloads.bind(update, 4, stored);
        update.setInt(5, stored.codec());
        update.setInt(6, stored.size());
        update.setString(7, hlc);
        update.setLong(8, seq);
        update.executeUpdate();
        PreparedStatement release = statements.get(
            "UPDATE ops SET base_version = NULL WHERE collection = ? AND record_id = ? AND seq > ? AND status = 'PENDING' "
                    + "AND sent_at IS NULL");
        release.setString(1, collection);
        release.setString(2, id);
        release.setLong(3, seq);
        release.executeUpdate();
        return opId;
    }

    /** Drops a dead op for good; it stays in the table as DISCARDED. */
    void discard(DeadRef dead, long now) throws SQLException {
        PreparedStatement update = statements.get(
            "UPDATE ops SET status = 'DISCARDED', finished_at = ? WHERE seq = ?");
        update.setLong(1, now);
        update.setLong(2, dead.seq());
        update.executeUpdate();
    }

    /** The dead op an op waits behind, or the op whose conflict waits for the app; null if none. */
    String blockingDeadOp(String collection, String id, long seq) throws SQLException {
        PreparedStatement select = statements.get(
            "SELECT op_id FROM ops WHERE collection = ? AND record_id = ? AND (status = 'DEAD' OR seq IN ("
                    + "SELECT op_seq FROM conflicts WHERE status = 'OPEN')) AND seq < ? ORDER BY seq LIMIT 1");
        select.setString(1, collection);
        select.setString(2, id);
        select.setLong(3, seq);
        try (ResultSet rows = select.executeQuery()) {
            return rows.next() ? rows.getString(1) : null;
        }
    }

    /** The ops a query selects, as its page. */
    List<OpInfo> list(OpQuery query) throws SQLException {
        StringBuilder sql = new StringBuilder(
                "SELECT seq, op_id, collection, record_id, type, priority, status, attempts, last_error, created_at, "
                        + "next_attempt_at, size FROM ops WHERE status IN (");
        List<Object> args = new ArrayList<>();
        String separator = "";
        for (OpState state : query.states()) {
            sql.append(separator).append('?');
            args.add(state.name());
            separator = ", ";
        }
        sql.append(')');
        if (query.priority() != null) {
            sql.append(" AND priority = ?");
            args.add(query.priority().name());
        }
        if (query.collection() != null) {
            sql.append(" AND collection = ?");
            args.add(query.collection());
        }
        if (query.recordId() != null) {
            sql.append(" AND record_id = ?");
            args.add(query.recordId());
        }
        if (query.createdBefore() != null) {
            sql.append(" AND created_at < ?");
            args.add(query.createdBefore().toEpochMilli());
        }
        if (query.createdAfter() != null) {
            sql.append(" AND created_at > ?");
            args.add(query.createdAfter().toEpochMilli());
        }
        sql.append(switch (query.order()) {
            case OLDEST_FIRST -> " ORDER BY seq";
            case NEWEST_FIRST -> " ORDER BY seq DESC";
            case PRIORITY -> " ORDER BY CASE priority WHEN 'CRITICAL' THEN 0 WHEN 'HIGH' THEN 1 WHEN 'NORMAL' THEN 2 ELSE 3 END, seq";
        });
        sql.append(" LIMIT ? OFFSET ?");
        args.add(query.limit());
        args.add(query.offset());
        PreparedStatement select = statements.get(sql.toString());
        for (int i = 0; i < args.size(); i++) {
            select.setObject(i + 1, args.get(i));
        }
        List<OpInfo> ops = new ArrayList<>();
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                OpState state = OpState.valueOf(rows.getString(7));
                long next = rows.getLong(11);
                ops.add(new OpInfo(rows.getString(2), rows.getString(3), rows.getString(4), OpType.valueOf(rows.getString(5)),
                        Priority.valueOf(rows.getString(6)), state, rows.getInt(8), rows.getString(9),
                        Instant.ofEpochMilli(rows.getLong(10)),
                        state == OpState.PENDING && next > 0 ? Instant.ofEpochMilli(next) : null, rows.getInt(12),
                        state == OpState.PENDING ? blockingDeadOp(rows.getString(3), rows.getString(4), rows.getLong(1)) : null));
            }
        }
        return ops;
    }

    /** Pending ops per priority, their bytes and the oldest one's write time. */
    record PendingSummary(Map<Priority, Integer> byPriority, long bytes, Long oldestCreatedAt) {
    }

    PendingSummary pendingSummary() throws SQLException {
        Map<Priority, Integer> byPriority = new EnumMap<>(Priority.class);
        long bytes = 0;
        Long oldest = null;
        PreparedStatement select = statements.get(
                "SELECT priority, COUNT(*), SUM(size), MIN(created_at) FROM ops WHERE status = 'PENDING' GROUP BY priority");
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                byPriority.put(Priority.valueOf(rows.getString(1)), rows.getInt(2));
                bytes += rows.getLong(3);
                long created = rows.getLong(4);
                oldest = oldest == null ? created : Math.min(oldest, created);
            }
        }
        return new PendingSummary(byPriority, bytes, oldest);
    }

    /** The mean time from write to the server applying it, over the applied ops kept; null if none. */
    Double meanProcessingMillis() throws SQLException {
        try (ResultSet rows = statements.get("SELECT AVG(finished_at - created_at) FROM ops WHERE status = 'APPLIED'")
                .executeQuery()) {
            rows.next();
            double mean = rows.getDouble(1);
            return rows.wasNull() ? null : mean;
        }
    }

    /** How many ops are in each status. */
    Map<String, Integer> counts() throws SQLException {
        PreparedStatement select = statements.get("SELECT status, COUNT(*) FROM ops GROUP BY status");
        try (ResultSet rows = select.executeQuery()) {
            Map<String, Integer> counts = new HashMap<>();
            while (rows.next()) {
                counts.put(rows.getString(1), rows.getInt(2));
            }
            return counts;
        }
    }

    int pendingCount() throws SQLException {
        PreparedStatement select = statements.get("SELECT COUNT(*) FROM ops WHERE status = 'PENDING'");
        try (ResultSet rows = select.executeQuery()) {
            rows.next();
            return rows.getInt(1);
        }
    }
}
