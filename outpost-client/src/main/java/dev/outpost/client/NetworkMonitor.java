package dev.outpost.client;

import dev.outpost.client.internal.ProbingNetworkMonitor;
import java.time.Duration;
import java.util.function.Consumer;

/**
 * Tells the sync engine what the network looks like. The default probes the server's
 * {@code /health} and scores its latency; an app on a platform that knows more (Android's
 * {@code ConnectivityManager}, for one) feeds those signals through {@link #manual}.
 *
 * <p>Implementations must be thread-safe; {@link #current} is called before every automatic
 * sync and must return quickly.
 */
public interface NetworkMonitor {

    /** The network as last seen; never null. */
    NetworkState current();

    /**
     * Registers {@code listener} to be called with each new state when the network changes.
     * The default implementation never calls it (the engine then only reads {@link #current}).
     */
    default void subscribe(Consumer<NetworkState> listener) {
    }

    /**
     * Told of each push and pull request a sync made through the built-in HTTP transport:
     * {@code bytes} sent and received, as on the wire, in {@code elapsed}, from sending the
     * request to the answer's last byte (the server's work included, so small requests say more
     * about latency than throughput). A monitor may fold it into {@link NetworkState#quality()};
     * the default monitor does. Called on the sync's threads; it must return quickly, and an
     * exception it throws is logged and ignored. The default implementation ignores it.
     */
    default void transferred(long bytes, Duration elapsed) {
    }

    /** Starts whatever background work the monitor does (probing); called once when Outpost opens. */
    default void start() {
    }

    /** Stops it; called when Outpost closes. */
    default void stop() {
    }

    /**
     * A monitor the app sets: it reports what it was last told through
     * {@link ManualNetworkMonitor#update}, starting from {@code initial}.
     */
    static ManualNetworkMonitor manual(NetworkState initial) {
        return new ManualNetworkMonitor(initial);
    }

    /**
     * The default: probes the server's {@code /health} through {@code transport} every
     * {@code interval} (and at once when asked), online when it answers. Quality is the worse
     * of two scores: the probe's latency (1 under 100 ms, falling to 0.1 at 2 s and beyond) and
     * the throughput of the sync's own transfers of 16 KiB or more ({@link #transferred}; a
     * moving average, 1 at 1 MB/s and above, falling with its logarithm to 0.1 at 10 KB/s and
     * below; left out once no such transfer has been seen for 10 minutes). Stability is the
     * share of the last 10 probes that succeeded. It cannot tell Wi-Fi from cellular and
     * reports UNKNOWN, unmetered.
     */
    static NetworkMonitor probing(Transport transport, Duration interval) {
        return new ProbingNetworkMonitor(transport, interval, java.time.Clock.systemUTC());
    }
}
