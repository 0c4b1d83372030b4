package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.Wire;
import java.util.List;

/**
 * A page of pulled changes as the sync applies it. The built-in transport reads each record's
 * data as the JSON text the server sent ({@link HttpTransport#pullPage}), and a record new to
 * the device is stored as that text, without being parsed into a tree and written out again;
 * another {@link dev.outpost.client.Transport} gives a {@link PullResponse}, taken as it is.
 * {@code remaining} is how many changes the server said follow the page, or -1 if it did not
 * say (it says only when asked, and another transport cannot ask).
 */
record PulledPage(List<Pulled> changes, String cursor, boolean hasMore, long remaining) {
    PulledPage {
        changes = List.copyOf(changes);
    }

    /** A page that does not say how many changes follow it. */
    PulledPage(List<Pulled> changes, String cursor, boolean hasMore) {
        this(changes, cursor, hasMore, -1);
    }

    static PulledPage of(PullResponse response) {
        return new PulledPage(response.changes().stream().map(Pulled::of).toList(), response.cursor(), response.hasMore());
    }

    PullResponse toResponse() {
        return new PullResponse(changes.stream().map(Pulled::toChange).toList(), cursor, hasMore);
    }

    /**
     * One change: the fields of a {@link Change}, its data held as JSON text, as a tree, or
     * both, each made from the other the first time it is asked for.
     */
    static final class Pulled {
        private final String collection;
        private final String recordId;
        private final long version;
        private final boolean deleted;
        private final String hlc;
        private final Change.Origin origin;
        private final String scope;
        private String json;
        private ObjectNode data;

        /** A change whose data is JSON text (null for none), an object as the text it came in. */
        Pulled(String collection, String recordId, long version, boolean deleted, String json, String hlc,
                Change.Origin origin, String scope) {
            this.collection = collection;
            this.recordId = recordId;
            this.version = version;
            this.deleted = deleted;
            this.json = json;
            this.hlc = hlc;
            this.origin = origin;
            this.scope = scope;
        }

        static Pulled of(Change change) {
            Pulled pulled = new Pulled(change.collection(), change.recordId(), change.version(), change.deleted(), null,
                    change.hlc(), change.origin(), change.scope());
            pulled.data = change.data();
            return pulled;
        }

        Change toChange() {
            return new Change(collection, recordId, version, deleted, data(), hlc, origin, scope);
        }

        String collection() {
            return collection;
        }

        String recordId() {
            return recordId;
        }

        long version() {
            return version;
        }

        boolean deleted() {
            return deleted;
        }

        String hlc() {
            return hlc;
        }

        Change.Origin origin() {
            return origin;
        }

        String scope() {
            return scope;
        }

        /** The record's data as a tree; null if the change carries none. */
        ObjectNode data() {
            if (data == null && json != null) {
                data = Wire.object(json);
            }
            return data;
        }

        /** The record's data as compact JSON text; null if the change carries none. */
        String json() {
            if (json == null && data != null) {
                json = Wire.write(data);
            }
            return json;
        }
    }
}
