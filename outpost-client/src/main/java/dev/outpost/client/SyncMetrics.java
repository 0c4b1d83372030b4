package dev.outpost.client;

import java.time.Duration;
import java.time.Instant;

/**
 * Figures for a dashboard or a metrics system (see {@link OutpostMetrics} for Micrometer).
 *
 * @param queueDepth changes waiting to be pushed
 * @param deadLetters ops in the dead-letter queue
 * @param syncs syncs run since Outpost opened (deferred ones not counted)
 * @param completedSyncs of those, the ones that ended COMPLETED
 * @param successRate completed over run; NaN before the first
 * @param totalSyncTime the time all of them took
 * @param lastSyncDuration how long the last one took; null before the first
 * @param lastSyncAt when the last one ended; null before the first
 * @param lastSuccessAt when a sync last ended COMPLETED; null if none has
 */
public record SyncMetrics(int queueDepth, int deadLetters, long syncs, long completedSyncs, double successRate,
        Duration totalSyncTime, Duration lastSyncDuration, Instant lastSyncAt, Instant lastSuccessAt) {

    /** The mean time of a sync; null before the first. */
    public Duration meanSyncDuration() {
        return syncs == 0 ? null : totalSyncTime.dividedBy(syncs);
    }
}
