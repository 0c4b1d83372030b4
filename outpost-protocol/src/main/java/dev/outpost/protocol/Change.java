package dev.outpost.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * One committed change as pull returns it: the record's state after the change.
 *
 * @param collection the record's collection
 * @param recordId the record's id
 * @param version the record's version after the change
 * @param deleted whether the change deleted the record
 * @param data the record's fields after the change; null when deleted
 * @param hlc the hybrid logical clock timestamp of the change
 * @param origin the device and op that made it
 * @param scope the shared scope the record lives in, by the name the token grants it under;
 *     null (absent on the wire) for the user's own records
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Change(
        String collection,
        String recordId,
        long version,
        boolean deleted,
        ObjectNode data,
        String hlc,
        Origin origin,
        String scope) {

    /** A change to one of the user's own records. */
    public Change(String collection, String recordId, long version, boolean deleted, ObjectNode data, String hlc, Origin origin) {
        this(collection, recordId, version, deleted, data, hlc, origin, null);
    }

    /**
     * Where a change came from.
     *
     * @param deviceId the device that pushed it
     * @param opId the op that made it
     */
    public record Origin(String deviceId, String opId) {
    }
}
