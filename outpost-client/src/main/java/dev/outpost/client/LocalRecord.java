package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A record as the device sees it: the server's state with this device's pending changes on top.
 *
 * @param collection the record's collection
 * @param id the record's id
 * @param data the record's fields (a copy; changing it changes nothing stored)
 * @param version the server version the record is based on; 0 if never on the server
 * @param state whether local changes wait to be pushed
 */
public record LocalRecord(String collection, String id, ObjectNode data, long version, SyncState state) {
}
