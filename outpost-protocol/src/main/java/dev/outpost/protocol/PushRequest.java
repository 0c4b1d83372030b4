package dev.outpost.protocol;

import java.util.List;

/**
 * The body of {@code POST /v1/push}.
 *
 * @param deviceId the sending device, stable across restarts
 * @param ops the operations, applied in this order
 */
public record PushRequest(String deviceId, List<Operation> ops) {
    public PushRequest {
        ops = List.copyOf(ops);
    }
}
