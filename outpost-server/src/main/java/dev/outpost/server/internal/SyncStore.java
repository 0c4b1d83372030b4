package dev.outpost.server.internal;

import dev.outpost.protocol.Change;
import dev.outpost.protocol.OpResult;
import java.util.List;

/** Where the server keeps records, the change log and op outcomes; one per database kind. */
interface SyncStore extends AutoCloseable {

    /**
     * Applies a push's ops in order for {@code user} and returns one result per op. Each op's
     * effect and its outcome record commit together; a re-sent op gets its first outcome.
     *
     * @throws ApiException 403 if the device belongs to another user
     */
    List<OpResult> push(String user, String deviceId, List<PushParser.Parsed> ops);

    /** Up to {@code limit} of the user's changes committed after {@code afterSeq}, in commit order. */
    Page pull(String user, long afterSeq, int limit);

    /** Whether the database answers. */
    boolean ready();

    @Override
    void close();

    /** A page of changes and the sequence number of its last one. */
    record Page(List<Change> changes, long lastSeq, boolean hasMore) {
    }
}
