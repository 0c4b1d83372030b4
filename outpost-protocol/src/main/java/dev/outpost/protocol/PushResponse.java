package dev.outpost.protocol;

import java.util.List;

/**
 * The body answering {@code POST /v1/push}.
 *
 * @param results one per pushed op, in request order
 */
public record PushResponse(List<OpResult> results) {
    public PushResponse {
        results = List.copyOf(results);
    }
}
