package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * How a {@link Conflict} is settled: by a {@link ConflictResolver}, or by the app through
 * {@link Outpost#resolveConflict}. Made by the static factories; immutable.
 */
public final class Resolution {

    /** The kinds of settlement. */
    public enum Kind {
        /** The server's record stands; the device's change is dropped. */
        SERVER,
        /** The device's change is sent again against the server's version ("force update"). */
        LOCAL,
        /** Given data becomes the record. */
        MERGED,
        /** Not now: the conflict stays pending for the app. */
        LATER
    }

    private static final Resolution SERVER = new Resolution(Kind.SERVER, null);
    private static final Resolution LOCAL = new Resolution(Kind.LOCAL, null);
    private static final Resolution LATER = new Resolution(Kind.LATER, null);

    private final Kind kind;
    private final ObjectNode data;

    private Resolution(Kind kind, ObjectNode data) {
        this.kind = kind;
        this.data = data;
    }

    /** Keep the server's record and drop the device's change (it stays on record with the conflict). */
    public static Resolution useServer() {
        return SERVER;
    }

    /**
     * Force the device's change: it is queued again, under a new op id, against the server's
     * version of the record as the device now knows it, and applied the way the server's
     * CLIENT_WINS applies a change: the fields the device changed take its values, fields only
     * the server changed stay; a delete deletes; a record the server deleted comes back as
     * {@link Conflict#local()}. Nothing is queued if the server's record already holds it.
     */
    public static Resolution useLocal() {
        return LOCAL;
    }

    /**
     * Make {@code data} the record: it is queued, under a new op id, as the change from the
     * server's version to {@code data}. Null-valued fields are dropped.
     *
     * @throws NullPointerException if data is null
     */
    public static Resolution merged(ObjectNode data) {
        return new Resolution(Kind.MERGED, Objects.requireNonNull(data, "data").deepCopy());
    }

    /** Leave the conflict pending ("review later"); it stays in {@link Outpost#conflicts()}. */
    public static Resolution later() {
        return LATER;
    }

    /** What kind of settlement this is. */
    public Kind kind() {
        return kind;
    }

    /** The record's new fields for {@link Kind#MERGED} (a copy); null for the other kinds. */
    public ObjectNode data() {
        return data == null ? null : data.deepCopy();
    }

    @Override
    public boolean equals(Object other) {
        return other instanceof Resolution that && kind == that.kind && Objects.equals(data, that.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, data);
    }

    @Override
    public String toString() {
        return data == null ? "Resolution[" + kind + "]" : "Resolution[" + kind + " " + data + "]";
    }
}
