package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.OpType;

/** A record's fields and tombstone flag: what an op changes. */
record RecordState(ObjectNode data, boolean deleted) {
    static final RecordState ABSENT = new RecordState(null, true);

    /** The state after {@code type} with {@code data}, computed the way the server computes it. */
    RecordState after(OpType type, ObjectNode opData) {
        return switch (type) {
            case CREATE -> new RecordState(opData, false);
            case UPDATE -> new RecordState(JsonMergePatch.apply(data, opData), deleted);
            case DELETE -> new RecordState(null, true);
        };
    }
}
