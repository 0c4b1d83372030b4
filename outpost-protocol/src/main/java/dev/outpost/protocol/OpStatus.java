package dev.outpost.protocol;

/** The server's verdict on one pushed operation. */
public enum OpStatus {
    /** The operation's effect was applied as sent. */
    APPLIED,
    /** The operation was merged with a concurrent change; {@code record} holds the result. */
    MERGED,
    /** The operation was seen before; the result repeats its first outcome. */
    DUPLICATE,
    /** The operation did not apply because the record changed; {@code record} holds the server's record. */
    CONFLICT,
    /** The operation is invalid and was not applied; {@code error} says why. Retrying it will not help. */
    REJECTED
}
