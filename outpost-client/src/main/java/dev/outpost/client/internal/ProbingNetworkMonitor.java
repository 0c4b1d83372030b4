package dev.outpost.client.internal;

import dev.outpost.client.ConnectionType;
import dev.outpost.client.NetworkMonitor;
import dev.outpost.client.NetworkState;
import dev.outpost.client.OutpostException;
import dev.outpost.client.Transport;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The default network monitor: asks the server's {@code /health} on a schedule. Online when it
 * answers; quality the worse of the answer's latency score and the throughput score of the
 * sync's own transfers; stability the share of the last probes that succeeded. The sync engine
 * also reports what its own requests found, so a sync that could not reach the server marks
 * the network offline at once, and the next good probe brings it back (which starts a sync).
 *
 * <p>Throughput is measured on transfers of at least {@link #MIN_TRANSFER_BYTES}, smaller ones
 * being mostly latency, as a moving average (each new transfer weighs {@link #NEW_WEIGHT});
 * once none has been seen for {@link #THROUGHPUT_KEPT} by the clock, quality is the latency
 * score alone again, as the link may have changed.
 */
public final class ProbingNetworkMonitor implements NetworkMonitor {
    private static final int WINDOW = 10;
    /** Transfers smaller than this say little about throughput and are not measured. */
    static final long MIN_TRANSFER_BYTES = 16 * 1024;
    /** How long a throughput measure counts without a newer transfer. */
    static final Duration THROUGHPUT_KEPT = Duration.ofMinutes(10);
    /** The weight of a new transfer in the moving average of throughput. */
    static final double NEW_WEIGHT = 0.3;

    private final Transport transport;
    private final Duration interval;
    private final Clock clock;
    private final List<Consumer<NetworkState>> listeners = new CopyOnWriteArrayList<>();
    private final Deque<Boolean> recent = new ArrayDeque<>();
    /** Whether the server answered, and the stability, as last seen; quality is worked out in {@link #current}. */
    private volatile NetworkState state = NetworkState.UNKNOWN;
    /** The latency score of the last probe that measured one; 1 before any. */
    private double latencyScore = 1;
    /** Bytes a second, averaged; NaN before any transfer was measured. */
    private double throughput = Double.NaN;
    /** When the last measured transfer ended, by the clock. */
    private Instant measuredAt;
    private ScheduledExecutorService timer;

    public ProbingNetworkMonitor(Transport transport, Duration interval) {
        this(transport, interval, Clock.systemUTC());
    }

    /** A monitor that ages its throughput measure by {@code clock}. */
    public ProbingNetworkMonitor(Transport transport, Duration interval, Clock clock) {
        this.transport = Objects.requireNonNull(transport, "transport");
        if (interval == null || interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("the probe interval must be positive, got " + interval);
        }
        this.interval = interval;
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    @Override
    public NetworkState current() {
        NetworkState seen = state;
        if (!seen.online()) {
            return seen;
        }
        return new NetworkState(true, seen.type(), seen.metered(), quality(), seen.stability());
    }

    /** The worse of the latency score and a fresh throughput score. */
    private synchronized double quality() {
        if (Double.isNaN(throughput) || Duration.between(measuredAt, clock.instant()).compareTo(THROUGHPUT_KEPT) > 0) {
            return latencyScore;
        }
        return Math.min(latencyScore, throughputScore(throughput));
    }

    /**
     * Takes in a transfer of the sync's: bytes over time, if large enough to say something of
     * throughput. Nonsense (negative bytes, no or a non-positive time) is ignored.
     */
    @Override
    public void transferred(long bytes, Duration elapsed) {
        if (bytes < MIN_TRANSFER_BYTES || elapsed == null || elapsed.isNegative() || elapsed.isZero()) {
            return;
        }
        double rate = bytes / (elapsed.toNanos() / 1e9);
        synchronized (this) {
            throughput = Double.isNaN(throughput) || measuredAt == null
                    || Duration.between(measuredAt, clock.instant()).compareTo(THROUGHPUT_KEPT) > 0
                    ? rate : NEW_WEIGHT * rate + (1 - NEW_WEIGHT) * throughput;
            measuredAt = clock.instant();
        }
    }

    @Override
    public void subscribe(Consumer<NetworkState> listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    @Override
    public synchronized void start() {
        if (timer == null) {
            timer = Executors.newSingleThreadScheduledExecutor(runnable -> {
                Thread thread = new Thread(runnable, "outpost-network-probe");
                thread.setDaemon(true);
                return thread;
            });
            timer.scheduleWithFixedDelay(this::probe, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public synchronized void stop() {
        if (timer != null) {
            timer.shutdownNow();
            timer = null;
        }
    }

    /** Probes once now and updates the state. */
    public void probe() {
        try {
            observe(true, transport.health());
        } catch (OutpostException e) {
            observe(e.category() != OutpostException.Category.NETWORK, null);
        } catch (RuntimeException e) {
            observe(false, null);
        }
    }

    /** Takes in what a request found: the server answered (with this latency, if measured) or not. */
    public void observe(boolean reachable, Duration latency) {
        NetworkState next;
        NetworkState before;
        synchronized (this) {
            recent.addLast(reachable);
            while (recent.size() > WINDOW) {
                recent.removeFirst();
            }
            double stability = recent.stream().filter(up -> up).count() / (double) recent.size();
            if (reachable && latency != null) {
                latencyScore = quality(latency);
            }
            next = reachable ? new NetworkState(true, ConnectionType.UNKNOWN, false, 1, stability)
                    : new NetworkState(false, ConnectionType.NONE, false, 0, stability);
            before = state;
            state = next;
        }
        if (before.online() != next.online()) {
            NetworkState told = current();
            listeners.forEach(listener -> listener.accept(told));
        }
    }

    /** 1 at or above 1 MB/s, falling with the logarithm of the rate to 0.1 at 10 KB/s and below. */
    static double throughputScore(double bytesPerSecond) {
        if (bytesPerSecond >= 1e6) {
            return 1;
        }
        if (bytesPerSecond <= 1e4) {
            return 0.1;
        }
        return 0.1 + 0.9 * (Math.log10(bytesPerSecond) - 4) / 2;
    }

    /** 1 at or under 100 ms, falling linearly to 0.1 at 2 s and beyond. */
    static double quality(Duration latency) {
        double millis = latency.toNanos() / 1e6;
        if (millis <= 100) {
            return 1;
        }
        if (millis >= 2000) {
            return 0.1;
        }
        return 1 - 0.9 * (millis - 100) / 1900;
    }
}
