package dev.outpost.protocol;

import java.util.List;

/**
 * The body answering {@code GET /v1/pull}.
 *
 * @param changes changes in commit order
 * @param cursor opaque; sent back, it returns only later changes
 * @param hasMore whether more changes are ready now
 */
public record PullResponse(List<Change> changes, String cursor, boolean hasMore) {
    /**
     * The answer's header repeating its {@code cursor}, so that a client may ask for the next
     * page while this one's body is still on its way; the body's field is the answer.
     */
    public static final String CURSOR_HEADER = "Outpost-Cursor";
    /** The answer's header repeating {@code hasMore}: {@code true} or {@code false}. */
    public static final String HAS_MORE_HEADER = "Outpost-Has-More";

    public PullResponse {
        changes = List.copyOf(changes);
    }
}
