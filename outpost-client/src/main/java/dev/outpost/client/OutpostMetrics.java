package dev.outpost.client;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.FunctionTimer;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Publishes an {@link Outpost}'s figures to a Micrometer registry. Micrometer is an optional
 * dependency of the client: an app that calls this has {@code io.micrometer:micrometer-core}
 * on its class path; others need nothing.
 *
 * <pre>{@code
 * OutpostMetrics.bind(outpost, registry);
 * }</pre>
 *
 * <p>Meters: {@code outpost.client.queue.depth} and {@code outpost.client.dead.letters}
 * (gauges), {@code outpost.client.syncs} (a function timer: count and total time of the syncs
 * run), {@code outpost.client.syncs.completed} (a function counter) and
 * {@code outpost.client.sync.success.rate} (a gauge, NaN before the first sync).
 */
public final class OutpostMetrics {
    private static final Logger LOG = LoggerFactory.getLogger(OutpostMetrics.class);

    private OutpostMetrics() {
    }

    /** Registers the meters of {@code outpost} in {@code registry}; they read its figures when scraped. */
    public static void bind(Outpost outpost, MeterRegistry registry) {
        Gauge.builder("outpost.client.queue.depth", outpost, o -> read(o).queueDepth())
                .description("changes waiting to be pushed").register(registry);
        Gauge.builder("outpost.client.dead.letters", outpost, o -> read(o).deadLetters())
                .description("ops in the dead-letter queue").register(registry);
        FunctionTimer.builder("outpost.client.syncs", outpost, o -> read(o).syncs(),
                o -> read(o).totalSyncTime().toNanos(), TimeUnit.NANOSECONDS)
                .description("syncs run and the time they took").register(registry);
        FunctionCounter.builder("outpost.client.syncs.completed", outpost, o -> read(o).completedSyncs())
                .description("syncs that ended COMPLETED").register(registry);
        Gauge.builder("outpost.client.sync.success.rate", outpost, o -> read(o).successRate())
                .description("completed syncs over syncs run").register(registry);
    }

    private static SyncMetrics read(Outpost outpost) {
        try {
            return outpost.metrics();
        } catch (OutpostException e) {
            LOG.debug("cannot read Outpost's metrics: {}", e.getMessage());
            return new SyncMetrics(0, 0, 0, 0, Double.NaN, java.time.Duration.ZERO, null, null, null);
        }
    }
}
