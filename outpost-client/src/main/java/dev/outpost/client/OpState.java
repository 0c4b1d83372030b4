package dev.outpost.client;

/** Where a queued op stands. */
public enum OpState {
    /** Waiting to be sent, or sent and not yet answered. */
    PENDING,
    /** The server applied it. */
    APPLIED,
    /** It conflicted; the server's record was kept and the op is kept with the server's answer. */
    CONFLICT,
    /** In the dead-letter queue: rejected by the server, or out of attempts. */
    DEAD,
    /** A dead op the app dropped. */
    DISCARDED
}
