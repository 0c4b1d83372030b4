package dev.outpost.client;

/** The kind of link the device is on, as the platform reports it. */
public enum ConnectionType {
    /** Wi-Fi: usually unmetered. */
    WIFI,
    /** A mobile network: usually metered. */
    CELLULAR,
    /** A wired link. */
    ETHERNET,
    /** Connected, kind not known (the JVM alone cannot tell). */
    UNKNOWN,
    /** No link at all. */
    NONE
}
