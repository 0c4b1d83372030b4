package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Priority;

/**
 * One write an app asks for, before it is applied: a put (create or replace), an update (a
 * merge patch) or a delete.
 */
public record LocalWrite(Kind kind, String collection, String id, ObjectNode data, Priority priority) {

    /** The kinds of write. */
    public enum Kind { PUT, UPDATE, DELETE }

    public static LocalWrite put(String collection, String id, ObjectNode data, Priority priority) {
        return new LocalWrite(Kind.PUT, collection, id, data, priority);
    }

    public static LocalWrite update(String collection, String id, ObjectNode patch, Priority priority) {
        return new LocalWrite(Kind.UPDATE, collection, id, patch, priority);
    }

    public static LocalWrite delete(String collection, String id, Priority priority) {
        return new LocalWrite(Kind.DELETE, collection, id, null, priority);
    }
}
