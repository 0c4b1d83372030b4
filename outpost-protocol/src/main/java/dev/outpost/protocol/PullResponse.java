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
    public PullResponse {
        changes = List.copyOf(changes);
    }
}
