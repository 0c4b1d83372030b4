package dev.outpost.server.internal;

import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.ConflictRules;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.Operation;
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
 * conflicts settled by review,
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
    private final Map<String, Counter> resolutions = new ConcurrentHashMap<>();

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
        for (String choice : List.of("SERVER", "CLIENT", "MERGED")) {
            String settled = settledBy(choice);
            resolutions.put(choice, Counter.builder("outpost.conflicts.resolved")
                    .description("conflicts kept for review (MANUAL) and settled by POST /v1/conflicts/{id}/resolve, by choice")
                    .tag("settled", settled).register(registry));
        }
        new JvmMemoryMetrics().bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
    }

    /**
     * Counts an answered push: each op's outcome, and each conflict by its collection's policy
     * and how it was settled ({@link #settled}).
     */
    void pushed(long nanos, List<PushParser.Parsed> sent, SyncStore.Pushed pushed, Policies policies) {
        pushes.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        List<OpResult> results = pushed.results();
        for (int i = 0; i < results.size(); i++) {
            OpResult result = results.get(i);
            ops.get(result.status()).increment();
            if (result.status() == OpStatus.CONFLICT || result.status() == OpStatus.MERGED) {
                Operation op = sent.get(i).op();
                ConflictPolicy policy = policies.of(op.collection());
                ConflictRules.Winner winner = pushed.winners().getOrDefault(result.opId(),
                        result.status() == OpStatus.CONFLICT ? ConflictRules.Winner.SERVER : ConflictRules.Winner.MERGED);
                String settled = settled(policy, winner);
                conflicts.computeIfAbsent(policy + "/" + settled, key -> Counter.builder("outpost.conflicts")
                        .description("conflicting ops by the policy that settled them and who prevailed")
                        .tag("policy", policy.name()).tag("settled", settled).register(registry)).increment();
            }
        }
    }

    /**
     * The label of who prevailed in a conflict, as its settlement says: {@code server} (the
     * server's record stands, answered CONFLICT), {@code review} (MANUAL: the server's record
     * stands and the conflict waits for {@code POST /v1/conflicts/{id}/resolve}), {@code client}
     * (the op's change was applied over the server's record: CLIENT_WINS, LAST_WRITE_WINS with
     * the later op, and MERGE when a DELETE, or an UPDATE of a deleted record, is the later
     * change) or {@code merged} (MERGE combined both sides' fields).
     */
    static String settled(ConflictPolicy policy, ConflictRules.Winner winner) {
        return switch (winner) {
            case SERVER -> policy == ConflictPolicy.MANUAL ? "review" : "server";
            case CLIENT -> "client";
            case MERGED -> "merged";
        };
    }

    /** Counts a conflict settled by review: {@code choice} SERVER, CLIENT or MERGED. */
    void resolved(String choice) {
        Counter counter = resolutions.get(choice);
        if (counter != null) {
            counter.increment();
        }
    }

    private static String settledBy(String choice) {
        return switch (choice) {
            case "SERVER" -> "server";
            case "CLIENT" -> "client";
            default -> "merged";
        };
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
