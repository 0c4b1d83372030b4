package dev.outpost.client;

/**
 * Hears what happens to the local store, for an app to show or log. Every method has a
 * default that does nothing; implement the ones you need. Methods are called on the thread
 * that caused the event (a writer, or the syncing thread), after the store has settled it;
 * they should return quickly. An exception thrown by a listener is logged and ignored: it
 * never undoes or fails the operation that caused the event.
 */
public interface OutpostListener {

    /** A write was refused because it would grow the store past its quota; nothing was written. */
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
}
