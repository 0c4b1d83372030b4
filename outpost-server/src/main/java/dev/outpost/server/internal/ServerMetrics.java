package dev.outpost.server.internal;

import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpStatus;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The server's metrics, in a Prometheus registry served at {@code GET /metrics}: pushes and
 * their latency, ops by outcome, conflicts by collection policy and how they were settled,
 * pulls with their latency and the changes they carried, and the JVM's memory, threads, CPU
 * and uptime.
 */
public final class ServerMetrics {
    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final Timer pushes;
    private final Timer pulls;
    private final Counter pulledChanges;
    private final Map<OpStatus, Counter> ops = new EnumMap<>(OpStatus.class);
    private final Map<String, Counter> conflicts = new ConcurrentHashMap<>();

    public ServerMetrics() {
        pushes = Timer.builder("outpost.push").description("push requests answered, with their time in the server")
                .publishPercentileHistogram().register(registry);
        pulls = Timer.builder("outpost.pull").description("pull requests answered, with their time in the server")
                .publishPercentileHistogram().register(registry);
        pulledChanges = Counter.builder("outpost.pull.changes").description("changes returned by pulls").register(registry);
        for (OpStatus status : OpStatus.values()) {
            ops.put(status, Counter.builder("outpost.ops").description("pushed ops by outcome")
                    .tag("status", status.name()).register(registry));
        }
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /** Counts an answered push: each op's outcome, and each conflict by its collection's policy. */
    void pushed(long nanos, List<PushParser.Parsed> sent, List<OpResult> results, Policies policies) {
        pushes.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        for (int i = 0; i < results.size(); i++) {
            OpResult result = results.get(i);
            ops.get(result.status()).increment();
            if (result.status() == OpStatus.CONFLICT || result.status() == OpStatus.MERGED) {
                ConflictPolicy policy = policies.of(sent.get(i).op().collection());
                String settled = result.status() == OpStatus.CONFLICT ? "server_kept" : "merged";
                conflicts.computeIfAbsent(policy + "/" + settled, key -> Counter.builder("outpost.conflicts")
                        .description("conflicting ops by the policy that settled them and how")
                        .tag("policy", policy.name()).tag("settled", settled).register(registry)).increment();
            }
        }
    }

    void pulled(long nanos, int changes) {
        pulls.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        pulledChanges.increment(changes);
    }

    /** Publishes the number of requests being handled (what a stop waits for). */
    void inFlight(java.util.concurrent.atomic.AtomicInteger requests) {
        io.micrometer.core.instrument.Gauge.builder("outpost.requests.in.flight", requests, java.util.concurrent.atomic.AtomicInteger::get)
                .description("API requests being handled now").register(registry);
    }

    /** Every metric in the Prometheus text format. */
    String scrape() {
        return registry.scrape();
    }

    /** The registry, for an embedding application that wants to add its own or export elsewhere. */
    public PrometheusMeterRegistry registry() {
        return registry;
    }
}
