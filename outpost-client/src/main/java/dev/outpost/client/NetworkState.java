package dev.outpost.client;

import java.util.Objects;

/**
 * What the device's network looks like now.
 *
 * @param online whether the server can be reached (or, for platform signals, whether there is a link)
 * @param type the kind of link
 * @param metered whether data on it costs the user (cellular, a hotspot); large syncs wait for an
 *     unmetered link under the sync policy
 * @param quality from 0 (unusable) to 1 (fast), from measured latency and throughput; 1 when unknown
 * @param stability from 0 to 1: the share of recent probes or signals that found the link up; 1 when unknown
 */
public record NetworkState(boolean online, ConnectionType type, boolean metered, double quality, double stability) {
    /** No network. */
    public static final NetworkState OFFLINE = new NetworkState(false, ConnectionType.NONE, false, 0, 0);
    /** Online on a link of unknown kind, treated as unmetered: the default before anything is measured. */
    public static final NetworkState UNKNOWN = new NetworkState(true, ConnectionType.UNKNOWN, false, 1, 1);

    public NetworkState {
        Objects.requireNonNull(type, "type");
        if (!(quality >= 0 && quality <= 1) || !(stability >= 0 && stability <= 1)) {
            throw new IllegalArgumentException("quality and stability must be from 0 to 1, got " + quality + " and " + stability);
        }
        if (online && type == ConnectionType.NONE) {
            throw new IllegalArgumentException("a network that is online needs a connection type other than NONE");
        }
    }

    /** Online on {@code type}, metered as given, quality and stability unknown (1). */
    public static NetworkState online(ConnectionType type, boolean metered) {
        return new NetworkState(true, type, metered, 1, 1);
    }

    /** Whether this is an unmetered link, so any sync may use it. */
    public boolean unmetered() {
        return online && !metered;
    }

    /** A few words for people, such as "online (Wi-Fi)" or "offline". */
    public String describe() {
        if (!online) {
            return "offline";
        }
        String kind = switch (type) {
            case WIFI -> "Wi-Fi";
            case CELLULAR -> "cellular";
            case ETHERNET -> "ethernet";
            default -> "unknown link";
        };
        return "online (" + kind + (metered ? ", metered" : "") + ")";
    }
}
