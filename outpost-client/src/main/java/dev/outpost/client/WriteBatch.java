package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.internal.LocalWrite;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Writes applied together: all of them or none, in one transaction with one fsync. The way to
 * load many records quickly without giving up durability.
 *
 * <pre>{@code
 * WriteBatch batch = outpost.newBatch();
 * for (Call call : calls) {
 *     batch.put("calls", call.id(), call.toJson());
 * }
 * batch.commit();   // every put is on disk, or none is
 * }</pre>
 *
 * <p>Each method checks its arguments at once and throws IllegalArgumentException for a bad
 * name or record. A batch is for one thread and one commit.
 */
public final class WriteBatch {
    /** Applies a batch's writes; the facade's store, with its events. */
    interface Applier {
        List<Object> apply(List<LocalWrite> writes) throws OutpostException;
    }

    private final Applier store;
    private final List<LocalWrite> writes = new ArrayList<>();
    private boolean committed;

    WriteBatch(Applier store) {
        this.store = store;
    }

    /** Adds a put (create, or replace all fields) with NORMAL priority. */
    public WriteBatch put(String collection, String id, ObjectNode data) {
        return put(collection, id, data, Priority.NORMAL);
    }

    /** Adds a put of a record given as JSON text. */
    public WriteBatch put(String collection, String id, String json) {
        return put(collection, id, Wire.object(Objects.requireNonNull(json, "json")));
    }

    /** Adds a put with {@code priority}. */
    public WriteBatch put(String collection, String id, ObjectNode data, Priority priority) {
        Outpost.checkName(collection, id);
        Outpost.checkDepth(Objects.requireNonNull(data, "data"));
        return add(LocalWrite.put(collection, id, data.deepCopy(), Objects.requireNonNull(priority, "priority")));
    }

    /** Adds an update (a JSON merge patch) with NORMAL priority. */
    public WriteBatch update(String collection, String id, ObjectNode patch) {
        return update(collection, id, patch, Priority.NORMAL);
    }

    /** Adds an update with {@code priority}. */
    public WriteBatch update(String collection, String id, ObjectNode patch, Priority priority) {
        Outpost.checkName(collection, id);
        Outpost.checkDepth(Objects.requireNonNull(patch, "patch"));
        return add(LocalWrite.update(collection, id, patch.deepCopy(), Objects.requireNonNull(priority, "priority")));
    }

    /** Adds a delete with NORMAL priority. */
    public WriteBatch delete(String collection, String id) {
        return delete(collection, id, Priority.NORMAL);
    }

    /** Adds a delete with {@code priority}. */
    public WriteBatch delete(String collection, String id, Priority priority) {
        Outpost.checkName(collection, id);
        return add(LocalWrite.delete(collection, id, Objects.requireNonNull(priority, "priority")));
    }

    /** How many writes the batch holds. */
    public int size() {
        return writes.size();
    }

    /**
     * Applies every write in order, all or none, and returns once they are on disk.
     *
     * @return per write, the record after it (empty for a delete or a record left absent)
     * @throws OutpostException VALIDATION if a write cannot apply (an update of a missing
     *     record), STORAGE if the store failed; in both cases nothing of the batch is applied
     * @throws IllegalStateException if the batch was committed before
     */
    public List<LocalRecord> commit() throws OutpostException {
        if (committed) {
            throw new IllegalStateException("this batch of " + writes.size() + " writes was committed already");
        }
        committed = true;
        List<Object> results = store.apply(writes);
        List<LocalRecord> records = new ArrayList<>(results.size());
        for (Object result : results) {
            records.add(result instanceof LocalRecord record ? record : null);
        }
        return records;
    }

    private WriteBatch add(LocalWrite write) {
        if (committed) {
            throw new IllegalStateException("this batch was committed already; start a new one");
        }
        writes.add(write);
        return this;
    }
}
