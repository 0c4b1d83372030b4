package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;

/** A queued op as read from the store, with the base version it is sent with. */
record PendingOp(long seq, String opId, String collection, String recordId, OpType type, Long baseVersion,
        ObjectNode data, String hlc, Priority priority) {

    /** The op as sent, to {@code scope} (null: the user's own). */
    Operation toWire(String scope) {
        return new Operation(opId, collection, recordId, type, baseVersion, data, hlc, priority, scope);
    }
}
