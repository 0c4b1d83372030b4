package dev.outpost.client;

/**
 * What one sync did.
 *
 * @param status how it ended
 * @param pushed ops the server answered
 * @param applied ops whose change the server took: as sent, or settled with a concurrent change
 *     by the collection's conflict policy (these are counted in {@code merged} too)
 * @param merged ops whose change the server settled with a concurrent change (MERGED answers)
 * @param conflicts ops that conflicted and the server's record stood; the op is recorded
 * @param dead ops moved to the dead-letter queue: refused by the server as invalid, or out of
 *     attempts
 * @param pulled changes received from the server
 * @param pending ops still waiting after this sync
 * @param failure the kind of failure when status is not COMPLETED, else null
 * @param message a sentence for people
 */
public record SyncResult(
        Status status,
        int pushed,
        int applied,
        int merged,
        int conflicts,
        int dead,
        int pulled,
        int pending,
        OutpostException.Category failure,
        String message) {

    /** How a sync ended. */
    public enum Status {
        /** Everything pending was pushed and every change pulled. */
        COMPLETED,
        /** The server could not be reached; ops stay queued and no attempt was counted. */
        OFFLINE,
        /** The sync stopped on an error; see {@code failure} and {@code message}. */
        FAILED,
        /**
         * An automatic sync did not start: the network policy holds it back (waiting for an
         * unmetered link, or for Wi-Fi in the background), or the server's circuit is open
         * after repeated failures. {@code message} says which; nothing was sent.
         */
        DEFERRED
    }
}
