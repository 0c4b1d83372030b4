package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Priority;
import java.time.Instant;

/**
 * An op that will not be retried by itself: the server rejected it, or it failed every
 * attempt. It keeps its payload; later ops of the same record wait behind it until it is
 * replayed ({@link Outpost#replay}) or discarded ({@link Outpost#discard}).
 *
 * @param opId the op's id
 * @param collection the record's collection
 * @param recordId the record's id
 * @param type the op's type
 * @param data the op's payload (the record for CREATE, the merge patch for UPDATE), or null
 *     (a DELETE; or a payload the store could not read back, reason {@code UNREADABLE_PAYLOAD…},
 *     which a replay with new data replaces)
 * @param priority the op's priority
 * @param attempts how many times it reached the server
 * @param reason why it is dead, with the server's error code where there was one
 * @param createdAt when it was written
 * @param diedAt when it was dead-lettered
 */
public record DeadLetter(String opId, String collection, String recordId, OpType type, ObjectNode data,
        Priority priority, int attempts, String reason, Instant createdAt, Instant diedAt) {
}
