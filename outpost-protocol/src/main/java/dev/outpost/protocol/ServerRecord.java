package dev.outpost.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A record as the server holds it, returned with CONFLICT and MERGED results.
 *
 * @param collection the record's collection
 * @param recordId the record's id
 * @param version the server's version, +1 per accepted change
 * @param deleted whether the record is a tombstone
 * @param data the record's fields; null when deleted
 * @param hlc the hybrid logical clock timestamp of the last accepted change
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ServerRecord(
        String collection,
        String recordId,
        long version,
        boolean deleted,
        ObjectNode data,
        String hlc) {
}
