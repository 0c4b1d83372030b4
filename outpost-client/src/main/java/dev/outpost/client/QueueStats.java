package dev.outpost.client;

/**
 * How the device's ops stand.
 *
 * @param pending ops waiting to be pushed
 * @param applied ops the server applied
 * @param conflicts ops that conflicted; the server's record was kept and the op kept with it
 * @param dead ops the server rejected, kept in the dead-letter queue with the reason
 */
public record QueueStats(int pending, int applied, int conflicts, int dead) {

    /** All ops ever written on this device and not yet purged. */
    public int total() {
        return pending + applied + conflicts + dead;
    }
}
