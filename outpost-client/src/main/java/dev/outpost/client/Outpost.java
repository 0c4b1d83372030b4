package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.internal.LocalStore;
import dev.outpost.client.internal.QueueSettings;
import dev.outpost.client.internal.StorageSettings;
import dev.outpost.client.internal.SyncEngine;
import dev.outpost.protocol.Names;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An app's offline-first data: a local store that always answers, and sync with an Outpost
 * server when it can be reached.
 *
 * <pre>{@code
 * try (Outpost outpost = Outpost.open(OutpostConfig.builder()
 *         .storeFile(Path.of("notes.db"))
 *         .serverUrl("http://127.0.0.1:8080")
 *         .tokenProvider(TokenProvider.fixed(token))
 *         .build())) {
 *     outpost.put("notes", Ids.uuidV7(), "{\"title\":\"Buy milk\"}");   // on disk when it returns
 *     SyncResult result = outpost.sync();                                // OFFLINE if no network
 * }
 * }</pre>
 *
 * <p>Every write returns once it is on disk (fsynced) with its operation queued; it is visible
 * to reads at once. {@link #sync()} pushes the queue and pulls other devices' changes. Instances
 * are thread-safe.
 */
public final class Outpost implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Outpost.class);

    private final LocalStore store;
    private final SyncEngine engine;
    private final List<OutpostListener> listeners;
    private volatile SyncResult lastSync;

    private Outpost(LocalStore store, SyncEngine engine, List<OutpostListener> listeners) {
        this.store = store;
        this.engine = engine;
        this.listeners = listeners;
    }

    /**
     * Opens the local store, creating it and this device's id on first use.
     *
     * @throws OutpostException STORAGE if the file cannot be opened or was written by a newer Outpost
     */
    public static Outpost open(OutpostConfig config) throws OutpostException {
        Objects.requireNonNull(config, "config");
        LocalStore store = LocalStore.open(config.storeFile(), config.clock(),
                new QueueSettings(config.retryPolicy(), config.priorityWeights(), config.coalescing(), config.random(),
                        config.retention(), config.storageQuota()),
                new StorageSettings(config.durability(), config.backupDirectory(), config.backupInterval(),
                        config.backupsKept(), config.recoverCorruptStore(), config.memoryOnlyFallback(),
                        config.sensitiveFields(), config.keyProvider()));
        try {
            store.purge();
        } catch (OutpostException e) {
            store.close();
            throw e;
        }
        SyncEngine engine = config.transport() == null
                ? null
                : new SyncEngine(store, config.transport(), config.tokenProvider(), config.pushBatchSize(), config.pullPageSize());
        Outpost outpost = new Outpost(store, engine, config.listeners());
        if (store.report().mode() != OpenReport.Mode.OPENED) {
            outpost.tell(listener -> listener.storageDegraded(store.report()));
        }
        return outpost;
    }

    /** This device's id, created once when the store was created. */
    public String deviceId() {
        return store.deviceId();
    }

    /**
     * Creates the record, or replaces all its fields, and queues the change.
     *
     * @param data the record's fields; null-valued fields are dropped
     * @return the record as now stored
     * @throws IllegalArgumentException if the collection or id is not valid, or the data nests
     *     deeper than {@link Wire#MAX_RECORD_DEPTH}
     * @throws OutpostException STORAGE if it could not be saved; then nothing changed
     */
    public LocalRecord put(String collection, String id, ObjectNode data) throws OutpostException {
        return put(collection, id, data, Priority.NORMAL);
    }

    /**
     * As {@link #put(String, String, ObjectNode)}, queued with {@code priority}. Priorities
     * reorder ops across records, never within one record.
     */
    public LocalRecord put(String collection, String id, ObjectNode data, Priority priority) throws OutpostException {
        checkName(collection, id);
        checkDepth(Objects.requireNonNull(data, "data"));
        Objects.requireNonNull(priority, "priority");
        return watched(() -> store.put(collection, id, data, priority));
    }

    /**
     * As {@link #put(String, String, ObjectNode)}, with the record as JSON text.
     *
     * @throws IllegalArgumentException if {@code json} is not a JSON object
     */
    public LocalRecord put(String collection, String id, String json) throws OutpostException {
        return put(collection, id, json, Priority.NORMAL);
    }

    /** As {@link #put(String, String, String)}, queued with {@code priority}. */
    public LocalRecord put(String collection, String id, String json, Priority priority) throws OutpostException {
        return put(collection, id, Wire.object(Objects.requireNonNull(json, "json")), priority);
    }

    /**
     * As {@link #put(String, String, ObjectNode)}, with the record as a map of fields.
     */
    public LocalRecord put(String collection, String id, Map<String, ?> fields) throws OutpostException {
        return put(collection, id, (ObjectNode) Wire.mapper().valueToTree(Objects.requireNonNull(fields, "fields")));
    }

    /**
     * Changes some fields of an existing record: {@code patch} is a JSON merge patch (a field
     * set to null is removed), and queues the change.
     *
     * @return the record as now stored
     * @throws OutpostException VALIDATION / RECORD_NOT_FOUND if there is no such live record;
     *     STORAGE if it could not be saved
     */
    public LocalRecord update(String collection, String id, ObjectNode patch) throws OutpostException {
        return update(collection, id, patch, Priority.NORMAL);
    }

    /** As {@link #update(String, String, ObjectNode)}, queued with {@code priority}. */
    public LocalRecord update(String collection, String id, ObjectNode patch, Priority priority) throws OutpostException {
        checkName(collection, id);
        checkDepth(Objects.requireNonNull(patch, "patch"));
        Objects.requireNonNull(priority, "priority");
        return watched(() -> store.update(collection, id, patch, priority));
    }

    /** As {@link #update(String, String, ObjectNode)}, with the patch as JSON text. */
    public LocalRecord update(String collection, String id, String patchJson) throws OutpostException {
        return update(collection, id, patchJson, Priority.NORMAL);
    }

    /** As {@link #update(String, String, String)}, queued with {@code priority}. */
    public LocalRecord update(String collection, String id, String patchJson, Priority priority) throws OutpostException {
        return update(collection, id, Wire.object(Objects.requireNonNull(patchJson, "patchJson")), priority);
    }

    /**
     * Deletes the record and queues the change.
     *
     * @return whether there was a live record to delete
     * @throws OutpostException STORAGE if it could not be saved
     */
    public boolean delete(String collection, String id) throws OutpostException {
        return delete(collection, id, Priority.NORMAL);
    }

    /** As {@link #delete(String, String)}, queued with {@code priority}. */
    public boolean delete(String collection, String id, Priority priority) throws OutpostException {
        checkName(collection, id);
        Objects.requireNonNull(priority, "priority");
        return watched(() -> store.delete(collection, id, priority));
    }

    /** The record as this device sees it, if it exists and is not deleted. */
    public Optional<LocalRecord> get(String collection, String id) throws OutpostException {
        checkName(collection, id);
        return store.get(collection, id);
    }

    /** The collection's live records, ordered by id. */
    public List<LocalRecord> list(String collection) throws OutpostException {
        if (!Names.isValidCollection(collection)) {
            throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
        }
        return store.list(collection);
    }

    /**
     * A new batch of writes that {@link WriteBatch#commit()} applies all or none, with one
     * fsync for the lot.
     */
    public WriteBatch newBatch() {
        return new WriteBatch(writes -> watched(() -> store.apply(writes)));
    }

    /** How many changes wait to be pushed. */
    public int pendingCount() throws OutpostException {
        return store.pendingCount();
    }

    /** How the queue stands: counts by state and priority, bytes, oldest op, success rate. */
    public QueueStats queueStats() throws OutpostException {
        return store.stats();
    }

    /** The queue's ops that {@code query} selects: filtered, ordered and paged. */
    public List<OpInfo> ops(OpQuery query) throws OutpostException {
        return store.ops(Objects.requireNonNull(query, "query"));
    }

    /**
     * What opening the store found and did: opened normally, recovered from a backup, began
     * anew after finding the file damaged, or fell back to memory.
     */
    public OpenReport openReport() {
        return store.report();
    }

    /**
     * Writes a backup of the store now (SQLite's online backup), keeping the newest few; syncs
     * also take one when the last is older than the backup interval.
     *
     * @throws OutpostException STORAGE if it cannot be written, or the store lives in memory
     */
    public BackupInfo backup() throws OutpostException {
        return store.backup();
    }

    /** What the last sync of this process did, if one ran. */
    public Optional<SyncResult> lastSync() {
        return Optional.ofNullable(lastSync);
    }

    /**
     * A line for people about where the device's changes stand, such as "All changes synced",
     * "Offline: 12 changes will sync when connected" or "1 change needs attention".
     */
    public String statusLine() throws OutpostException {
        QueueStats stats = store.stats();
        SyncResult last = lastSync;
        if (store.inMemory()) {
            return "Storage unavailable: " + changes(stats.pending()) + " waiting, kept in memory only and lost if the app stops";
        }
        if (stats.dead() > 0) {
            return changes(stats.dead()) + (stats.dead() == 1 ? " needs" : " need") + " attention"
                    + (stats.pending() > 0 ? "; " + changes(stats.pending()) + " waiting to sync" : "");
        }
        if (stats.pending() == 0) {
            return "All changes synced";
        }
        if (last != null && last.status() == SyncResult.Status.OFFLINE) {
            return "Offline: " + changes(stats.pending()) + " will sync when connected";
        }
        if (last != null && last.failure() == OutpostException.Category.AUTH) {
            return "Sign-in needed: " + changes(stats.pending()) + " waiting";
        }
        if (stats.nextAttemptAt() != null) {
            return changes(stats.pending()) + " waiting; the server is being retried";
        }
        return changes(stats.pending()) + " waiting to sync";
    }

    private static String changes(int count) {
        return count + (count == 1 ? " change" : " changes");
    }

    /** The dead-letter queue: ops that will not be retried by themselves, oldest first. */
    public List<DeadLetter> deadLetters() throws OutpostException {
        return store.deadLetters();
    }

    /**
     * Puts a dead op back in the queue as it was. It keeps its place in its record's order and
     * the ops that waited behind it follow it. An op the server rejected goes under a new op
     * id; one the server never answered keeps its id, so that if the server did apply it
     * before its answers were lost, the replay is answered DUPLICATE, not applied twice.
     *
     * @return the op's id, new or kept
     * @throws OutpostException VALIDATION / NO_SUCH_DEAD_OP if no dead op has that id
     */
    public String replay(String opId) throws OutpostException {
        return store.replay(Objects.requireNonNull(opId, "opId"), null);
    }

    /**
     * Puts a dead op back in the queue with new data: the whole record for a CREATE, a merge
     * patch for an UPDATE. It goes under a new op id.
     *
     * @return the op's new id
     * @throws IllegalArgumentException if the op is a DELETE, which carries no data
     * @throws OutpostException VALIDATION / NO_SUCH_DEAD_OP if no dead op has that id
     */
    public String replay(String opId, ObjectNode data) throws OutpostException {
        checkDepth(Objects.requireNonNull(data, "data"));
        return store.replay(Objects.requireNonNull(opId, "opId"), data);
    }

    /**
     * Drops a dead op for good (it stays on record as discarded); the ops that waited behind
     * it on its record go on, and the local view no longer shows its change.
     *
     * @throws OutpostException VALIDATION / NO_SUCH_DEAD_OP if no dead op has that id
     */
    public void discard(String opId) throws OutpostException {
        store.discard(Objects.requireNonNull(opId, "opId"));
    }

    /**
     * Pushes every queued change, then pulls every change since the last pull. Without a
     * reachable server it returns OFFLINE and the changes stay queued.
     *
     * @throws OutpostException STORAGE if the local store failed; network and server failures
     *     are reported in the result instead
     */
    public SyncResult sync() throws OutpostException {
        java.time.Instant started = java.time.Instant.now();
        List<DeadLetter> deadBefore = listeners.isEmpty() ? List.of() : store.deadLetters();
        SyncResult result = engine == null
                ? new SyncResult(SyncResult.Status.OFFLINE, 0, 0, 0, 0, 0, 0, store.pendingCount(),
                        OutpostException.Category.NETWORK, "no server is configured; changes stay queued")
                : engine.sync();
        lastSync = result;
        if (result.dead() > 0 && !listeners.isEmpty()) {
            java.util.Set<String> known = new java.util.HashSet<>();
            deadBefore.forEach(letter -> known.add(letter.opId()));
            for (DeadLetter letter : store.deadLetters()) {
                if (!known.contains(letter.opId())) {
                    tell(listener -> listener.deadLettered(letter));
                }
            }
        }
        return result;
    }

    /** Closes the local store. Writes already returned are on disk. */
    @Override
    public void close() {
        store.close();
    }

    /** A write whose QUOTA failure is told to the listeners before it is thrown. */
    interface Write<T> {
        T run() throws OutpostException;
    }

    private <T> T watched(Write<T> write) throws OutpostException {
        try {
            return write.run();
        } catch (OutpostException e) {
            if (e.category() == OutpostException.Category.QUOTA) {
                tell(listener -> listener.quotaExceeded(e));
            }
            throw e;
        }
    }

    private void tell(java.util.function.Consumer<OutpostListener> event) {
        for (OutpostListener listener : listeners) {
            try {
                event.accept(listener);
            } catch (RuntimeException e) {
                LOG.warn("a listener failed and was ignored: {}", e.toString());
            }
        }
    }

    static void checkDepth(ObjectNode data) {
        int depth = Wire.depth(data);
        if (depth > Wire.MAX_RECORD_DEPTH) {
            throw new IllegalArgumentException("the record nests " + depth + " levels; at most "
                    + Wire.MAX_RECORD_DEPTH + " are allowed");
        }
    }

    static void checkName(String collection, String id) {
        if (!Names.isValidCollection(collection)) {
            throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
        }
        if (!Names.isValidId(id)) {
            throw new IllegalArgumentException("record id '" + id + "' is not valid: " + Names.idRule());
        }
    }
}
