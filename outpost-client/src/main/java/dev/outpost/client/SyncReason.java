package dev.outpost.client;

/** What started a sync. */
public enum SyncReason {
    /** The app asked: {@link Outpost#syncNow()} or {@link Outpost#sync()}; network policy does not hold it back. */
    REQUESTED,
    /** Changes were written (after the write debounce). */
    WRITE,
    /** The periodic schedule (every 30 s by default). */
    SCHEDULED,
    /** An op's retry fell due: the backoff after a failed push (1, 2, 4, 8, 16 s by default) ended. */
    RETRY,
    /** The network came back. */
    NETWORK_RESTORED,
    /** The app came to the foreground. */
    FOREGROUND,
    /** The app is going to the background: a last push before it may be suspended. */
    BACKGROUND
}
