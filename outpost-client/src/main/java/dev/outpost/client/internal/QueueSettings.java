package dev.outpost.client.internal;

import dev.outpost.client.RetryPolicy;
import dev.outpost.protocol.Priority;
import java.time.Duration;
import java.util.random.RandomGenerator;

/**
 * How the op queue behaves.
 *
 * @param retry the retry schedule
 * @param weights batch share per priority, indexed by {@link Priority#ordinal()}
 * @param coalescing whether unsent UPDATEs fold into the op before them
 * @param random the source of retry jitter
 * @param retention how long finished ops and dead letters are kept
 * @param quotaBytes the most bytes the store file and its WAL may grow to; {@link Long#MAX_VALUE} for no quota
 */
public record QueueSettings(RetryPolicy retry, int[] weights, boolean coalescing, RandomGenerator random,
        Duration retention, long quotaBytes) {
    public QueueSettings {
        weights = weights.clone();
    }

    int weight(Priority priority) {
        return weights[priority.ordinal()];
    }
}
