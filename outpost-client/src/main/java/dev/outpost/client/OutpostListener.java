package dev.outpost.client;

/**
 * Hears what happens to the local store and its sync, for an app to show or log (a UI's sync
 * indicator, say). For one sync the calls come in this order: {@link #syncStarted}, then for
 * each pushed batch {@link #conflictDetected} for its conflicts and {@link #syncProgress},
 * then {@link #pullProgress} after each pulled page, then {@link #deadLettered} for ops that
 * died, then {@link #syncCompleted} or {@link #syncFailed}; an automatic sync the network
 * policy or the circuit breaker holds back is only {@link #syncDeferred}. Every method has a
 * default that does nothing; implement the ones you need. Methods are called on the thread
 * that caused the event (a writer, or the syncing thread), after the store has settled it;
 * they should return quickly. An exception thrown by a listener is logged and ignored: it
 * never undoes or fails the operation that caused the event.
 *
 * <p>A listener called on the syncing thread must not wait for a sync: {@link Outpost#sync()}
 * called there throws IllegalStateException (it would wait for the sync it is called from).
 * To sync again, say after {@link #syncFailed} led the app to sign in anew, call
 * {@link Outpost#syncNow()}: it runs a sync after the current one ends; do not wait for its
 * future on this thread.
 */
public interface OutpostListener {

    /**
     * The store passed its quota: a write was refused because it would grow the store past it
     * (nothing was written), or a pull of the server's changes, which is always stored, grew
     * the store past it (told once per such sync, after the sync ends).
     */
    default void quotaExceeded(OutpostException error) {
    }

    /**
     * The store did not open as it was: it was recovered from a backup, begun anew after
     * damage, or lives in memory only. Called once, as {@link Outpost#open} returns.
     */
    default void storageDegraded(OpenReport report) {
    }

    /** An op moved to the dead-letter queue during a sync. */
    default void deadLettered(DeadLetter letter) {
    }

    /**
     * The server answered one of this device's changes CONFLICT, and the device settled it:
     * by the collection's {@link ClientConflictPolicy} or {@link ConflictResolver}, as
     * {@code settledBy} says. {@link Resolution#later()} means it waits for the app in
     * {@link Outpost#conflicts()}; then {@link Conflict#error()} says if a resolver failed.
     * Called on the syncing thread after the store committed the settlement.
     */
    default void conflictDetected(Conflict conflict, Resolution settledBy) {
    }

    /** A write was stored and its op queued (once per record written, batch writes included). */
    default void opQueued(String collection, String recordId) {
    }

    /** A sync began; {@code reason} says what started it. */
    default void syncStarted(SyncReason reason) {
    }

    /** The running sync has had {@code done} of the {@code total} ops it set out to push answered. */
    default void syncProgress(int done, int total) {
    }

    /**
     * The running sync's pull has received {@code done} changes of {@code total}: the changes
     * the server said were waiting when the pull began, or more if more came meanwhile; after
     * the last page {@code total} equals {@code done}. {@code total} is -1 while unknown: a
     * {@link Transport} of the app's own does not say how many changes wait. Called after
     * each page with changes is applied; a pull that finds nothing calls it never.
     */
    default void pullProgress(int done, int total) {
    }

    /** A sync ended COMPLETED; the result has its counts (pushed, applied, merged, conflicts, dead, pulled). */
    default void syncCompleted(SyncResult result) {
    }

    /** A sync ended OFFLINE or FAILED; {@link SyncResult#failure()} is the category. */
    default void syncFailed(SyncResult result) {
    }

    /** An automatic sync was held back (network policy or open circuit); nothing was sent. */
    default void syncDeferred(SyncResult result) {
    }

    /** The network monitor reported a change of network. */
    default void networkChanged(NetworkState state) {
    }
}
