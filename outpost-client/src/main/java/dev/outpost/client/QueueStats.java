package dev.outpost.client;

import java.time.Instant;

/**
 * How the device's ops stand.
 *
 * @param pending ops waiting to be pushed
 * @param applied ops the server applied
 * @param conflicts ops that conflicted; the server's record was kept and the op kept with it
 * @param dead ops in the dead-letter queue: rejected by the server, or out of attempts
 * @param discarded dead ops the app dropped
 * @param nextAttemptAt when the earliest op waiting out a retry backoff is due; null if none waits
 */
public record QueueStats(int pending, int applied, int conflicts, int dead, int discarded, Instant nextAttemptAt) {

    /** All ops written on this device and not yet purged (coalesced writes count once). */
    public int total() {
        return pending + applied + conflicts + dead + discarded;
    }
}
