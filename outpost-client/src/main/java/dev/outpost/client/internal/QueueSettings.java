package dev.outpost.client.internal;

import dev.outpost.client.RetryPolicy;
import dev.outpost.protocol.Priority;
import java.util.random.RandomGenerator;

/**
 * How the op queue behaves.
 *
 * @param retry the retry schedule
 * @param weights batch share per priority, indexed by {@link Priority#ordinal()}
 * @param coalescing whether unsent UPDATEs fold into the op before them
 * @param random the source of retry jitter
 */
public record QueueSettings(RetryPolicy retry, int[] weights, boolean coalescing, RandomGenerator random) {
    public QueueSettings {
        weights = weights.clone();
    }

    int weight(Priority priority) {
        return weights[priority.ordinal()];
    }
}
