package dev.outpost.protocol;

/** How urgently an operation should reach the server, lowest first. */
public enum Priority {
    LOW,
    NORMAL,
    HIGH,
    CRITICAL
}
