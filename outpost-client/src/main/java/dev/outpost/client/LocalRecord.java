package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * A record as the device sees it: the server's state with this device's pending changes on top.
 *
 * @param collection the record's collection
 * @param id the record's id
 * @param data the record's fields (a copy; changing it changes nothing stored)
 * @param version the server version the record is based on; 0 if never on the server
 * @param state whether local changes wait to be pushed, failed, or wait in a conflict
 * @param lastSyncedAt when the server's state of the record last reached this device (an
 *     answer to a push, or a pull); null if it never has
 */
public record LocalRecord(String collection, String id, ObjectNode data, long version, SyncState state, Instant lastSyncedAt) {

    /** A record whose server state has not reached this device, or whose time is not known. */
    public LocalRecord(String collection, String id, ObjectNode data, long version, SyncState state) {
        this(collection, id, data, version, state, null);
    }
}
