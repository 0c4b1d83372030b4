package dev.outpost.client.internal;

import dev.outpost.client.ConnectionType;
import dev.outpost.client.NetworkMonitor;
import dev.outpost.client.NetworkState;
import dev.outpost.client.OutpostException;
import dev.outpost.client.Transport;
import java.time.Duration;
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
 * answers; quality from the answer's latency; stability the share of the last probes that
 * succeeded. The sync engine also reports what its own requests found, so a sync that could
 * not reach the server marks the network offline at once, and the next good probe brings it
 * back (which starts a sync).
 */
public final class ProbingNetworkMonitor implements NetworkMonitor {
    private static final int WINDOW = 10;

    private final Transport transport;
    private final Duration interval;
    private final List<Consumer<NetworkState>> listeners = new CopyOnWriteArrayList<>();
    private final Deque<Boolean> recent = new ArrayDeque<>();
    private volatile NetworkState state = NetworkState.UNKNOWN;
    private ScheduledExecutorService timer;

    public ProbingNetworkMonitor(Transport transport, Duration interval) {
        this.transport = Objects.requireNonNull(transport, "transport");
        if (interval == null || interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("the probe interval must be positive, got " + interval);
        }
        this.interval = interval;
    }

    @Override
    public NetworkState current() {
        return state;
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
            double quality = !reachable ? 0 : latency == null ? state.quality() > 0 ? state.quality() : 1 : quality(latency);
            next = reachable ? new NetworkState(true, ConnectionType.UNKNOWN, false, quality, stability)
                    : new NetworkState(false, ConnectionType.NONE, false, 0, stability);
            before = state;
            state = next;
        }
        if (before.online() != next.online()) {
            listeners.forEach(listener -> listener.accept(next));
        }
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
