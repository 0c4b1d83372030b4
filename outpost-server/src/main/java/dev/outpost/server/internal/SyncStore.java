package dev.outpost.server.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.AuditEntry;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.ConflictInfo;
import dev.outpost.protocol.ConflictRules;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.ServerRecord;
import java.util.List;
import java.util.Map;

/** Where the server keeps records, the change log and op outcomes; one per database kind. */
interface SyncStore extends AutoCloseable {

    /**
     * Applies a push's ops in order for the token's user and returns one result per op. Each
     * op's effect and its outcome record commit together; a re-sent op gets its first outcome.
     * An op on a shared scope the token does not let it write is rejected.
     *
     * @throws ApiException 403 if the device belongs to another user
     */
    Pushed push(Scopes scopes, String deviceId, List<PushParser.Parsed> ops);

    /**
     * A push's answer: one result per op, and for each op of it that conflicted and was
     * settled by its collection's policy in this push (answered CONFLICT or MERGED), by op id,
     * who prevailed.
     */
    record Pushed(List<OpResult> results, Map<String, ConflictRules.Winner> winners) {
    }

    /**
     * Up to {@code limit} changes committed after {@code afterSeq} in the scopes the token may
     * read, in commit order.
     */
    default Page pull(Scopes scopes, long afterSeq, int limit) {
        return pull(scopes, afterSeq, limit, false);
    }

    /**
     * As {@link #pull(Scopes, long, int)}; with {@code countRemaining}, the page also says how
     * many changes follow it (one count over the change log's index, made only when more
     * follow), so a client can show the progress of a pull from its first page.
     *
     * @throws ApiException 409 {@code CURSOR_AHEAD_OF_LOG} if {@code afterSeq} is past the change
     *     log's last change (the database was put back to an earlier state)
     */
    Page pull(Scopes scopes, long afterSeq, int limit, boolean countRemaining);

    /** Open conflicts (MANUAL collections) in the scopes the token may write, oldest first, at most {@code limit}. */
    List<ConflictInfo> conflicts(Scopes scopes, int limit);

    /**
     * Settles an open conflict of the user's: SERVER keeps the record, CLIENT applies the op
     * that conflicted on top of it, MERGED writes {@code data}. A record change is written as
     * the next version, so every device pulls it.
     *
     * @throws ApiException 404 if the user has no such conflict, 409 if it is resolved already
     */
    Resolved resolve(Scopes scopes, String conflictId, String choice, ObjectNode data);

    /** A settled conflict and the record after it. */
    record Resolved(ConflictInfo conflict, ServerRecord record) {
    }

    /**
     * The audit of one of the user's devices: its pushed ops with their first outcomes, newest
     * first, optionally only those of {@code status}.
     *
     * @throws ApiException 404 if the device is not one of the user's
     */
    List<AuditEntry> operations(String user, String deviceId, OpStatus status, int limit, int offset);

    /** Whether the database answers. */
    boolean ready();

    @Override
    void close();

    /**
     * A page of changes and the sequence number of its last one. Each change is its
     * {@link dev.outpost.protocol.Change} as JSON text in UTF-8, the record's data the JSON the
     * server stored, so a pull sends it without decoding, parsing or encoding it.
     * {@code remaining} is how many changes the user may read after the page, if they were
     * counted (0 when none follow), else -1.
     */
    record Page(List<byte[]> changes, long lastSeq, boolean hasMore, long remaining) {
        /** A page whose later changes were not counted. */
        Page(List<byte[]> changes, long lastSeq, boolean hasMore) {
            this(changes, lastSeq, hasMore, -1);
        }
    }
}
