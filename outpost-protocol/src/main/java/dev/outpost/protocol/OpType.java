package dev.outpost.protocol;

/** The kind of change an {@link Operation} makes to a record. */
public enum OpType {
    /** Creates the record; {@code data} is the whole record. */
    CREATE,
    /** Changes fields of the record; {@code data} is a JSON merge patch (RFC 7396). */
    UPDATE,
    /** Marks the record deleted (a tombstone); {@code data} is absent. */
    DELETE
}
