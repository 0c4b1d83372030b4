package dev.outpost.protocol;

/** How the server settles an op that conflicts with the record's current state. */
public enum ConflictPolicy {
    /** The server's record stands; the op is answered CONFLICT with it. */
    SERVER_WINS,
    /** The op is applied on top of the server's record (a deleted record comes back). */
    CLIENT_WINS,
    /** The change with the later hybrid logical clock timestamp wins, the whole record. */
    LAST_WRITE_WINS,
    /**
     * Field by field: a field changed on one side only takes that side's value; a field changed
     * on both takes the value with the later timestamp; a counter field adds both sides' deltas.
     */
    MERGE,
    /** The server's record stands and the conflict waits for review. */
    MANUAL
}
