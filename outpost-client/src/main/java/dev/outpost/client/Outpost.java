package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.internal.BackupTimer;
import dev.outpost.client.internal.CircuitBreaker;
import dev.outpost.client.internal.ConflictHandling;
import dev.outpost.client.internal.LocalStore;
import dev.outpost.client.internal.LocalWrite;
import dev.outpost.client.internal.ProbingNetworkMonitor;
import dev.outpost.client.internal.SyncGate;
import dev.outpost.client.internal.SyncHistory;
import dev.outpost.client.internal.SyncScheduler;
import dev.outpost.client.internal.QueueSettings;
import dev.outpost.client.internal.StorageSettings;
import dev.outpost.client.internal.SyncEngine;
import dev.outpost.protocol.Names;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.time.Duration;
import java.util.ArrayList;
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
    private SyncScheduler scheduler;
    private NetworkMonitor monitor;
    private SyncGate gate;
    private CircuitBreaker breaker;
    private java.time.Clock clock;
    /** When a sync last completed, also in an earlier session (the metered-link rule counts from it). */
    private volatile java.time.Instant lastSuccess;
    private java.time.Instant createdAt;
    private volatile boolean background;
    private boolean automatic;
    private final SyncHistory history = new SyncHistory();
    private BackupTimer backups;

    private Outpost(LocalStore store, SyncEngine engine, List<OutpostListener> listeners) {
        this.store = store;
        this.engine = engine;
        this.listeners = listeners;
    }

    /**
     * Opens the local store, creating it and this device's id on first use. A store file is
     * open in one place at a time: it holds a lock (the file {@code <store file>.lock} beside
     * it) until {@link #close()} or the end of the process.
     *
     * @throws OutpostException STORAGE if the file cannot be opened or was written by a newer
     *     Outpost; STORAGE {@code STORE_IN_USE} if another Outpost, in this process or another,
     *     has it open; VALIDATION {@code SCOPE_CHANGED} if a collection holding records on this
     *     device was moved to another scope ({@link OutpostConfig.Builder#sharedScope}); an
     *     exception the app's {@link NetworkMonitor} throws from {@code subscribe} or
     *     {@code start} is thrown as it is, after the store was closed
     */
    public static Outpost open(OutpostConfig config) throws OutpostException {
        Objects.requireNonNull(config, "config");
        LocalStore store = LocalStore.open(config.storeFile(), config.clock(),
                new QueueSettings(config.retryPolicy(), config.priorityWeights(), config.coalescing(), config.random(),
                        config.retention(), config.storageQuota()),
                new StorageSettings(config.durability(), config.backupDirectory(), config.backupInterval(),
                        config.backupsKept(), config.recoverCorruptStore(), config.memoryOnlyFallback(),
                        config.sensitiveFields(), config.keyProvider(), config.recordCacheSize()));
        try {
            store.useSharedScopes(config.sharedScopes());
            store.purge();
        } catch (OutpostException e) {
            store.close();
            throw e;
        }
        SyncEngine engine = config.transport() == null
                ? null
                : new SyncEngine(store, config.transport(), config.tokenProvider(), config.pushBatchSize(), config.pullPageSize(),
                        config.pushesInFlight());
        Outpost outpost = new Outpost(store, engine, config.listeners());
        if (store.report().mode() != OpenReport.Mode.OPENED) {
            outpost.tell(listener -> listener.storageDegraded(store.report()));
        }
        try {
            store.handleConflicts(new ConflictHandling(config::conflictPolicy, config.conflictResolvers(),
                    (conflict, settledBy) -> outpost.tell(listener -> listener.conflictDetected(conflict, settledBy))));
            store.askResolvers();
            outpost.lastSuccess = store.lastSyncCompletedAt();
            outpost.createdAt = store.createdAt();
        } catch (OutpostException e) {
            store.close();
            throw e;
        }
        try {
            outpost.startSyncing(config);
            outpost.backups = new BackupTimer(store, config.backupInterval());
            outpost.backups.start();
        } catch (RuntimeException | Error e) {
            // An app's network monitor or executor may throw: the store must not stay open.
            outpost.closeAfterFailedStart(e);
            throw e;
        }
        return outpost;
    }

    /** Undoes what {@link #startSyncing} and the backup timer got to start, and closes the store. */
    private void closeAfterFailedStart(Throwable failure) {
        try {
            if (backups != null) {
                backups.close();
            }
            if (scheduler != null) {
                scheduler.close();
            }
            if (monitor != null) {
                monitor.stop();
            }
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        } finally {
            store.close();
        }
    }

    private void startSyncing(OutpostConfig config) {
        SyncPolicy policy = config.syncPolicy();
        clock = config.clock();
        gate = new SyncGate(policy.wifiOnlyInBackground(), policy.meteredAfter(), policy.meteredQueueBytes());
        breaker = new CircuitBreaker(clock, policy.breakerFailures(), policy.breakerCoolDown(),
                policy.breakerCoolDown().compareTo(Duration.ofMinutes(10)) > 0 ? policy.breakerCoolDown() : Duration.ofMinutes(10));
        monitor = config.networkMonitor() != null ? config.networkMonitor()
                : engine != null && policy.automatic() ? new ProbingNetworkMonitor(config.transport(), Duration.ofSeconds(15), clock)
                : NetworkMonitor.manual(NetworkState.UNKNOWN);
        if (engine != null) {
            NetworkMonitor measuring = monitor;
            engine.measureWith((bytes, elapsed) -> measuring.transferred(bytes, elapsed));
        }
        automatic = policy.automatic() && engine != null;
        scheduler = new SyncScheduler(this::runSync, policy.interval(), policy.writeDebounce(), automatic, config.syncExecutor(),
                clock);
        java.util.concurrent.atomic.AtomicReference<NetworkState> seen = new java.util.concurrent.atomic.AtomicReference<>(monitor.current());
        monitor.subscribe(state -> {
            NetworkState before = seen.getAndSet(state);
            tell(listener -> listener.networkChanged(state));
            // Back online, or off a metered link onto an unmetered one: what waited may go now.
            if (state.online() && (!before.online() || (before.metered() && !state.metered()))) {
                scheduler.trigger(SyncReason.NETWORK_RESTORED);
            }
        });
        if (automatic) {
            monitor.start();
            scheduler.start();
            try {
                if (store.pendingCount() > 0) {
                    scheduler.written();
                }
            } catch (OutpostException e) {
                LOG.warn("cannot count the pending changes at open: {}", e.getMessage());
            }
            scheduleRetry();
        }
    }

    /**
     * Sets the scheduler's retry timer to the earliest time an op's backoff ends (or, while the
     * circuit is open, to when it half-opens), so a retry runs when it falls due rather than
     * with the next scheduled sync, and runs at all when there is no period.
     */
    private void scheduleRetry() {
        try {
            java.time.Instant next = store.nextAttemptAt();
            java.time.Instant open = breaker.openUntil();
            if (open != null && (next == null ? store.pendingCount() > 0 : next.isBefore(open))) {
                next = open;
            }
            scheduler.retryAt(next);
        } catch (OutpostException e) {
            LOG.warn("cannot read when the next retry is due: {}", e.getMessage());
        }
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
     * @throws IllegalArgumentException if the collection or id is not valid, the data nests
     *     deeper than {@link Wire#MAX_RECORD_DEPTH}, or it holds a value the store could not read
     *     back ({@link Wire#unreadable}: a string over 20,000,000 characters, a number over 1,000
     *     digits, a field name over 50,000 characters)
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
        return (LocalRecord) queued(collection, id, watched(() -> store.put(collection, id, data, priority)));
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
        return (LocalRecord) queued(collection, id, watched(() -> store.update(collection, id, patch, priority)));
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
        return (Boolean) queued(collection, id, watched(() -> store.delete(collection, id, priority)));
    }

    /** The record as this device sees it, if it exists and is not deleted. */
    public Optional<LocalRecord> get(String collection, String id) throws OutpostException {
        checkName(collection, id);
        return store.get(collection, id);
    }

    /**
     * The records a query selects from the local view: filtered by fields, sorted, paged. It
     * answers from the device, online or not, with pending changes included.
     *
     * @throws IllegalArgumentException if it filters or sorts on a field marked sensitive
     */
    public List<LocalRecord> query(Query query) throws OutpostException {
        return store.query(Objects.requireNonNull(query, "query"));
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
        return new WriteBatch(writes -> {
            List<LocalStore.Written> written = watched(() -> store.apply(writes));
            List<Object> results = new ArrayList<>(written.size());
            for (int i = 0; i < written.size(); i++) {
                results.add(queued(writes.get(i).collection(), writes.get(i).id(), written.get(i)));
            }
            return results;
        });
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
     * Writes a backup of the store now (SQLite's online backup), keeping the newest few. Backups
     * are also taken on a schedule, whenever the last is older than
     * {@link OutpostConfig.Builder#backupInterval the backup interval}.
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
        int conflicts = store.openConflictCount();
        if (conflicts > 0) {
            return conflicts + (conflicts == 1 ? " conflict waits" : " conflicts wait") + " for review"
                    + (stats.pending() > 0 ? "; " + changes(stats.pending()) + " waiting to sync" : "");
        }
        if (last != null && last.failure() == OutpostException.Category.STORAGE) {
            return "Sync failed on this device's storage: " + changes(stats.pending()) + " waiting";
        }
        if (stats.pending() == 0) {
            return "All changes synced";
        }
        if ((last != null && last.status() == SyncResult.Status.OFFLINE) || !monitor.current().online()) {
            return "Offline: " + changes(stats.pending()) + " will sync when connected";
        }
        if (last != null && last.status() == SyncResult.Status.DEFERRED) {
            return changes(stats.pending()) + (last.message().startsWith("waiting for Wi-Fi") ? " waiting for Wi-Fi"
                    : " waiting; the server is failing, so syncing pauses for a while");
        }
        if (last != null ? last.failure() == OutpostException.Category.AUTH : store.pausedOnRefusedToken()) {
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
     * The conflicts that wait for the app, oldest first: those of {@link ClientConflictPolicy#PROMPT_USER}
     * collections, those a {@link ConflictResolver} left for later or failed on
     * ({@link Conflict#error()}). Each is stored with base, local and remote and survives
     * restarts. Meanwhile the record shows the server's record, its state is
     * {@link SyncState#CONFLICT}, and the device's later changes to it wait behind the conflict.
     */
    public List<Conflict> conflicts() throws OutpostException {
        return store.conflicts();
    }

    /**
     * Settles a conflict that waits for the app. {@link Resolution#useServer()} drops the
     * device's change (it stays on record with the conflict); {@link Resolution#useLocal()}
     * forces it: it is queued again against the server's version ("force update");
     * {@link Resolution#merged(ObjectNode)} queues the given record; {@link Resolution#later()}
     * leaves the conflict as it is ("review later"). The record's later changes then go on,
     * after the queued one.
     *
     * @throws IllegalArgumentException if merged data nests deeper than {@link Wire#MAX_RECORD_DEPTH}
     * @throws OutpostException VALIDATION / CONFLICT_NOT_FOUND if no conflict has that id (settled
     *     ones are forgotten after the retention period), VALIDATION / CONFLICT_ALREADY_RESOLVED if
     *     it was settled already; STORAGE if it could not be saved, and then nothing changed
     */
    public void resolveConflict(String conflictId, Resolution resolution) throws OutpostException {
        Objects.requireNonNull(conflictId, "conflictId");
        Objects.requireNonNull(resolution, "resolution");
        if (resolution.kind() == Resolution.Kind.MERGED) {
            checkDepth(resolution.data());
        }
        String[] queuedFor = store.resolveConflict(conflictId, resolution);
        if (queuedFor != null) {
            announceQueued(queuedFor[0], queuedFor[1]);
        }
    }

    /**
     * Pushes every queued change, then pulls every change since the last pull, and returns
     * when done. Without a reachable server it returns OFFLINE and the changes stay queued.
     * Changes waiting out a retry, or a wait the server asked for (Retry-After), stay queued
     * until then; the pull still runs, also when the push fails.
     * If a sync the app asked for is running already, this waits for it and returns its
     * result; if an automatic one is running (which may be held back by the network policy, or
     * past its push), this waits for it and then runs a sync of its own, whose result it
     * returns. Network policy does not hold back a sync the app asks for.
     *
     * <p>Not to be called from the sync thread, that is from an {@link OutpostListener} or a
     * {@link ConflictResolver} during a sync: the sync would wait for itself. Call
     * {@link #syncNow()} there, without waiting for its future.
     *
     * <p>A sync that fails on the device's storage, or on an exception other than
     * {@link OutpostException} thrown by a {@link Transport} of the app's own, is still a sync:
     * listeners hear {@code syncFailed} after {@code syncStarted}, and {@link #lastSync()},
     * {@link #metrics()} and {@link #statusLine()} show it FAILED (category STORAGE, or SERVER
     * for the transport's exception); then this method throws.
     *
     * @throws OutpostException STORAGE if the local store failed (KEY_UNAVAILABLE if the key
     *     provider gave no key); network and server failures are reported in the result instead
     * @throws IllegalStateException if called on the sync thread, or after {@link #close()}
     * @throws RuntimeException what a {@link Transport} of the app's own threw against its
     *     contract (which allows only {@link OutpostException})
     */
    public SyncResult sync() throws OutpostException {
        if (scheduler.onSyncThread()) {
            throw new IllegalStateException("sync() was called on the sync thread (from a listener or resolver during a sync), "
                    + "where it would wait for itself; call syncNow() instead, which runs a sync after this one");
        }
        try {
            return syncNow().join();
        } catch (java.util.concurrent.CompletionException e) {
            if (e.getCause() instanceof OutpostException failure) {
                throw failure;
            }
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw e;
        }
    }

    /**
     * Starts a sync now without waiting: the future completes with its result. As
     * {@link #sync()}, it joins a running sync the app asked for, and follows a running
     * automatic one with a sync of its own; network policy does not hold it back. Called on
     * the sync thread (from a listener or resolver during a sync), it asks for a sync to run
     * after the current one; waiting for its future there would never end. A failure that
     * {@link #sync()} throws (STORAGE, a transport's exception) completes the future
     * exceptionally with that exception.
     */
    public java.util.concurrent.CompletableFuture<SyncResult> syncNow() {
        return scheduler.request(SyncReason.REQUESTED);
    }

    /**
     * The app came to the foreground: sync now if automatic sync is on (and the network
     * policy allows).
     */
    public void onForeground() {
        background = false;
        scheduler.trigger(SyncReason.FOREGROUND);
    }

    /**
     * The app is going to the background: push what waits now, before it may be suspended
     * (if automatic sync is on and the policy allows; with Wi-Fi-only background sync, only
     * on Wi-Fi or ethernet). Later automatic syncs follow the background rules until
     * {@link #onForeground()}.
     */
    public void onBackground() {
        background = true;
        scheduler.trigger(SyncReason.BACKGROUND);
    }

    /** The network as the monitor sees it now. */
    public NetworkState networkState() {
        return monitor.current();
    }

    /** Queue depth, sync counts, success rate and durations since Outpost opened. */
    public SyncMetrics metrics() throws OutpostException {
        QueueStats stats = store.stats();
        SyncHistory.Entry last = history.last();
        long syncs = history.syncs();
        return new SyncMetrics(stats.pending(), stats.dead(), syncs, history.completed(),
                syncs == 0 ? Double.NaN : history.completed() / (double) syncs, history.total(),
                last == null ? null : Duration.ofMillis(last.durationMillis()),
                last == null ? null : last.startedAt().plusMillis(last.durationMillis()), history.lastSuccessAt());
    }

    /**
     * Writes what a support engineer needs to see why this device is not syncing, as JSON (the
     * seeds' sync inspector): the status line, network, queue stats, metrics, the last
     * {@value SyncHistory#KEPT} syncs with their outcomes, dead letters with their reasons, the
     * conflicts waiting for the app, and how the store opened. Record contents are left out
     * (ids, collections, versions and reasons only), so the file can be shared.
     *
     * @throws OutpostException STORAGE if the store cannot be read or the file cannot be written
     */
    public void exportDebugInfo(java.nio.file.Path file) throws OutpostException {
        Objects.requireNonNull(file, "file");
        java.util.Map<String, Object> info = new java.util.LinkedHashMap<>();
        info.put("exportedAt", clock.instant().toString());
        info.put("deviceId", deviceId());
        info.put("statusLine", statusLine());
        NetworkState network = monitor.current();
        info.put("network", java.util.Map.of("online", network.online(), "type", network.type().name(), "metered", network.metered(),
                "quality", network.quality(), "stability", network.stability()));
        QueueStats stats = store.stats();
        java.util.Map<String, Object> queue = new java.util.LinkedHashMap<>();
        queue.put("pending", stats.pending());
        queue.put("pendingByPriority", stats.pendingByPriority());
        queue.put("pendingBytes", stats.pendingBytes());
        queue.put("oldestPendingAt", String.valueOf(stats.oldestPendingAt()));
        queue.put("nextAttemptAt", String.valueOf(stats.nextAttemptAt()));
        queue.put("applied", stats.applied());
        queue.put("conflicts", stats.conflicts());
        queue.put("dead", stats.dead());
        queue.put("discarded", stats.discarded());
        queue.put("successRate", Double.isNaN(stats.successRate()) ? null : stats.successRate());
        queue.put("meanProcessingMillis", stats.meanProcessingTime() == null ? null : stats.meanProcessingTime().toMillis());
        info.put("queue", queue);
        SyncMetrics metrics = metrics();
        java.util.Map<String, Object> figures = new java.util.LinkedHashMap<>();
        figures.put("syncs", metrics.syncs());
        figures.put("completedSyncs", metrics.completedSyncs());
        figures.put("successRate", Double.isNaN(metrics.successRate()) ? null : metrics.successRate());
        figures.put("meanSyncMillis", metrics.meanSyncDuration() == null ? null : metrics.meanSyncDuration().toMillis());
        figures.put("lastSuccessAt", String.valueOf(metrics.lastSuccessAt()));
        info.put("metrics", figures);
        List<java.util.Map<String, Object>> syncs = new java.util.ArrayList<>();
        for (SyncHistory.Entry entry : history.recent()) {
            java.util.Map<String, Object> sync = new java.util.LinkedHashMap<>();
            SyncResult result = entry.result();
            sync.put("reason", entry.reason().name());
            sync.put("startedAt", entry.startedAt().toString());
            sync.put("millis", entry.durationMillis());
            sync.put("status", result.status().name());
            sync.put("failure", result.failure() == null ? null : result.failure().name());
            sync.put("pushed", result.pushed());
            sync.put("applied", result.applied());
            sync.put("merged", result.merged());
            sync.put("conflicts", result.conflicts());
            sync.put("dead", result.dead());
            sync.put("pulled", result.pulled());
            sync.put("pending", result.pending());
            sync.put("message", result.message());
            syncs.add(sync);
        }
        info.put("recentSyncs", syncs);
        List<java.util.Map<String, Object>> dead = new java.util.ArrayList<>();
        for (DeadLetter letter : store.deadLetters()) {
            java.util.Map<String, Object> entry = new java.util.LinkedHashMap<>();
            entry.put("opId", letter.opId());
            entry.put("collection", letter.collection());
            entry.put("recordId", letter.recordId());
            entry.put("type", letter.type().name());
            entry.put("attempts", letter.attempts());
            entry.put("reason", letter.reason());
            entry.put("createdAt", String.valueOf(letter.createdAt()));
            entry.put("diedAt", String.valueOf(letter.diedAt()));
            dead.add(entry);
        }
        info.put("deadLetters", dead);
        info.put("conflicts", conflictSummaries());
        OpenReport report = store.report();
        info.put("openedAs", java.util.Map.of("mode", report.mode().name(), "message", String.valueOf(report.message())));
        try {
            java.nio.file.Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                java.nio.file.Files.createDirectories(parent);
            }
            java.nio.file.Files.write(file, Wire.mapper().writerWithDefaultPrettyPrinter().writeValueAsBytes(info));
        } catch (java.io.IOException e) {
            throw new OutpostException(OutpostException.Category.STORAGE, "EXPORT_FAILED",
                    "cannot write the debug export to " + file + ": " + e.getMessage(), e);
        }
    }

    private List<java.util.Map<String, Object>> conflictSummaries() throws OutpostException {
        List<java.util.Map<String, Object>> summaries = new java.util.ArrayList<>();
        for (Conflict conflict : conflicts()) {
            java.util.Map<String, Object> entry = new java.util.LinkedHashMap<>();
            entry.put("id", conflict.id());
            entry.put("collection", conflict.collection());
            entry.put("recordId", conflict.recordId());
            entry.put("opId", conflict.opId());
            entry.put("remoteVersion", conflict.remoteVersion());
            entry.put("remoteDeleted", conflict.remoteDeleted());
            entry.put("detectedAt", String.valueOf(conflict.detectedAt()));
            entry.put("error", conflict.error());
            summaries.add(entry);
        }
        return summaries;
    }

    /** Runs the backup schedule's check now, as its timer does; for tests of the schedule. Null if no backup was due. */
    BackupInfo checkBackupSchedule() throws OutpostException {
        return backups.check();
    }

    /** Starts an automatic sync as if {@code reason} had happened; for tests of the scheduling rules. */
    java.util.concurrent.CompletableFuture<SyncResult> trigger(SyncReason reason) {
        return scheduler.request(reason);
    }

    /**
     * One sync, run on the sync thread: the policy gate for automatic ones, then the engine, then
     * the events. A failure it throws (STORAGE, or what an app's transport threw) is in the
     * history as a FAILED sync too.
     */
    private SyncResult runSync(SyncReason reason) throws Exception {
        java.time.Instant startedAt = clock.instant();
        long started = System.nanoTime();
        try {
            SyncResult result;
            try {
                result = syncOnce(reason);
            } catch (SyncFailure failure) {
                history.add(reason, startedAt, Duration.ofNanos(System.nanoTime() - started), failure.result);
                throw failure.error;
            }
            history.add(reason, startedAt, Duration.ofNanos(System.nanoTime() - started), result);
            return result;
        } finally {
            if (automatic) {
                scheduleRetry();
            }
        }
    }

    private SyncResult syncOnce(SyncReason reason) throws SyncFailure {
        boolean started = false;
        try {
            SyncResult held = heldBack(reason);
            if (held != null) {
                lastSync = held;
                tell(listener -> listener.syncDeferred(held));
                return held;
            }
            tell(listener -> listener.syncStarted(reason));
            started = true;
            List<DeadLetter> deadBefore = listeners.isEmpty() ? List.of() : store.deadLetters();
            SyncResult result = engine == null
                    ? new SyncResult(SyncResult.Status.OFFLINE, 0, 0, 0, 0, 0, 0, store.pendingCount(),
                            OutpostException.Category.NETWORK, "no server is configured; changes stay queued")
                    : engine.sync(new SyncEngine.Progress() {
                        @Override
                        public void pushed(int done, int total) {
                            tell(listener -> listener.syncProgress(done, total));
                        }

                        @Override
                        public void pulled(int done, int total) {
                            tell(listener -> listener.pullProgress(done, total));
                        }
                    });
            lastSync = result;
            OutpostException pastQuota = store.quotaPassedByPull();
            if (pastQuota != null) {
                tell(listener -> listener.quotaExceeded(pastQuota));
            }
            if (result.dead() > 0 && !listeners.isEmpty()) {
                java.util.Set<String> known = new java.util.HashSet<>();
                deadBefore.forEach(letter -> known.add(letter.opId()));
                for (DeadLetter letter : store.deadLetters()) {
                    if (!known.contains(letter.opId())) {
                        tell(listener -> listener.deadLettered(letter));
                    }
                }
            }
            noteOutcome(result);
            if (result.status() == SyncResult.Status.COMPLETED) {
                tell(listener -> listener.syncCompleted(result));
            } else {
                tell(listener -> listener.syncFailed(result));
            }
            return result;
        } catch (OutpostException | RuntimeException e) {
            SyncResult failed = failedOn(e);
            lastSync = failed;
            if (!started) {
                tell(listener -> listener.syncStarted(reason));
            }
            tell(listener -> listener.syncFailed(failed));
            throw new SyncFailure(failed, e);
        }
    }

    /** The FAILED result of a sync that threw {@code error}: STORAGE, or SERVER for a transport's unexpected exception. */
    private SyncResult failedOn(Exception error) {
        int pending;
        try {
            pending = store.pendingCount();
        } catch (OutpostException e) {
            SyncResult last = lastSync;
            pending = last == null ? 0 : last.pending();
        }
        if (error instanceof OutpostException failure) {
            return new SyncResult(SyncResult.Status.FAILED, 0, 0, 0, 0, 0, 0, pending, failure.category(), failure.getMessage());
        }
        return new SyncResult(SyncResult.Status.FAILED, 0, 0, 0, 0, 0, 0, pending, OutpostException.Category.SERVER,
                "the sync failed unexpectedly: " + error);
    }

    /** A DEFERRED result if an automatic sync may not run now; null if it may. */
    private SyncResult heldBack(SyncReason reason) throws OutpostException {
        if (reason == SyncReason.REQUESTED || engine == null) {
            return null;
        }
        if (!breaker.allows()) {
            return deferred("the server failed " + "repeatedly; automatic syncs resume after " + breaker.openUntil());
        }
        QueueStats stats = store.stats();
        SyncGate.Verdict verdict = gate.decide(monitor.current(), false, background, stats,
                lastSuccess != null ? lastSuccess : createdAt, clock.instant());
        return verdict.run() ? null : deferred("waiting for " + verdict.waitingFor() + ": " + changes(stats.pending())
                + " (" + stats.pendingBytes() + " bytes) queued on " + monitor.current().describe());
    }

    private SyncResult deferred(String message) throws OutpostException {
        return new SyncResult(SyncResult.Status.DEFERRED, 0, 0, 0, 0, 0, 0, store.pendingCount(), null, message);
    }

    private void noteOutcome(SyncResult result) {
        switch (result.status()) {
            case COMPLETED -> {
                lastSuccess = clock.instant();
                breaker.succeeded();
            }
            case FAILED -> {
                if (result.failure() == OutpostException.Category.SERVER) {
                    breaker.failed();
                }
            }
            default -> {
                // OFFLINE is the network's doing, not the server's.
            }
        }
        if (monitor instanceof ProbingNetworkMonitor probing && result.status() != SyncResult.Status.DEFERRED) {
            probing.observe(result.status() != SyncResult.Status.OFFLINE, null);
        }
    }

    /** A sync that threw: its FAILED result, told and recorded, and what it threw. */
    private static final class SyncFailure extends Exception {
        private static final long serialVersionUID = 1L;
        private final transient SyncResult result;
        private final Exception error;

        SyncFailure(SyncResult result, Exception error) {
            super(error.getMessage(), error, false, false);
            this.result = result;
            this.error = error;
        }
    }

    /**
     * Stops syncing and the backup schedule (waiting for a running sync, and a scheduled backup
     * being taken, to end) and closes the local store. Writes already returned are on disk.
     */
    @Override
    public void close() {
        scheduler.close();
        monitor.stop();
        if (backups != null) {
            backups.close();
        }
        if (engine != null) {
            engine.awaitBackup();
        }
        store.close();
    }

    /** Tells the listeners and the scheduler about a write if it changed something; returns its value. */
    private Object queued(String collection, String id, LocalStore.Written written) {
        if (written.changed()) {
            announceQueued(collection, id);
        }
        return written.value();
    }

    /** Tells the listeners and the scheduler that an op of the record was queued. */
    private void announceQueued(String collection, String id) {
        tell(listener -> listener.opQueued(collection, id));
        scheduler.written();
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
        String unreadable = Wire.unreadable(data);
        if (unreadable != null) {
            throw new IllegalArgumentException("the record holds " + unreadable + ", which the store could not read back");
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
