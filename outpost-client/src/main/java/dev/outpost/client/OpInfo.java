package dev.outpost.client;

import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Priority;
import java.time.Instant;

/**
 * One op of the queue, as {@link Outpost#ops(OpQuery)} shows it.
 *
 * @param opId the op's id
 * @param collection the record's collection
 * @param recordId the record's id
 * @param type the op's type
 * @param priority its priority (raised to that of a later op of its record, if higher)
 * @param state where it stands
 * @param attempts how many times it reached the server without being taken
 * @param lastError the last failure, or why it is dead; null if none
 * @param createdAt when it was written
 * @param nextAttemptAt when a pending op waiting out a retry backoff is due; null otherwise
 * @param payloadBytes the size of its payload as JSON
 * @param waitingFor the id of the dead op of the same record this pending op waits behind, or of the op
 *     whose conflict waits for the app ({@link Outpost#conflicts()}); null if none
 */
public record OpInfo(String opId, String collection, String recordId, OpType type, Priority priority, OpState state,
        int attempts, String lastError, Instant createdAt, Instant nextAttemptAt, int payloadBytes, String waitingFor) {
}
