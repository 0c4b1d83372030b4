package dev.outpost.client;

/**
 * How this device settles a conflict the server handed back: the server answered one of the
 * device's changes CONFLICT (the record had changed elsewhere and the server kept its own
 * record, by its own policy for the collection, SERVER_WINS unless the server says otherwise).
 * Each collection has one; see {@link OutpostConfig.Builder#conflictPolicy} for the defaults.
 * A {@link ConflictResolver} registered for a collection decides instead.
 *
 * <p>A collection the server keeps conflicts of for review (its MANUAL policy) answers CONFLICT
 * too; leave it SERVER_WINS on the device (the default) when the review on the server decides.
 *
 * <p>Whatever the policy, nothing is dropped silently: every conflict is recorded with its
 * base, local and remote states and told to {@link OutpostListener#conflictDetected}; a change
 * that wins is queued again, under a new op id, against the server's version of the record.
 */
public enum ClientConflictPolicy {
    /** The server's record stands; the device's change is dropped, and the conflict recorded. */
    SERVER_WINS,
    /**
     * The device's change is sent again against the server's version, as the server's own
     * CLIENT_WINS applies it: the fields the device changed take its values, fields only the
     * server changed keep the server's; a delete deletes; a record the server deleted and the
     * device edited is created again as the device had it.
     */
    CLIENT_WINS,
    /**
     * The later change wins, by hybrid logical clock: the device's change (its op's timestamp)
     * against the server record's; later on the device, it goes as under {@link #CLIENT_WINS},
     * else as under {@link #SERVER_WINS}.
     */
    LAST_MODIFIED_WINS,
    /**
     * Field by field, three ways, over the record before the device's change (base), the
     * device's record and the server's: a field changed on one side takes that side's value, a
     * field changed on both the value of the later change. The merged record is sent as an
     * update against the server's version. A delete against an edit goes to the later change.
     * When the base is unknown, the fields of the device's change count as changed on the device.
     */
    MERGE,
    /**
     * The server's record is shown and the conflict waits, stored with base, local and remote,
     * until the app settles it with {@link Outpost#resolveConflict}; the record's later changes
     * wait behind it. It survives restarts.
     */
    PROMPT_USER
}
