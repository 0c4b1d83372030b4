package dev.outpost.client;

/** Where a record stands relative to the server. */
public enum SyncState {
    /** The local record equals the server's as last pulled or pushed. */
    SYNCED,
    /** Local changes wait to be pushed. */
    PENDING,
    /**
     * A change to the record is in the dead-letter queue (rejected, or out of attempts); the
     * local view still shows it until it is replayed or discarded.
     */
    FAILED,
    /**
     * A conflict on the record waits for the app ({@link Outpost#conflicts()}): the local view
     * shows the server's record (with the device's later changes, which wait behind the
     * conflict), and the device's conflicting change is kept with the conflict until
     * {@link Outpost#resolveConflict} settles it.
     */
    CONFLICT
}
