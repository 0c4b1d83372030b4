package dev.outpost.client;

import dev.outpost.protocol.Priority;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;

/**
 * How the device's queue stands.
 *
 * @param pending ops waiting to be pushed
 * @param applied ops the server applied (kept for the retention period)
 * @param conflicts ops that conflicted; the server's record was kept and the op kept with it
 * @param dead ops in the dead-letter queue: rejected by the server, or out of attempts
 * @param discarded dead ops the app dropped
 * @param nextAttemptAt when the earliest op waiting out a retry backoff is due; null if none waits.
 *     While the server has asked every push to wait (a Retry-After), every pending op waits,
 *     and this is when the first of them may go
 * @param pendingByPriority pending ops per priority (priorities with none are absent)
 * @param pendingBytes the pending ops' payloads, in bytes of JSON
 * @param oldestPendingAt when the oldest pending op was written; null if none is pending
 * @param successRate the share of ops that ended (applied, in conflict, dead, discarded) that the
 *     server applied; NaN if none has ended
 * @param meanProcessingTime the mean time from a write to the server applying it; null if none
 */
public record QueueStats(int pending, int applied, int conflicts, int dead, int discarded, Instant nextAttemptAt,
        Map<Priority, Integer> pendingByPriority, long pendingBytes, Instant oldestPendingAt, double successRate,
        Duration meanProcessingTime) {

    public QueueStats {
        pendingByPriority = Map.copyOf(pendingByPriority);
    }

    /** All ops written on this device and not yet purged (coalesced writes count once). */
    public int total() {
        return pending + applied + conflicts + dead + discarded;
    }
}
