package dev.outpost.client;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * A network monitor fed by the app: call {@link #update} from the platform's connectivity
 * callbacks. A change from offline to online starts a sync when automatic sync is on.
 */
public final class ManualNetworkMonitor implements NetworkMonitor {
    private final List<Consumer<NetworkState>> listeners = new CopyOnWriteArrayList<>();
    private volatile NetworkState state;

    ManualNetworkMonitor(NetworkState initial) {
        this.state = Objects.requireNonNull(initial, "initial");
    }

    @Override
    public NetworkState current() {
        return state;
    }

    @Override
    public void subscribe(Consumer<NetworkState> listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
    }

    /** Sets the network's state and tells the subscribers if it changed. */
    public void update(NetworkState next) {
        Objects.requireNonNull(next, "next");
        NetworkState before = state;
        state = next;
        if (!next.equals(before)) {
            listeners.forEach(listener -> listener.accept(next));
        }
    }
}
