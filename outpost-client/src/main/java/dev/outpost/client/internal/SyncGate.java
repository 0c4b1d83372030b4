package dev.outpost.client.internal;

import dev.outpost.client.ConnectionType;
import dev.outpost.client.NetworkState;
import dev.outpost.protocol.Priority;
import dev.outpost.client.QueueStats;
import java.time.Duration;
import java.time.Instant;

/**
 * Whether an automatic sync may run on the network as it is, by the seeds' policy: unmetered
 * links are preferred; a metered one is used when changes have waited {@code meteredAfter}
 * (24 h) since the last successful sync, when the queue holds more than
 * {@code meteredQueueBytes} (1 MB), when a CRITICAL change waits, or when the app asks; with
 * {@code wifiOnlyInBackground}, a sync in the background waits for Wi-Fi or ethernet.
 *
 * @param wifiOnlyInBackground whether background syncs need Wi-Fi or ethernet
 * @param meteredAfter how long changes may wait before a metered link is used anyway
 * @param meteredQueueBytes how many queued bytes make a metered link worth it
 */
public record SyncGate(boolean wifiOnlyInBackground, Duration meteredAfter, long meteredQueueBytes) {

    /** A verdict: run, or wait and why (for the status line and the DEFERRED result). */
    public record Verdict(boolean run, String waitingFor) {
        static final Verdict RUN = new Verdict(true, null);
    }

    /**
     * @param network the network now
     * @param requested whether the app asked for this sync (always runs)
     * @param background whether the app is in the background
     * @param stats the queue now
     * @param lastSuccess when a sync last completed; if none ever did, when the store was
     *     created (so a device that never synced uses a metered link after 24 h too, with an
     *     empty queue as well); null if not known
     * @param now the clock's time
     */
    public Verdict decide(NetworkState network, boolean requested, boolean background, QueueStats stats, Instant lastSuccess,
            Instant now) {
        if (requested) {
            return Verdict.RUN;
        }
        if (!network.online()) {
            return new Verdict(false, "a connection");
        }
        boolean critical = stats.pendingByPriority().getOrDefault(Priority.CRITICAL, 0) > 0;
        if (background && wifiOnlyInBackground && network.type() != ConnectionType.WIFI && network.type() != ConnectionType.ETHERNET
                && !critical) {
            return new Verdict(false, "Wi-Fi");
        }
        if (!network.metered() || critical || stats.pendingBytes() > meteredQueueBytes) {
            return Verdict.RUN;
        }
        Instant waitingSince = lastSuccess != null ? lastSuccess : stats.oldestPendingAt();
        if (waitingSince != null && !waitingSince.plus(meteredAfter).isAfter(now)) {
            return Verdict.RUN;
        }
        return new Verdict(false, "Wi-Fi");
    }
}
