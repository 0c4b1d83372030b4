package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.BackupInfo;
import dev.outpost.client.ClientConflictPolicy;
import dev.outpost.client.Conflict;
import dev.outpost.client.ConflictResolver;
import dev.outpost.client.DeadLetter;
import dev.outpost.client.Durability;
import dev.outpost.client.LocalRecord;
import dev.outpost.client.OpInfo;
import dev.outpost.client.OpenReport;
import dev.outpost.client.OpQuery;
import dev.outpost.client.Query;
import dev.outpost.client.QueueStats;
import dev.outpost.client.Resolution;
import dev.outpost.client.OutpostException;
import dev.outpost.client.OutpostException.Category;
import dev.outpost.client.SyncState;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.Ids;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.ServerRecord;
import dev.outpost.protocol.Wire;
import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.sqlite.SQLiteErrorCode;
import org.sqlite.SQLiteException;

/**
 * The device's database: one SQLite file holding the local record view, the op queue and the
 * sync metadata (schema in {@code V1__local_store.sql} beside this class).
 *
 * <p>The file is in WAL mode. In DURABLE mode a write returns after the WAL is forced to disk
 * (see {@link #syncThrough}), so a write call that returned survives a killed process and a power
 * loss; what the server can give again (its answers, pulled pages) is committed without that
 * wait. Every write changes the local view and appends its op in one transaction. Reads and
 * writes of the database are serialized on this object; waiting for the disk is not.
 */
public final class LocalStore implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LocalStore.class);
    private static final List<String> MIGRATIONS =
            List.of("V1__local_store.sql", "V2__retry_schedule.sql", "V3__fewer_pages_per_write.sql",
                    "V4__codec_and_retention.sql", "V5__device_conflicts.sql",
                    "V6__server_state_stored_once.sql", "V7__ops_without_base.sql",
                    "V8__conflict_remote_record_id.sql");
    static final int SCHEMA_VERSION = MIGRATIONS.size();

    private final Path file;
    private final Clock clock;
    private final Connection db;
    private final String deviceId;
    private final Hlc hlc;
    private final Statements statements;
    private final OpQueue queue;
    private final QueueSettings settings;
    private final StorageSettings storage;
    /** The store's write-ahead log, opened by the first {@link #syncThrough}; guarded by {@link #logLock}. */
    private FileChannel log;
    private final Object logLock = new Object();
    /** Held while a backup is taken, so one is taken at a time. */
    private final Object backupLock = new Object();
    /** How many transactions this store has committed; written under the store's lock. */
    private volatile long committed;
    /** How many of them are known to be on disk. */
    private volatile long synced;
    /** The failure of a force of the log, after which no write counts as durable; guarded by {@link #logLock}. */
    private IOException logFailure;
    private final FieldCipher cipher;
    private final RecordCache cache;
    private final boolean inMemory;
    private volatile OpenReport report;
    private final DeviceConflicts conflicts;
    private volatile ConflictHandling handling = ConflictHandling.SERVER_WINS;
    /** The shared scope of each collection that lives in one; see {@link #useSharedScopes}. */
    private volatile Map<String, String> sharedScopes = Map.of();
    /** Whether the last page pulled held only records new to this device: the next is then inserted first. */
    private boolean lastPageAllNew = true;
    /** False only when no conflict is open, so writes need not look for one. */
    private volatile boolean mayHaveOpenConflicts = true;
    /** False only when no conflict waits for a resolver. */
    private volatile boolean mayAwaitResolver = true;
    /**
     * Whether SQLite reported the file damaged (SQLITE_CORRUPT, SQLITE_NOTADB) after the open.
     * The session marker then outlives {@link #close()}, so the next open runs the full
     * integrity check and recovers, however large the store.
     */
    private volatile boolean damageSeen;
    /** Keeps the file to this store from open to close; null for a store in memory. */
    private StoreLock lock;
    /** Set when a pulled page grew the store past its quota; see {@link #quotaPassedByPull()}. */
    private OutpostException pulledPastQuota;

    private LocalStore(Path file, Clock clock, Connection db, Statements statements, String deviceId, Hlc hlc,
            QueueSettings settings, StorageSettings storage, boolean inMemory) {
        this.file = file;
        this.clock = clock;
        this.db = db;
        this.deviceId = deviceId;
        this.hlc = hlc;
        this.statements = statements;
        this.settings = settings;
        this.storage = storage;
        this.cipher = new FieldCipher(storage.sensitiveFields(), storage.keyProvider());
        this.cache = new RecordCache(storage.recordCacheSize());
        this.inMemory = inMemory;
        this.queue = new OpQueue(statements, settings, cipher);
        this.conflicts = new DeviceConflicts(statements, cipher);
    }

    /** Stores no bigger than this get a full integrity check at every open. */
    private static final long ALWAYS_CHECK_BYTES = 16L * 1024 * 1024;

    /** The store file is damaged: not a database, malformed, truncated. */
    private static final class Damaged extends Exception {
        private static final long serialVersionUID = 1L;

        Damaged(String message, Throwable cause) {
            super(message, cause);
        }
    }

    /**
     * Opens the store at {@code file}, creating it (and a device id) on first use. A damaged
     * file is moved aside and the newest usable backup restored (or a new store begun); if no
     * file storage works, the store lives in memory. {@link #report()} says which happened.
     * A file that another open store holds, in this process or another, is refused
     * (STORE_IN_USE), see {@link StoreLock}.
     */
    public static LocalStore open(Path file, Clock clock, QueueSettings settings, StorageSettings storage)
            throws OutpostException {
        StoreLock lock;
        try {
            lock = StoreLock.tryAcquire(file);
        } catch (IOException e) {
            if (!storage.memoryOnlyFallback()) {
                throw openFailure("cannot lock the local store " + file + ": " + e.getMessage(), e);
            }
            return openInMemory(file, clock, settings, storage, "its lock file could not be made: " + e.getMessage());
        }
        if (lock == null) {
            throw new OutpostException(Category.STORAGE, "STORE_IN_USE", "the local store " + file + " is open already,"
                    + " in this process or another (it holds " + StoreLock.fileOf(file) + "); close that one first");
        }
        LocalStore store;
        try {
            store = openLocked(file, clock, settings, storage);
        } catch (OutpostException | RuntimeException | Error e) {
            lock.close();
            throw e;
        }
        if (store.inMemory) {
            lock.close();
        } else {
            store.lock = lock;
        }
        return store;
    }

    private static LocalStore openLocked(Path file, Clock clock, QueueSettings settings, StorageSettings storage)
            throws OutpostException {
        try {
            LocalStore store = openFile(file, clock, settings, storage);
            store.report = OpenReport.opened();
            return store;
        } catch (Damaged damaged) {
            if (!storage.recoverCorrupt()) {
                throw new OutpostException(Category.STORAGE, "STORE_DAMAGED", "the local store " + file + " is damaged ("
                        + damaged.getMessage() + "); it was left as it is", damaged);
            }
            return recover(file, clock, settings, storage, damaged);
        } catch (OutpostException e) {
            if (e.code().equals("STORE_TOO_NEW") || !storage.memoryOnlyFallback()) {
                throw e;
            }
            return openInMemory(file, clock, settings, storage, e.getMessage());
        }
    }

    private static LocalStore recover(Path file, Clock clock, QueueSettings settings, StorageSettings storage,
            Damaged damaged) throws OutpostException {
        Path aside;
        List<Path> backups;
        try {
            aside = StoreFiles.moveAside(file, clock.instant());
            backups = StoreFiles.backups(storage.backupDirectory());
        } catch (IOException e) {
            if (!storage.memoryOnlyFallback()) {
                throw openFailure("the local store " + file + " is damaged (" + damaged.getMessage()
                        + ") and could not be moved aside: " + e.getMessage(), e);
            }
            return openInMemory(file, clock, settings, storage, "the store file is damaged and could not be moved aside");
        }
        String found = "the local store " + file + " was damaged (" + damaged.getMessage() + "); it was moved to " + aside;
        for (Path backup : backups) {
            try {
                StoreFiles.restore(backup, file);
                LocalStore store = openFile(file, clock, settings, storage);
                store.markRestoredOpsPossiblySent();
                Instant taken = StoreFiles.takenAt(backup).orElseThrow();
                store.report = new OpenReport(OpenReport.Mode.RECOVERED_FROM_BACKUP, found + " and the backup taken at "
                        + taken + " was restored: " + store.counts() + " came back; changes written after that backup are lost",
                        aside, backup, taken);
                LOG.warn(store.report.message());
                return store;
            } catch (Damaged | IOException e) {
                try {
                    Files.deleteIfExists(file);
                } catch (IOException ignored) {
                    // the next attempt overwrites it
                }
                LOG.warn("backup {} could not be restored: {}", backup, e.getMessage());
            }
        }
        try {
            LocalStore store = openFile(file, clock, settings, storage);
            store.report = new OpenReport(OpenReport.Mode.STARTED_EMPTY, found + "; no usable backup was found, so a new,"
                    + " empty store was begun: changes in the damaged file that had not reached the server are lost", aside,
                    null, null);
            LOG.warn(store.report.message());
            return store;
        } catch (Damaged e) {
            throw openFailure("a new store at " + file + " could not be created: " + e.getMessage(), e);
        }
    }

    /**
     * See {@link OpQueue#markPossiblySent}. Forced to disk in every durability mode: the store
     * is not restored again at the next open, so a mark lost then would stay lost. A failure
     * closes the store.
     */
    private synchronized void markRestoredOpsPossiblySent() throws OutpostException {
        try {
            queue.markPossiblySent(clock.millis());
            forceThrough(commitUnsynced());
        } catch (SQLException e) {
            rollback(e);
            // The failure first, so damage it reports is seen before the close, which then
            // keeps the marker that makes the next open check the store again.
            OutpostException failure = storage("the store " + file + " was restored from a backup, but its ops could not"
                    + " be marked as possibly sent: " + e.getMessage(), e);
            close();
            throw failure;
        }
    }

    private static LocalStore openInMemory(Path file, Clock clock, QueueSettings settings, StorageSettings storage,
            String why) throws OutpostException {
        try {
            Connection db = DriverManager.getConnection("jdbc:sqlite::memory:", connectionProperties());
            migrate(db, file);
            LocalStore store = init(file, clock, settings, storage, db, true);
            store.report = new OpenReport(OpenReport.Mode.MEMORY_ONLY, "no file storage works at " + file + " (" + why
                    + "); changes are kept in memory only and are lost when the app stops", null, null, null);
            LOG.error(store.report.message());
            return store;
        } catch (SQLException e) {
            throw openFailure("neither the store file " + file + " nor memory could hold the store: " + e.getMessage(), e);
        }
    }

    private static LocalStore openFile(Path file, Clock clock, QueueSettings settings, StorageSettings storage)
            throws OutpostException, Damaged {
        Connection db = null;
        try {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            db = DriverManager.getConnection("jdbc:sqlite:" + file, connectionProperties());
            try (Statement statement = db.createStatement()) {
                statement.execute("PRAGMA busy_timeout = 10000");
                statement.execute("PRAGMA journal_mode = WAL");
                // Commits append to the WAL without waiting for the disk; a durable commit then
                // forces the WAL itself (see syncThrough), as synchronous=FULL would inside the commit.
                statement.execute("PRAGMA synchronous = NORMAL");
                limitLog(statement, settings.quotaBytes());
            }
            migrate(db, file);
            checkIntegrity(db, file);
            return init(file, clock, settings, storage, db, false);
        } catch (SQLException e) {
            closeQuietly(db);
            if (isDamage(e)) {
                throw new Damaged(e.getMessage(), e);
            }
            throw openFailure("cannot open the local store " + file + ": " + e.getMessage(), e);
        } catch (Damaged | OutpostException e) {
            closeQuietly(db);
            throw e;
        } catch (IOException e) {
            closeQuietly(db);
            throw openFailure("cannot open the local store " + file + ": " + e.getMessage(), e);
        }
    }

    /** SQLite's own checkpoint size, in pages: the WAL is rewritten from its start once it has grown past it. */
    private static final int CHECKPOINT_PAGES = 1000;

    /**
     * Bounds the WAL, which the quota counts: checkpoints come after {@link #CHECKPOINT_PAGES}
     * pages, or after an eighth of a smaller quota; and a WAL that a large transaction or a
     * long read grew past twice that is cut back to it when it is next rewritten from its
     * start. Below that size the WAL is never cut, so its forces stay of the faster kind that
     * records no new file size (docs/BENCHMARKS.md).
     */
    private static void limitLog(Statement statement, long quotaBytes) throws SQLException {
        long pageSize;
        try (ResultSet rows = statement.executeQuery("PRAGMA page_size")) {
            rows.next();
            pageSize = rows.getLong(1);
        }
        long pages = Math.max(4, Math.min(CHECKPOINT_PAGES, quotaBytes / 8 / pageSize));
        statement.execute("PRAGMA wal_autocheckpoint = " + pages);
        statement.execute("PRAGMA journal_size_limit = " + 2 * pages * (pageSize + WAL_FRAME_HEADER));
    }

    /** Bytes before each page in the WAL. */
    private static final int WAL_FRAME_HEADER = 24;

    private static Properties connectionProperties() {
        Properties properties = new Properties();
        // Nothing reads generated keys; retrieving them costs a query after every insert.
        properties.setProperty("jdbc.get_generated_keys", "false");
        return properties;
    }

    /** Reads the device id, starts the clock and marks the store open (for the unclean-shutdown check). */
    private static LocalStore init(Path file, Clock clock, QueueSettings settings, StorageSettings storage, Connection db,
            boolean inMemory) throws SQLException {
        db.setAutoCommit(false);
        Statements statements = new Statements(db);
        String deviceId = meta(statements, "device_id");
        if (deviceId == null) {
            deviceId = UUID.randomUUID().toString();
            putMeta(statements, "device_id", deviceId);
        }
        Hlc hlc = Hlc.create(deviceId, clock::millis, lastHlc(statements));
        if (meta(statements, "created_at") == null) {
            // A store made before this was kept counts from its first open since.
            putMeta(statements, "created_at", String.valueOf(clock.millis()));
        }
        putMeta(statements, "session", "open");
        db.commit();
        return new LocalStore(file, clock, db, statements, deviceId, hlc, settings, storage, inMemory);
    }

    /**
     * The integrity check on open: every table must be readable; and SQLite's quick_check must
     * pass when the last session did not close cleanly, when the file's size is not what its
     * header says (truncated), or when the store is small enough to check every time.
     */
    private static void checkIntegrity(Connection db, Path file) throws SQLException, Damaged, IOException {
        boolean unclean;
        try (Statement statement = db.createStatement()) {
            for (String table : new String[] {"records", "ops"}) {
                statement.executeQuery("SELECT * FROM " + table + " LIMIT 1").close();
            }
            try (ResultSet rows = statement.executeQuery("SELECT value FROM meta WHERE key = 'session'")) {
                unclean = rows.next();
            }
            long pages;
            long pageSize;
            try (ResultSet rows = statement.executeQuery("PRAGMA page_count")) {
                rows.next();
                pages = rows.getLong(1);
            }
            try (ResultSet rows = statement.executeQuery("PRAGMA page_size")) {
                rows.next();
                pageSize = rows.getLong(1);
            }
            long expected = pages * pageSize;
            long size = Files.size(file);
            if (unclean || size != expected || expected <= ALWAYS_CHECK_BYTES) {
                try (ResultSet rows = statement.executeQuery("PRAGMA quick_check(5)")) {
                    rows.next();
                    String verdict = rows.getString(1);
                    if (!"ok".equals(verdict)) {
                        throw new Damaged("integrity check failed: " + verdict, null);
                    }
                }
            }
        }
    }

    private static boolean isDamage(SQLException e) {
        if (e instanceof SQLiteException sqlite) {
            int primary = sqlite.getResultCode().code & 0xff;
            return primary == SQLiteErrorCode.SQLITE_CORRUPT.code || primary == SQLiteErrorCode.SQLITE_NOTADB.code;
        }
        return false;
    }

    /** What opening the store found and did. */
    public OpenReport report() {
        return report;
    }

    /** Whether the store lives in memory because no file storage worked. */
    public boolean inMemory() {
        return inMemory;
    }

    private String counts() {
        try {
            int records;
            try (ResultSet rows = statements.get("SELECT COUNT(*) FROM records WHERE deleted = 0").executeQuery()) {
                rows.next();
                records = rows.getInt(1);
            }
            return records + " records and " + queue.pendingCount() + " pending ops";
        } catch (SQLException e) {
            return "an uncounted number of records";
        }
    }

    /**
     * Writes a backup now through SQLite's online backup; keeps the newest
     * {@code backupsKept}. The copy is read through a connection of its own, as one snapshot
     * of what was committed, so the store's reads and writes go on while it is taken.
     *
     * @throws OutpostException STORAGE if it cannot be written, or the store lives in memory
     */
    public BackupInfo backup() throws OutpostException {
        synchronized (backupLock) {
            return takeBackup();
        }
    }

    /** Takes a backup if the last one is older than the backup interval; returns it, or null. */
    public BackupInfo backupIfDue() throws OutpostException {
        if (inMemory) {
            return null;
        }
        synchronized (backupLock) {
            String last;
            synchronized (this) {
                try {
                    last = meta(statements, "last_backup_at");
                } catch (SQLException e) {
                    throw storage("cannot read the store's metadata: " + e.getMessage(), e);
                }
            }
            if (last != null && clock.millis() - Long.parseLong(last) < storage.backupInterval().toMillis()) {
                return null;
            }
            return takeBackup();
        }
    }

    private BackupInfo takeBackup() throws OutpostException {
        if (inMemory) {
            throw new OutpostException(Category.STORAGE, "MEMORY_ONLY", "the store lives in memory only, so there is nothing"
                    + " on disk to back up; " + report.message());
        }
        if (damageSeen) {
            // A copy of damaged pages would push a good backup out of those kept.
            throw new OutpostException(Category.STORAGE, "STORE_DAMAGED", "the local store " + file + " met damage since it"
                    + " was opened, so no backup is taken; the next open checks it and restores a backup if it must");
        }
        BackupInfo info;
        try (Connection source = DriverManager.getConnection("jdbc:sqlite:" + file, connectionProperties())) {
            try (Statement statement = source.createStatement()) {
                statement.execute("PRAGMA busy_timeout = 10000");
            }
            info = StoreFiles.backup(source, storage.backupDirectory(), clock.instant(), storage.backupsKept());
        } catch (SQLException | IOException | RuntimeException e) {
            throw storage("the backup of " + file + " to " + storage.backupDirectory() + " failed: " + e.getMessage(), e);
        }
        synchronized (this) {
            try {
                putMeta(statements, "last_backup_at", String.valueOf(info.takenAt().toEpochMilli()));
                commitRecoverable();
            } catch (SQLException | RuntimeException e) {
                rollback(e);
                throw storage("the backup " + info.file() + " was written, but the store could not record it: "
                        + e.getMessage(), e);
            }
        }
        return info;
    }

    private static void migrate(Connection db, Path file) throws SQLException, OutpostException {
        int version;
        try (Statement statement = db.createStatement(); ResultSet rows = statement.executeQuery("PRAGMA user_version")) {
            rows.next();
            version = rows.getInt(1);
        }
        if (version > SCHEMA_VERSION) {
            throw new OutpostException(Category.STORAGE, "STORE_TOO_NEW", "the local store " + file + " has schema version "
                    + version + " but this client knows only up to " + SCHEMA_VERSION + "; it was written by a newer Outpost");
        }
        if (version < SCHEMA_VERSION) {
            db.setAutoCommit(false);
            try (Statement statement = db.createStatement()) {
                for (int next = version + 1; next <= SCHEMA_VERSION; next++) {
                    for (String sql : script(MIGRATIONS.get(next - 1)).split(";\\s*\n")) {
                        String stripped = stripComments(sql);
                        if (!stripped.isEmpty()) {
                            statement.execute(stripped);
                        }
                    }
                    statement.execute("PRAGMA user_version = " + next);
                }
                db.commit();
            } catch (SQLException e) {
                db.rollback();
                throw e;
            } finally {
                db.setAutoCommit(true);
            }
        }
    }

    private static String script(String name) {
        try (InputStream in = LocalStore.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("schema script " + name + " is missing from the build");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("cannot read schema script " + name, e);
        }
    }

    private static String stripComments(String sql) {
        StringBuilder out = new StringBuilder();
        for (String line : sql.split("\n")) {
            if (!line.strip().startsWith("--")) {
                out.append(line).append('\n');
            }
        }
        return out.toString().strip();
    }

    public String deviceId() {
        return deviceId;
    }

    public Path file() {
        return file;
    }

    // ---- writes ---------------------------------------------------------------------------

    /**
     * What a write gave: its {@code value} (the record after it, a {@link LocalRecord} or null
     * if absent, or for a delete whether there was a live record), and whether it changed the
     * store. A write that changes nothing (the same fields put again, an empty patch, a delete
     * of a record that is not there) queues no op.
     */
    public record Written(Object value, boolean changed) {
    }

    /** Creates the record or replaces all its fields; its value is the record as stored. */
    public Written put(String collection, String id, ObjectNode data, Priority priority) throws OutpostException {
        return submit(List.of(LocalWrite.put(collection, id, data, priority))).get(0);
    }

    /** Applies a merge patch to an existing record; its value is the record as stored. */
    public Written update(String collection, String id, ObjectNode patch, Priority priority) throws OutpostException {
        return submit(List.of(LocalWrite.update(collection, id, patch, priority))).get(0);
    }

    /** Deletes a record; its value is whether there was a live record to delete. */
    public Written delete(String collection, String id, Priority priority) throws OutpostException {
        return submit(List.of(LocalWrite.delete(collection, id, priority))).get(0);
    }

    /** Applies the writes in order, all or none, in one transaction; returns what each gave. */
    public List<Written> apply(List<LocalWrite> writes) throws OutpostException {
        return submit(List.copyOf(writes));
    }

    /** Writes waiting for a commit; see {@link #submit}. */
    private final ConcurrentLinkedQueue<Task> waiting = new ConcurrentLinkedQueue<>();
    /** Whether a writer is committing the waiting writes (the leader); see {@link #submit}. */
    private final AtomicBoolean leading = new AtomicBoolean();

    /** A caller's writes and, once its group has committed, their results or its failure. */
    private static final class Task {
        static final int WAITING = 0;
        static final int LEAD = 1;
        static final int DONE = 2;

        final List<LocalWrite> writes;
        final Thread caller = Thread.currentThread();
        /** {@link #WAITING}, {@link #LEAD} (the caller is to commit the waiting writes) or {@link #DONE}. */
        volatile int state;
        List<Written> results;
        Exception failure;
        /** The number of the commit that holds the task's writes. */
        long commit;

        Task(List<LocalWrite> writes) {
            this.writes = writes;
        }

        void signal(int newState) {
            state = newState;
            if (caller != Thread.currentThread()) {
                LockSupport.unpark(caller);
            }
        }

        /** Waits until the task is done or its caller is asked to lead; returns which. */
        int await() {
            boolean interrupted = false;
            int now;
            while ((now = state) == WAITING) {
                LockSupport.park(this);
                interrupted |= Thread.interrupted();
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
            return now;
        }
    }

    /**
     * Group commit. The caller queues its writes. If no writer is committing, the caller
     * becomes the leader: it commits every queued task in one transaction, each task inside a
     * savepoint so that a failing task fails alone, passes the lead to a writer that queued
     * meanwhile, forces the log ({@link #syncThrough}) and then wakes the writers of its
     * group. Every other caller sleeps until its group is done or it is asked to lead. So
     * while one group's force runs, the next group is applied and committed, one force covers
     * every group before it, and no writer waits for another to pass through a lock. No write
     * returns before the commit that holds it is on disk.
     */
    private List<Written> submit(List<LocalWrite> writes) throws OutpostException {
        Task task = new Task(writes);
        waiting.add(task);
        // A caller that takes the lead always commits once, which passes the lead on, even
        // if an earlier leader has done its task meanwhile. No caller holds the store's lock
        // here (listeners and resolvers are called outside it), so a leader can always get it.
        boolean lead = leading.compareAndSet(false, true);
        while (true) {
            if (lead) {
                commitGroup();
            }
            if (task.state == Task.DONE) {
                break;
            }
            lead = task.await() == Task.LEAD;
        }
        if (task.failure instanceof OutpostException e) {
            throw e;
        }
        if (task.failure instanceof RuntimeException e) {
            throw e;
        }
        if (task.failure != null) {
            throw storage("the write was not saved: " + task.failure.getMessage(), task.failure);
        }
        return task.results;
    }

    /**
     * Run by the leader: commits the waiting tasks as one group, passes the lead on, forces the
     * log for the group and marks its tasks done.
     */
    private void commitGroup() {
        List<Task> group = new ArrayList<>();
        try {
            synchronized (this) {
                commitWaiting(group);
            }
        } finally {
            passLead();
            try {
                force(group);
            } finally {
                for (Task task : group) {
                    task.signal(Task.DONE);
                }
            }
        }
    }

    /** Gives up the lead, handing it to the first waiting writer if there is one. */
    private void passLead() {
        leading.set(false);
        while (!waiting.isEmpty() && leading.compareAndSet(false, true)) {
            Task next = waiting.peek();
            if (next != null) {
                next.signal(Task.LEAD);
                return;
            }
            leading.set(false);
        }
    }

    /** Waits until the group's commit is on disk; a task whose force fails gets that failure. */
    private void force(List<Task> group) {
        long commit = 0;
        for (Task task : group) {
            if (task.failure == null) {
                commit = Math.max(commit, task.commit);
            }
        }
        if (commit == 0) {
            return;
        }
        try {
            syncThrough(commit);
        } catch (SQLException e) {
            for (Task task : group) {
                if (task.failure == null) {
                    task.failure = storage(task.writes.size() + " write(s), the first to " + task.writes.get(0).collection()
                            + "/" + task.writes.get(0).id() + ", are in the store and will sync, but may not survive a"
                            + " power loss: " + e.getMessage(), e);
                }
            }
        }
    }

    /** Commits every waiting task, adding each to {@code group}, and records each one's outcome. */
    private void commitWaiting(List<Task> group) {
        for (Task next; (next = waiting.poll()) != null; ) {
            group.add(next);
        }
        if (group.isEmpty()) {
            return;
        }
        try {
            // A task alone in its group needs no savepoint: if it fails, the whole transaction goes.
            boolean alone = group.size() == 1;
            for (Task task : group) {
                Savepoint savepoint = alone ? null : db.setSavepoint();
                try {
                    long pagesBefore = settings.quotaBytes() == Long.MAX_VALUE ? 0 : pages();
                    List<Written> results = new ArrayList<>(task.writes.size());
                    for (LocalWrite write : task.writes) {
                        results.add(applyWrite(write));
                    }
                    if (settings.quotaBytes() != Long.MAX_VALUE) {
                        checkQuota(pagesBefore, task.writes);
                    }
                    if (savepoint != null) {
                        db.releaseSavepoint(savepoint);
                    }
                    task.results = results;
                } catch (OutpostException | SQLException | RuntimeException e) {
                    if (savepoint != null) {
                        db.rollback(savepoint);
                    } else {
                        db.rollback();
                    }
                    task.failure = e;
                }
            }
            long commit = commitUnsynced();
            for (Task task : group) {
                task.commit = commit;
            }
        } catch (Error e) {
            rollback(new RuntimeException(e));
            for (Task task : group) {
                task.results = null;
                task.failure = storage("the write was not saved: the JVM failed while it was applied: " + e,
                        new RuntimeException(e));
            }
            throw e;
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            for (Task task : group) {
                if (task.failure == null) {
                    task.results = null;
                    task.failure = storage(task.writes.size() + " write(s), the first to "
                            + task.writes.get(0).collection() + "/" + task.writes.get(0).id()
                            + ", were not saved: " + e.getMessage(), e);
                }
            }
        }
    }

    /**
     * Applies one write: queues its op and sets the local view to the old view with the write
     * applied, which is what a rebase (server state plus open ops) gives too, also when the op
     * was folded into an earlier one.
     */
    private long pages() throws SQLException {
        try (ResultSet rows = statements.get("PRAGMA page_count").executeQuery()) {
            rows.next();
            return rows.getLong(1);
        }
    }

    /** Refuses writes that grew the store (its pages and its WAL) past its quota; they are then rolled back. */
    private void checkQuota(long pagesBefore, List<LocalWrite> writes) throws SQLException, OutpostException {
        long pagesAfter = pages();
        if (pagesAfter <= pagesBefore) {
            return;
        }
        long bytes = pagesAfter * pageSize() + walBytes();
        if (bytes > settings.quotaBytes()) {
            throw new OutpostException(Category.QUOTA, "STORAGE_QUOTA_EXCEEDED", writes.size() + " write(s), the first to "
                    + writes.get(0).collection() + "/" + writes.get(0).id() + ", would grow the store " + file + " to "
                    + bytes + " bytes, past its quota of " + settings.quotaBytes() + " bytes; nothing was written");
        }
    }

    /** The size of the store's WAL file, 0 if it has none. */
    private long walBytes() {
        if (inMemory) {
            return 0;
        }
        try {
            return Files.size(file.resolveSibling(file.getFileName() + "-wal"));
        } catch (IOException e) {
            return 0;
        }
    }

    /**
     * A QUOTA error if the last pull grew the store past its quota, once for each pull that
     * did; null otherwise. A pull is stored whatever its size (refusing the server's changes
     * would stop the sync for good), so its passing the quota is told, not thrown.
     */
    public synchronized OutpostException quotaPassedByPull() {
        OutpostException passed = pulledPastQuota;
        pulledPastQuota = null;
        return passed;
    }

    /** After a pulled page was committed: notes whether it grew the store past its quota. */
    private void notePullPastQuota(long pagesBefore, int changes) {
        long bytes;
        try {
            long pagesAfter = pages();
            if (pagesAfter <= pagesBefore) {
                return;
            }
            bytes = pagesAfter * pageSize() + walBytes();
        } catch (SQLException e) {
            // The page is committed; a size that cannot be read is left for the next write's check.
            return;
        }
        if (bytes > settings.quotaBytes()) {
            pulledPastQuota = new OutpostException(Category.QUOTA, "STORAGE_QUOTA_EXCEEDED", "a pull of " + changes
                    + " change(s) grew the store " + file + " to " + bytes + " bytes, past its quota of "
                    + settings.quotaBytes() + " bytes; the changes were stored, and local writes that grow the store"
                    + " are refused");
        }
    }

    private long pageSize() throws SQLException {
        try (ResultSet rows = statements.get("PRAGMA page_size").executeQuery()) {
            rows.next();
            return rows.getLong(1);
        }
    }

    /**
     * Deletes ops that ended (applied, in conflict, discarded) and dead letters older than
     * the retention period, rebasing the records whose dead letters go; returns how many went.
     */
    public synchronized int purge() throws OutpostException {
        long cutoff = clock.millis() - settings.retention().toMillis();
        try {
            List<String[]> deadRecords = new ArrayList<>();
            PreparedStatement dead = statements.get(
                    "SELECT DISTINCT collection, record_id FROM ops WHERE finished_at < ? AND status = 'DEAD'");
            dead.setLong(1, cutoff);
            try (ResultSet rows = dead.executeQuery()) {
                while (rows.next()) {
                    deadRecords.add(new String[] {rows.getString(1), rows.getString(2)});
                }
            }
            PreparedStatement delete = statements.get(
                    "DELETE FROM ops WHERE finished_at < ? AND status IN ('APPLIED', 'CONFLICT', 'DISCARDED', 'DEAD') "
                            + "AND seq NOT IN (SELECT op_seq FROM conflicts WHERE status = 'OPEN')");
            delete.setLong(1, cutoff);
            int purged = delete.executeUpdate();
            conflicts.purge(cutoff);
            for (String[] record : deadRecords) {
                rebase(record[0], record[1]);
            }
            commitRecoverable();
            return purged;
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot purge old ops: " + e.getMessage(), e);
        }
    }

    private Written applyWrite(LocalWrite write) throws SQLException, OutpostException {
        String collection = write.collection();
        String id = write.id();
        switch (write.kind()) {
            case PUT -> {
                ObjectNode fields = JsonMergePatch.withoutNulls(write.data());
                Row row = load(collection, id);
                if (row == null) {
                    return new Written(created(collection, id, fields, write.priority()), true);
                }
                if (row.local().deleted()) {
                    return new Written(written(collection, id, OpType.CREATE, fields, fields, write.priority(), row), true);
                }
                ObjectNode patch = JsonMergePatch.diff(row.local().data(), fields);
                if (patch.isEmpty()) {
                    return new Written(readRecord(collection, id).orElse(null), false);
                }
                return new Written(written(collection, id, OpType.UPDATE, patch, fields, write.priority(), row), true);
            }
            case UPDATE -> {
                Row row = load(collection, id);
                if (row == null || row.local().deleted()) {
                    throw new OutpostException(Category.VALIDATION, "RECORD_NOT_FOUND",
                            "cannot update " + collection + "/" + id + ": no such record on this device");
                }
                ObjectNode after = JsonMergePatch.withoutNulls(JsonMergePatch.apply(row.local().data(), write.data()));
                ObjectNode normalized = JsonMergePatch.diff(row.local().data(), after);
                if (normalized.isEmpty()) {
                    return new Written(readRecord(collection, id).orElse(null), false);
                }
                return new Written(written(collection, id, OpType.UPDATE, normalized, after, write.priority(), row), true);
            }
            case DELETE -> {
                Row row = load(collection, id);
                if (row == null || row.local().deleted()) {
                    return new Written(Boolean.FALSE, false);
                }
                written(collection, id, OpType.DELETE, null, null, write.priority(), row);
                return new Written(Boolean.TRUE, true);
            }
            default -> throw new IllegalStateException("unhandled write " + write.kind());
        }
    }

    /** Queues the op and stores the record's new local view; returns the record as now seen. */
    /** A PUT of a record the device has no row for: its CREATE queued and its row written at once. */
    private LocalRecord created(String collection, String id, ObjectNode fields, Priority priority) throws SQLException {
        queue.appendCreate(collection, id, fields, priority, hlc.now(), clock.millis());
        PreparedStatement insert = statements.get(
            "INSERT INTO records (collection, id, data, deleted, server_version, server_deleted) VALUES (?, ?, ?, 0, 0, 1)");
        insert.setString(1, collection);
        insert.setString(2, id);
        insert.setString(3, Wire.write(cipher.seal(collection, id, fields)));
        insert.executeUpdate();
        return new LocalRecord(collection, id, fields, 0, openConflictOn(collection, id) ? SyncState.CONFLICT : SyncState.PENDING);
    }

    private LocalRecord written(String collection, String id, OpType type, ObjectNode opData, ObjectNode after,
            Priority priority, Row row) throws SQLException {
        OpQueue.Chain chain = queue.append(collection, id, type, opData, priority, row.serverVersion(), !row.server().deleted(),
                hlc.now(), clock.millis());
        if (chain.empty() && row.serverVersion() == 0) {
            PreparedStatement delete = statements.get("DELETE FROM records WHERE collection = ? AND id = ?");
            delete.setString(1, collection);
            delete.setString(2, id);
            delete.executeUpdate();
            return null;
        }
        saveLocal(collection, id, after == null ? RecordState.ABSENT : new RecordState(after, false));
        if (after == null) {
            return null;
        }
        return new LocalRecord(collection, id, after, row.serverVersion(), openConflictOn(collection, id) ? SyncState.CONFLICT
                : chain.hasDead() ? SyncState.FAILED : chain.empty() ? SyncState.SYNCED : SyncState.PENDING,
                row.serverVersion() == 0 ? null : lastSyncedAt(collection, id));
    }

    /** The record's row, inserted as never-on-the-server and absent if there was none. */
    private Row ensureRow(String collection, String id) throws SQLException {
        Row row = load(collection, id);
        if (row != null) {
            return row;
        }
        PreparedStatement insert = statements.get(
            "INSERT INTO records (collection, id, data, deleted, server_version, server_deleted) VALUES (?, ?, NULL, 1, 0, 1)");
        insert.setString(1, collection);
        insert.setString(2, id);
        insert.executeUpdate();
        return new Row(collection, id, null, true, null, true, 0);
    }

    // ---- reads ----------------------------------------------------------------------------

    public synchronized Optional<LocalRecord> get(String collection, String id) throws OutpostException {
        try {
            Optional<LocalRecord> cached = cache.get(collection, id);
            if (cached != null) {
                return cached.map(LocalStore::copy);
            }
            Optional<LocalRecord> record = readRecord(collection, id);
            cache.put(collection, id, record);
            return record.map(LocalStore::copy);
        } catch (SQLException e) {
            throw storage("cannot read " + collection + "/" + id + ": " + e.getMessage(), e);
        }
    }

    /** How many reads of one record the memory cache has answered so far. */
    synchronized long cacheHits() {
        return cache.hits();
    }

    /** How many reads of one record went to SQLite because the memory cache did not hold it. */
    synchronized long cacheMisses() {
        return cache.misses();
    }

    /** The collection's live records, ordered by id. */
    public synchronized List<LocalRecord> list(String collection) throws OutpostException {
        return select(Query.in(collection), false);
    }

    /**
     * The live records a query selects, filtered and sorted in SQL over the local view's JSON.
     *
     * @throws IllegalArgumentException if it filters or sorts on a sensitive (sealed) field
     */
    public synchronized List<LocalRecord> query(Query query) throws OutpostException {
        return select(query, true);
    }

    /** The records of a query; without {@code paged}, all of them whatever its limit and offset. */
    private List<LocalRecord> select(Query query, boolean paged) throws OutpostException {
        String collection = query.collection();
        StringBuilder sql = new StringBuilder(
                "SELECT id, data, server_version, (SELECT MAX(CASE o.status WHEN 'DEAD' THEN 2 ELSE 1 END) FROM ops o "
                        + "WHERE o.collection = r.collection AND o.record_id = r.id AND o.status IN ('PENDING', 'DEAD')), "
                        + "EXISTS (SELECT 1 FROM conflicts c WHERE c.collection = r.collection AND c.record_id = r.id "
                        + "AND c.status = 'OPEN'), last_synced_at FROM records r WHERE collection = ? AND deleted = 0");
        List<Object> args = new ArrayList<>(List.of(collection));
        for (Query.Condition condition : query.conditions()) {
            String path = pathOf(collection, condition.field());
            if (condition.value() == null) {
                sql.append(condition.op() == Query.Op.EQ ? " AND json_extract(data, ?) IS NULL" : " AND json_extract(data, ?) IS NOT NULL");
                args.add(path);
            } else {
                sql.append(" AND json_extract(data, ?) ").append(condition.op().sql()).append(" ?");
                args.add(path);
                args.add(condition.value() instanceof Boolean flag ? (flag ? 1 : 0) : condition.value());
            }
        }
        sql.append(" ORDER BY ");
        for (Query.Order order : query.orders()) {
            sql.append("json_extract(data, ?)").append(order.descending() ? " DESC, " : ", ");
            args.add(pathOf(collection, order.field()));
        }
        sql.append("id");
        if (paged) {
            sql.append(" LIMIT ? OFFSET ?");
            args.add(query.limit());
            args.add(query.offset());
        }
        try (PreparedStatement select = db.prepareStatement(sql.toString())) {
            for (int i = 0; i < args.size(); i++) {
                select.setObject(i + 1, args.get(i));
            }
            List<LocalRecord> records = new ArrayList<>();
            try (ResultSet rows = select.executeQuery()) {
                while (rows.next()) {
                    int open = rows.getInt(4);
                    long syncedAt = rows.getLong(6);
                    records.add(new LocalRecord(collection, rows.getString(1),
                            cipher.open(collection, rows.getString(1), Payloads.object(rows.getString(2),
                                    "the stored data of " + collection + "/" + rows.getString(1))),
                            rows.getLong(3), rows.getInt(5) != 0 ? SyncState.CONFLICT
                                    : open == 2 ? SyncState.FAILED : open == 1 ? SyncState.PENDING : SyncState.SYNCED,
                            rows.wasNull() ? null : java.time.Instant.ofEpochMilli(syncedAt)));
                }
            }
            return records;
        } catch (SQLException e) {
            throw storage("cannot query " + collection + ": " + e.getMessage(), e);
        }
    }

    /** The JSON path of a query field; sealed fields cannot be compared in SQL. */
    private String pathOf(String collection, String field) {
        String top = field.contains(".") ? field.substring(0, field.indexOf('.')) : field;
        if (cipher.isSealed(collection, top)) {
            throw new IllegalArgumentException("field '" + top + "' of " + collection + " is sensitive and stored sealed;"
                    + " it cannot be filtered or sorted on");
        }
        return "$." + field;
    }

    private static LocalRecord copy(LocalRecord record) {
        return new LocalRecord(record.collection(), record.id(), record.data().deepCopy(), record.version(), record.state(),
                record.lastSyncedAt());
    }

    /** How many ops wait to be pushed. */
    public synchronized int pendingCount() throws OutpostException {
        try {
            return queue.pendingCount();
        } catch (SQLException e) {
            throw storage("cannot count pending ops: " + e.getMessage(), e);
        }
    }

    /** How many ops are in each status (PENDING, APPLIED, CONFLICT, DEAD, DISCARDED). */
    public synchronized Map<String, Integer> opCounts() throws OutpostException {
        try {
            return queue.counts();
        } catch (SQLException e) {
            throw storage("cannot count ops: " + e.getMessage(), e);
        }
    }

    /** The ops a query selects. */
    public synchronized List<OpInfo> ops(OpQuery query) throws OutpostException {
        try {
            return queue.list(query);
        } catch (SQLException e) {
            throw storage("cannot list ops: " + e.getMessage(), e);
        }
    }

    /** The queue's figures; see {@link QueueStats}. */
    public synchronized QueueStats stats() throws OutpostException {
        try {
            Map<String, Integer> counts = queue.counts();
            OpQueue.PendingSummary pending = queue.pendingSummary();
            Long next = nextAttemptMillis();
            Double mean = queue.meanProcessingMillis();
            int applied = counts.getOrDefault("APPLIED", 0);
            int conflicts = counts.getOrDefault("CONFLICT", 0);
            int dead = counts.getOrDefault("DEAD", 0);
            int discarded = counts.getOrDefault("DISCARDED", 0);
            int finished = applied + conflicts + dead + discarded;
            return new QueueStats(counts.getOrDefault("PENDING", 0), applied, conflicts, dead, discarded,
                    next == null ? null : Instant.ofEpochMilli(next), pending.byPriority(), pending.bytes(),
                    pending.oldestCreatedAt() == null ? null : Instant.ofEpochMilli(pending.oldestCreatedAt()),
                    finished == 0 ? Double.NaN : (double) applied / finished,
                    mean == null ? null : Duration.ofMillis(Math.round(mean)));
        } catch (SQLException e) {
            throw storage("cannot read the queue's figures: " + e.getMessage(), e);
        }
    }

    /**
     * The earliest retry time of an op waiting out its backoff, or null; while the server has
     * every push wait (Retry-After), when the first pending op may go.
     */
    public synchronized Instant nextAttemptAt() throws OutpostException {
        try {
            Long at = nextAttemptMillis();
            return at == null ? null : Instant.ofEpochMilli(at);
        } catch (SQLException e) {
            throw storage("cannot read the retry schedule: " + e.getMessage(), e);
        }
    }

    private Long nextAttemptMillis() throws SQLException, OutpostException {
        Instant held = pushesHeldUntil();
        return held == null ? queue.nextAttemptAt(clock.millis()) : queue.nextAttemptAtHeld(held.toEpochMilli());
    }

    // ---- dead letters -----------------------------------------------------------------------

    public synchronized List<DeadLetter> deadLetters() throws OutpostException {
        try {
            return queue.deadLetters();
        } catch (SQLException e) {
            throw storage("cannot read the dead-letter queue: " + e.getMessage(), e);
        }
    }

    /**
     * Puts a dead op back in the queue, with new data if given; returns its new op id.
     *
     * @throws OutpostException VALIDATION / NO_SUCH_DEAD_OP if no dead op has that id
     */
    public synchronized String replay(String opId, ObjectNode data) throws OutpostException {
        try {
            OpQueue.DeadRef dead = requireDead(opId);
            if (data != null && dead.type() == OpType.DELETE) {
                throw new IllegalArgumentException("dead op " + opId + " is a DELETE, which carries no data");
            }
            ObjectNode payload = data == null || dead.type() != OpType.CREATE ? data : JsonMergePatch.withoutNulls(data);
            String newId = queue.replay(dead, payload);
            ensureRow(dead.collection(), dead.recordId());
            rebase(dead.collection(), dead.recordId());
            commit();
            return newId;
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot replay dead op " + opId + ": " + e.getMessage(), e);
        } catch (OutpostException | RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    /**
     * Drops a dead op; the ops behind it on its record go on.
     *
     * @throws OutpostException VALIDATION / NO_SUCH_DEAD_OP if no dead op has that id
     */
    public synchronized void discard(String opId) throws OutpostException {
        try {
            OpQueue.DeadRef dead = requireDead(opId);
            queue.discard(dead, clock.millis());
            rebase(dead.collection(), dead.recordId());
            commit();
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot discard dead op " + opId + ": " + e.getMessage(), e);
        } catch (OutpostException | RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    private OpQueue.DeadRef requireDead(String opId) throws SQLException, OutpostException {
        OpQueue.DeadRef dead = queue.dead(opId);
        if (dead == null) {
            throw new OutpostException(Category.VALIDATION, "NO_SUCH_DEAD_OP", "no dead op has id " + opId);
        }
        return dead;
    }

    // ---- conflicts on the device ----------------------------------------------------------

    /** A conflict the store settled (or held), for the listener once the transaction committed. */
    private record Settled(Conflict conflict, Resolution resolution) {
    }

    /**
     * How conflicts are settled from now on: the collections' policies and resolvers, and who
     * hears of them. Until this is called every collection is SERVER_WINS.
     */
    public synchronized void handleConflicts(ConflictHandling handling) throws OutpostException {
        this.handling = java.util.Objects.requireNonNull(handling, "handling");
        try {
            mayHaveOpenConflicts = conflicts.openCount() > 0;
        } catch (SQLException e) {
            throw storage("cannot read the open conflicts: " + e.getMessage(), e);
        }
    }

    /**
     * Which collections live in a shared scope the token grants, by collection; every other
     * collection holds the user's own records. Writes to such a collection are pushed to its
     * scope, and pulls keep that scope's changes to it (and no own-scope changes to it).
     *
     * <p>The store remembers the scopes. A collection may change scope only while the device
     * holds no record and no open op of it; then the pull cursor starts over, so the changes
     * passed over under the old scopes come down.
     *
     * @throws OutpostException VALIDATION {@code SCOPE_CHANGED} if a collection with records or
     *     open ops on this device would change scope; nothing is changed then
     */
    public synchronized void useSharedScopes(Map<String, String> scopes) throws OutpostException {
        Map<String, String> wanted = new TreeMap<>(scopes);
        try {
            String stored = meta(statements, "shared_scopes");
            Map<String, String> before = new TreeMap<>();
            if (stored != null) {
                Wire.object(stored).fields().forEachRemaining(field -> before.put(field.getKey(), field.getValue().asText()));
            }
            if (before.equals(wanted)) {
                sharedScopes = Map.copyOf(wanted);
                return;
            }
            Set<String> changed = new TreeSet<>(before.keySet());
            changed.addAll(wanted.keySet());
            changed.removeIf(collection -> Objects.equals(before.get(collection), wanted.get(collection)));
            for (String collection : changed) {
                if (holdsAny(collection)) {
                    throw new OutpostException(Category.VALIDATION, "SCOPE_CHANGED", "collection " + collection
                            + " holds records or open ops of " + describeScope(before.get(collection))
                            + " on this device, so it cannot move to " + describeScope(wanted.get(collection))
                            + " in this store; keep its scope or start a new store");
                }
            }
            forgetCursor();
            putMeta(statements, "shared_scopes", Wire.write(wanted));
            commitRecoverable();
            sharedScopes = Map.copyOf(wanted);
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot record the shared scopes of the collections: " + e.getMessage(), e);
        }
    }

    /** The shared scope {@code collection} lives in, or null for the user's own scope. */
    String sharedScopeOf(String collection) {
        return sharedScopes.get(collection);
    }

    private static String describeScope(String scope) {
        return scope == null ? "the user's own scope" : "shared scope " + scope;
    }

    /** Whether the device holds a record or an open op of {@code collection}. */
    private boolean holdsAny(String collection) throws SQLException {
        for (String sql : new String[] {"SELECT 1 FROM records WHERE collection = ? LIMIT 1",
                "SELECT 1 FROM ops WHERE collection = ? AND finished_at IS NULL LIMIT 1"}) {
            PreparedStatement select = statements.get(sql);
            select.setString(1, collection);
            try (ResultSet rows = select.executeQuery()) {
                if (rows.next()) {
                    return true;
                }
            }
        }
        return false;
    }

    /** The conflicts that wait for the app, oldest first. */
    public synchronized List<Conflict> conflicts() throws OutpostException {
        try {
            return conflicts.open().stream().map(DeviceConflicts.Stored::toConflict).toList();
        } catch (SQLException e) {
            throw storage("cannot read the open conflicts: " + e.getMessage(), e);
        }
    }

    /** How many conflicts wait for the app. */
    public synchronized int openConflictCount() throws OutpostException {
        try {
            return mayHaveOpenConflicts ? conflicts.openCount() : 0;
        } catch (SQLException e) {
            throw storage("cannot count the open conflicts: " + e.getMessage(), e);
        }
    }

    /**
     * Settles an open conflict as the app says. LATER changes nothing.
     *
     * @return the record's collection and id if a change was queued (so a sync is due), else null
     * @throws OutpostException VALIDATION / CONFLICT_NOT_FOUND, CONFLICT_ALREADY_RESOLVED
     */
    public synchronized String[] resolveConflict(String conflictId, Resolution resolution) throws OutpostException {
        try {
            DeviceConflicts.Stored conflict = conflicts.find(conflictId);
            if (conflict == null) {
                throw new OutpostException(Category.VALIDATION, "CONFLICT_NOT_FOUND", "no conflict has id " + conflictId
                        + " on this device (settled conflicts are kept for " + settings.retention().toDays() + " days)");
            }
            if (!conflict.status().equals("OPEN")) {
                throw new OutpostException(Category.VALIDATION, "CONFLICT_ALREADY_RESOLVED", "conflict " + conflictId + " on "
                        + conflict.collection() + "/" + conflict.recordId() + " was already resolved ("
                        + conflict.resolution() + ", by " + conflict.resolvedBy() + ")");
            }
            if (resolution.kind() == Resolution.Kind.LATER) {
                return null;
            }
            boolean queued = settle(conflict, false, resolution, "APP", hlc.now(), clock.millis(), new ArrayList<>());
            putMeta(statements, "hlc", hlc.last());
            rebase(conflict.collection(), conflict.recordId());
            commit();
            mayHaveOpenConflicts = conflicts.openCount() > 0;
            return queued ? new String[] {conflict.collection(), conflict.recordId()} : null;
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot resolve conflict " + conflictId + ": " + e.getMessage(), e);
        } catch (OutpostException | RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    /**
     * Puts each conflict that waits for its collection's resolver to it, outside the store's
     * lock, then settles it as answered; a resolver that throws or returns null leaves its
     * conflict open for the app, with the reason. A conflict whose collection no longer has a
     * resolver is settled by the collection's policy.
     */
    public void askResolvers() throws OutpostException {
        if (!mayAwaitResolver) {
            return;
        }
        List<DeviceConflicts.Stored> awaiting;
        synchronized (this) {
            try {
                awaiting = conflicts.awaitingResolver();
                if (awaiting.isEmpty()) {
                    mayAwaitResolver = false;
                }
            } catch (SQLException e) {
                throw storage("cannot read the conflicts waiting for a resolver: " + e.getMessage(), e);
            }
        }
        ConflictHandling current = handling;
        for (DeviceConflicts.Stored conflict : awaiting) {
            ConflictResolver resolver = current.resolver(conflict.collection());
            Resolution answer = null;
            String error = null;
            if (resolver != null) {
                try {
                    answer = resolver.resolve(conflict.toConflict());
                    if (answer == null) {
                        error = "the conflict resolver of " + conflict.collection() + " returned null";
                    } else if (answer.kind() == Resolution.Kind.MERGED && Wire.depth(answer.data()) > Wire.MAX_RECORD_DEPTH) {
                        error = "the conflict resolver of " + conflict.collection() + " returned a record nested "
                                + Wire.depth(answer.data()) + " levels; at most " + Wire.MAX_RECORD_DEPTH + " are allowed";
                    }
                } catch (Exception e) {
                    error = "the conflict resolver of " + conflict.collection() + " failed: " + e;
                }
                if (error != null) {
                    answer = null;
                    LOG.warn("conflict {} on {}/{} stays open for the app: {}", conflict.id(), conflict.collection(),
                            conflict.recordId(), error);
                }
            }
            List<Settled> settled = new ArrayList<>();
            settleAnswered(conflict.id(), resolver != null, answer, error, settled);
            announce(settled);
        }
    }

    private synchronized void settleAnswered(String conflictId, boolean asked, Resolution answer, String error,
            List<Settled> settled) throws OutpostException {
        try {
            DeviceConflicts.Stored conflict = conflicts.find(conflictId);
            if (conflict == null || !conflict.status().equals("OPEN") || !conflict.awaitingResolver()) {
                return;
            }
            if (!asked) {
                ClientConflictPolicy policy = handling.policy(conflict.collection());
                OpQueue.Kept kept = kept(conflict);
                settle(conflict, false, DeviceConflicts.decide(policy, kept.type(), kept.data(), conflict), policy.name(),
                        conflict.localHlc(), clock.millis(), settled);
            } else if (error != null) {
                conflicts.hold(conflictId, error);
                settled.add(new Settled(conflict.withError(error).toConflict(), Resolution.later()));
            } else {
                settle(conflict, false, answer, "RESOLVER", hlc.now(), clock.millis(), settled);
                putMeta(statements, "hlc", hlc.last());
            }
            rebase(conflict.collection(), conflict.recordId());
            commit();
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot settle conflict " + conflictId + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    /**
     * Settles the CONFLICT answer to {@code op} on the device, within the answers' transaction:
     * stores the conflict with the record before the op ({@code before}: the row as it was) and
     * as the op made it, then hands it to the collection's resolver (later, see
     * {@link #askResolvers}) or settles it by the collection's policy.
     */
    private void settleOnDevice(PendingOp op, Row before, ServerRecord server, long now, List<Settled> settled)
            throws SQLException {
        RecordState beforeState = before == null ? null : before.server();
        ObjectNode base = before != null && op.baseVersion() != null && op.baseVersion() == before.serverVersion()
                && !before.server().deleted() ? before.server().data() : null;
        DeviceConflicts.Stored conflict = new DeviceConflicts.Stored(Ids.uuidV7(), op.seq(), op.opId(), op.collection(),
                op.recordId(), base, DeviceConflicts.intended(op.type(), op.data(), beforeState),
                server.deleted() ? null : server.data(), server.version(), server.deleted(), op.hlc(), server.hlc(), now,
                "OPEN", false, null, null, null, null);
        ConflictHandling current = handling;
        if (current.resolver(op.collection()) != null) {
            conflicts.insert(conflict, true, null, null, null, null);
            mayHaveOpenConflicts = true;
            mayAwaitResolver = true;
            return;
        }
        ClientConflictPolicy policy = current.policy(op.collection());
        Resolution decided = DeviceConflicts.decide(policy, op.type(), op.data(), conflict);
        if (decided.kind() == Resolution.Kind.LATER && holdsChange(conflict, op.type(), op.data())) {
            // Nothing to ask about: the server's record already says what the device's change says.
            decided = Resolution.useServer();
        }
        settle(conflict, true, decided, policy.name(), op.hlc(), now, settled);
    }

    /**
     * Records, settled for the server at once, and tells the app of the answer to a CREATE the
     * server matched by the collection's natural key to a record it already held under
     * another id: the device's record gives way to the server's.
     */
    private void matchedByNaturalKey(PendingOp op, Row before, ServerRecord server, long now, List<Settled> settled)
            throws SQLException {
        RecordState beforeState = before == null ? null : before.server();
        DeviceConflicts.Stored conflict = new DeviceConflicts.Stored(Ids.uuidV7(), op.seq(), op.opId(), op.collection(),
                op.recordId(), null, DeviceConflicts.intended(op.type(), op.data(), beforeState),
                server.deleted() ? null : server.data(), server.version(), server.deleted(), op.hlc(), server.hlc(), now,
                "RESOLVED", false, null, null, null, server.recordId());
        conflicts.insert(conflict, false, Resolution.Kind.SERVER.name(), "NATURAL_KEY", null, now);
        settled.add(new Settled(conflict.toConflict(), Resolution.useServer()));
    }

    /** Whether the server's record already holds the device's change. */
    private boolean holdsChange(DeviceConflicts.Stored conflict, OpType type, ObjectNode opData) throws SQLException {
        Row row = load(conflict.collection(), conflict.recordId());
        RecordState current = row == null ? RecordState.ABSENT : row.server();
        return DeviceConflicts.change(current, row == null ? 0 : row.serverVersion(),
                DeviceConflicts.clientWins(type, opData, conflict.local(), current)) == null;
    }

    /**
     * Applies a resolution to a conflict, new ({@code fresh}: not yet stored) or open: LATER
     * keeps it open; otherwise the record the resolution asks for is compared with the server's
     * record as the device knows it now, and if they differ the change between them is queued in
     * the conflict's op row (under a new op id, timestamped {@code stamp}) and the conflict
     * marked resolved. A policy or resolver that would queue the same change a
     * {@link DeviceConflicts#MAX_REQUEUES}-th time leaves the conflict open for the app instead.
     * The caller rebases the record.
     *
     * @return whether a change was queued
     */
    private boolean settle(DeviceConflicts.Stored conflict, boolean fresh, Resolution resolution, String by, String stamp,
            long now, List<Settled> settled) throws SQLException {
        OpQueue.Kept kept = kept(conflict);
        Resolution outcome = resolution;
        DeviceConflicts.Stored told = conflict;
        String requeued = null;
        if (resolution.kind() != Resolution.Kind.LATER) {
            Row row = load(conflict.collection(), conflict.recordId());
            RecordState current = row == null ? RecordState.ABSENT : row.server();
            long version = row == null ? 0 : row.serverVersion();
            RecordState target = switch (resolution.kind()) {
                case LOCAL -> DeviceConflicts.clientWins(kept.type(), kept.data(), conflict.local(), current);
                case MERGED -> new RecordState(JsonMergePatch.withoutNulls(resolution.data()), false);
                default -> current;
            };
            DeviceConflicts.Requeue change = DeviceConflicts.change(current, version, target);
            if (change != null && !by.equals("APP")
                    && conflicts.requeues(conflict.opSeq(), kept.createdAt()) >= DeviceConflicts.MAX_REQUEUES) {
                outcome = Resolution.later();
                told = conflict.withError("the server's record changed each of the " + DeviceConflicts.MAX_REQUEUES
                        + " times this change was sent again (" + by + "); it waits for the app");
            } else if (change != null) {
                requeued = queue.requeue(conflict.opSeq(), conflict.collection(), conflict.recordId(), change.type(),
                        change.data(), change.baseVersion(), stamp);
            }
        }
        if (outcome.kind() == Resolution.Kind.LATER) {
            if (fresh) {
                conflicts.insert(told, false, null, null, null, null);
            } else {
                conflicts.hold(told.id(), told.error());
            }
            mayHaveOpenConflicts = true;
        } else if (fresh) {
            conflicts.insert(told, false, outcome.kind().name(), by, requeued, now);
        } else {
            conflicts.resolve(told.id(), outcome.kind().name(), by, requeued, now);
        }
        settled.add(new Settled(told.toConflict(), outcome));
        return requeued != null;
    }

    private OpQueue.Kept kept(DeviceConflicts.Stored conflict) throws SQLException {
        OpQueue.Kept kept = queue.kept(conflict.opSeq(), conflict.collection(), conflict.recordId());
        if (kept == null) {
            throw new IllegalStateException("the op of conflict " + conflict.id() + " (" + conflict.opId()
                    + ") is missing from the queue");
        }
        return kept;
    }

    private boolean openConflictOn(String collection, String id) throws SQLException {
        return mayHaveOpenConflicts && conflicts.openOn(collection, id);
    }

    /** Tells the listener of settled conflicts; a failing listener is logged and ignored. */
    private void announce(List<Settled> settled) {
        for (Settled each : settled) {
            try {
                handling.listener().accept(each.conflict(), each.resolution());
            } catch (RuntimeException e) {
                LOG.warn("a conflict listener failed and was ignored: {}", e.toString());
            }
        }
    }

    private Optional<LocalRecord> readRecord(String collection, String id) throws SQLException {
        Row row = load(collection, id);
        if (row == null || row.local().deleted()) {
            return Optional.empty();
        }
        return Optional.of(new LocalRecord(collection, id, row.local().data().deepCopy(), row.serverVersion(),
                syncState(collection, id), lastSyncedAt(collection, id)));
    }

    private java.time.Instant lastSyncedAt(String collection, String id) throws SQLException {
        PreparedStatement select = statements.get("SELECT last_synced_at FROM records WHERE collection = ? AND id = ?");
        select.setString(1, collection);
        select.setString(2, id);
        try (ResultSet rows = select.executeQuery()) {
            if (!rows.next()) {
                return null;
            }
            long at = rows.getLong(1);
            return rows.wasNull() ? null : java.time.Instant.ofEpochMilli(at);
        }
    }

    /**
     * Commits, and in DURABLE mode returns only once the commit is on disk. Every commit may
     * change what reads return, so the read cache starts over.
     */
    private void commit() throws SQLException {
        syncThrough(commitUnsynced());
    }

    /**
     * Commits work the server can give again (its answers to a push, pulled pages, retry
     * bookkeeping) without waiting for the disk. A killed process keeps it, as it keeps every
     * commit in WAL mode; a power loss may take it, and then the next sync sends the ops again,
     * which the server answers from their first outcomes, or pulls again from the cursor stored
     * with the page. The next durable commit puts it on disk too, being earlier in the same log.
     */
    private void commitRecoverable() throws SQLException {
        commitUnsynced();
    }

    /** Commits without forcing the log; returns the commit's number, for {@link #syncThrough}. */
    private long commitUnsynced() throws SQLException {
        db.commit();
        cache.clear();
        return ++committed;
    }

    /**
     * In DURABLE mode, returns once commit number {@code commit} (and every one before it) is
     * on disk, forcing the write-ahead log if no force that began after that commit has ended
     * yet. One force covers every commit made before it began, so writers waiting here share
     * it, and the next group of writes is applied and committed while it runs. SQLite
     * (synchronous=NORMAL) syncs the log before each checkpoint and the database after it, so
     * what a checkpoint moves stays on disk too. The log is opened at the first force and its
     * directory synced then, as SQLite does for a new log.
     */
    private void syncThrough(long commit) throws SQLException {
        if (storage.durability() == Durability.DURABLE) {
            forceThrough(commit);
        }
    }

    /** Returns once commit number {@code commit} is on disk, in any durability mode (see {@link #syncThrough}). */
    private void forceThrough(long commit) throws SQLException {
        if (inMemory || synced >= commit) {
            return;
        }
        synchronized (logLock) {
            if (synced >= commit) {
                return;
            }
            if (logFailure != null) {
                // A failed fsync may have dropped the pages it was to write, and a later one
                // would not say so: nothing after it can be called durable until a reopen.
                throw new SQLException("forcing the write-ahead log to disk failed earlier (" + logFailure.getMessage()
                        + "); no write is acknowledged as durable until the store is reopened", logFailure);
            }
            long upTo = committed;
            try {
                if (log == null) {
                    // SQLite keeps the log beside the real file, through any symbolic link.
                    Path real = file.toRealPath();
                    Path walFile = real.resolveSibling(real.getFileName() + "-wal");
                    log = FileChannel.open(walFile, StandardOpenOption.WRITE);
                    StoreFiles.syncDirectoryOf(walFile);
                }
                log.force(false);
            } catch (IOException e) {
                logFailure = e;
                throw new SQLException("forcing the write-ahead log of " + file + " to disk failed: " + e.getMessage(), e);
            }
            synced = upTo;
        }
    }

    private SyncState syncState(String collection, String id) throws SQLException {
        if (openConflictOn(collection, id)) {
            return SyncState.CONFLICT;
        }
        // The statuses alone: a record reads the same whether or not its ops' payloads can be read.
        PreparedStatement select = statements.get("SELECT MAX(CASE status WHEN 'DEAD' THEN 2 ELSE 1 END) FROM ops "
                + "WHERE collection = ? AND record_id = ? AND status IN ('PENDING', 'DEAD')");
        select.setString(1, collection);
        select.setString(2, id);
        try (ResultSet rows = select.executeQuery()) {
            int open = rows.next() ? rows.getInt(1) : 0;
            return open == 2 ? SyncState.FAILED : open == 1 ? SyncState.PENDING : SyncState.SYNCED;
        }
    }

    // ---- sync -----------------------------------------------------------------------------

    /**
     * The next ops to push, other than those in {@code inFlight} (see {@link OpQueue#nextBatch}),
     * marked as sent in a committed transaction, so no later write is folded into an op the
     * server may have. The mark must be on disk before the ops go ({@link #markedSent}); the
     * caller waits for that on the thread that sends them, not here.
     */
    synchronized Drawn nextBatch(int max, Set<Long> inFlight) throws OutpostException {
        try {
            List<PendingOp> batch = queue.nextBatch(max, clock.millis(), this::serverVersion, inFlight);
            int unreadable = queue.takeDeadAtDraw();
            return new Drawn(batch, commitUnsynced(), unreadable);
        } catch (SQLException | RuntimeException e) {
            queue.takeDeadAtDraw();
            rollback(e);
            throw storage("cannot read the op queue: " + e.getMessage(), e);
        }
    }

    /**
     * Ops drawn to push, the number of the commit that marked them sent, and how many ops the
     * draw dead-lettered as unreadable.
     */
    record Drawn(List<PendingOp> ops, long commit, int unreadable) {
        boolean isEmpty() {
            return ops.isEmpty();
        }
    }

    /**
     * Returns once the mark that {@code drawn} was sent is on disk; it may go then. In every
     * durability mode: were the mark lost in a power cut while the server kept the ops, a later
     * write could be folded into one of them and answered DUPLICATE, unapplied. One force per
     * drawn batch costs little next to the request it precedes.
     */
    void markedSent(Drawn drawn) throws OutpostException {
        try {
            forceThrough(drawn.commit());
        } catch (SQLException e) {
            throw storage("cannot mark ops as sent: " + e.getMessage(), e);
        }
    }

    private long serverVersion(String collection, String id) throws SQLException {
        Row row = load(collection, id);
        return row == null ? 0 : row.serverVersion();
    }

    /** The counts of one batch's outcomes. */
    record Outcomes(int applied, int merged, int conflicts, int rejected) {
    }

    /**
     * Records the server's answers to a pushed batch and rebases the touched records, in one
     * transaction. {@code results} are in the batch's order. A CONFLICT answer is settled on the
     * device in that transaction by the collection's policy; then, with the store's lock
     * released, the listener hears of each settled conflict and resolvers are asked about the
     * conflicts that wait for them.
     */
    Outcomes recordResults(List<PendingOp> sent, List<OpResult> results) throws OutpostException {
        List<Settled> settled = new ArrayList<>();
        Outcomes outcomes = recordAnswers(sent, results, settled);
        announce(settled);
        askResolvers();
        return outcomes;
    }

    private synchronized Outcomes recordAnswers(List<PendingOp> sent, List<OpResult> results, List<Settled> settled)
            throws OutpostException {
        int applied = 0;
        int merged = 0;
        int conflicts = 0;
        int rejected = 0;
        long now = clock.millis();
        Set<String> touched = new LinkedHashSet<>();
        Map<String, Long> nextBase = new HashMap<>();
        try {
            Set<String> shared = withOtherOpenOps(sent);
            boolean[] alone = new boolean[sent.size()];
            Map<String, List<String>> idsByCollection = new LinkedHashMap<>();
            for (int i = 0; i < sent.size(); i++) {
                PendingOp op = sent.get(i);
                alone[i] = takesViewAsServerState(op, results.get(i), shared);
                if (!alone[i]) {
                    idsByCollection.computeIfAbsent(op.collection(), c -> new ArrayList<>()).add(op.recordId());
                }
            }
            Map<String, Row> rows = loadAll(idsByCollection);
            for (int i = 0; i < sent.size(); i++) {
                PendingOp op = sent.get(i);
                OpResult result = results.get(i);
                String key = op.collection() + '\u0000' + op.recordId();
                if (alone[i] && viewBecomesServerState(op, result.version(), now)) {
                    // The record's view was its server state with this op alone applied on
                    // top: it is the server's state now, and the view stays as it is.
                    applied++;
                    queue.finish(op.seq(), "APPLIED", kept(op, result), null, now);
                    continue;
                }
                // A batch holds one op per record; should one hold more, the later ones read
                // the row again, as the earlier one may have changed it.
                Row row = alone[i] || touched.contains(key) ? load(op.collection(), op.recordId()) : rows.get(key);
                String status;
                if (result.error() != null) {
                    status = "DEAD";
                    rejected++;
                } else if (result.record() != null && !sameRecord(op, result.record())) {
                    // A natural-key duplicate: the server already holds this record under
                    // another id. The op's record gives way; the pull brings the server's.
                    // The app is told, with both ids, once the op's row is finished below.
                    status = "CONFLICT";
                    conflicts++;
                } else if (result.record() != null) {
                    // MERGED: the op's change went in, settled with the server's by the
                    // collection's policy; CONFLICT: the server's record stood. Either way the
                    // answer holds the server's record.
                    boolean mergedIn = result.effectiveStatus() == OpStatus.MERGED;
                    status = mergedIn ? "APPLIED" : "CONFLICT";
                    if (mergedIn) {
                        merged++;
                        applied++;
                    } else {
                        conflicts++;
                    }
                    ServerRecord server = result.record();
                    if (row == null || server.version() >= row.serverVersion()) {
                        saveServer(op.collection(), op.recordId(), new RecordState(server.data(), server.deleted()),
                                server.version(), server.hlc(), now, row);
                    }
                } else if (result.version() != null) {
                    status = "APPLIED";
                    applied++;
                    // The server state is derived from the op; should it differ from what the
                    // server holds (a DUPLICATE answering an op the store held in another form
                    // before it was restored from a backup), the pull of that version heals it.
                    if (row == null || result.version() > row.serverVersion()) {
                        // A CREATE's state does not depend on the one before it.
                        RecordState before = row == null || op.type() == OpType.CREATE ? RecordState.ABSENT : row.server();
                        saveServer(op.collection(), op.recordId(), before.after(op.type(), op.data()),
                                result.version(), op.hlc(), now, row);
                    }
                } else {
                    throw new OutpostException(Category.SERVER, "BAD_RESULT", "the server's result for op " + op.opId()
                            + " has status " + result.status() + " but neither a version, a record nor an error");
                }
                queue.finish(op.seq(), status, kept(op, result),
                        result.error() == null ? null : result.error().code() + ": " + result.error().message(), now);
                if (status.equals("CONFLICT") && result.effectiveStatus() == OpStatus.CONFLICT && sameRecord(op, result.record())) {
                    settleOnDevice(op, row, result.record(), now, settled);
                } else if (status.equals("CONFLICT")) {
                    matchedByNaturalKey(op, row, result.record(), now, settled);
                }
                // Only a record's last op in the batch can give a later op its base: until it is
                // answered, it is the record's first open op itself, and it was sent with one.
                if (status.equals("APPLIED") && result.version() != null) {
                    nextBase.put(key, result.version());
                } else {
                    nextBase.remove(key);
                }
                touched.add(key);
            }
            rebaseAll(touched, nextBase);
            if (settled.isEmpty() && rejected == 0) {
                commitRecoverable();
            } else {
                // The app is about to hear of conflicts or dead letters: they must not come back
                // under new ids, or alive, after a power loss.
                commit();
            }
            return new Outcomes(applied, merged, conflicts, rejected);
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot record the results of " + sent.size() + " pushed ops: " + e.getMessage(), e);
        } catch (OutpostException | RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    /**
     * The records of {@code sent} (collection and id joined with a NUL) that have an open op
     * besides the one sent. Each sent op is its record's first open op, so any other is stored
     * without a base version, and is looked for among those alone ({@link OpQueue#unbasedSeqs}).
     */
    private Set<String> withOtherOpenOps(List<PendingOp> sent) throws SQLException {
        Map<String, Long> sentSeq = new HashMap<>();
        Set<String> shared = new HashSet<>();
        Map<String, List<String>> idsByCollection = new LinkedHashMap<>();
        for (PendingOp op : sent) {
            String key = op.collection() + '\u0000' + op.recordId();
            if (sentSeq.put(key, op.seq()) != null) {
                shared.add(key);
            }
            idsByCollection.computeIfAbsent(op.collection(), c -> new ArrayList<>()).add(op.recordId());
        }
        for (Map.Entry<String, List<String>> entry : idsByCollection.entrySet()) {
            queue.unbasedSeqs(entry.getKey(), entry.getValue(), (id, seq) -> {
                String key = entry.getKey() + '\u0000' + id;
                if (seq != sentSeq.get(key)) {
                    shared.add(key);
                }
            });
        }
        return shared;
    }

    /**
     * Whether an answer makes the server's state of the op's record what its view shows: the op
     * was applied as sent (a version and no record in the answer), and it is the record's only
     * open op, so the view is the server's former state with this op on top.
     */
    private static boolean takesViewAsServerState(PendingOp op, OpResult result, Set<String> shared) {
        return result.error() == null && result.record() == null && result.version() != null
                && !shared.contains(op.collection() + '\u0000' + op.recordId());
    }

    /**
     * Stores the view of the op's record as its server state at {@code version}, in one
     * statement; false, with nothing written, if the store holds no row of the record or
     * already knows that version or a later one.
     */
    private boolean viewBecomesServerState(PendingOp op, long version, long now) throws SQLException {
        PreparedStatement update = statements.get("UPDATE records SET server_data = NULL, server_deleted = deleted, "
                + "server_version = ?, server_hlc = ?, last_synced_at = ? WHERE collection = ? AND id = ? AND server_version < ?");
        update.setLong(1, version);
        update.setString(2, op.hlc());
        update.setLong(3, now);
        update.setString(4, op.collection());
        update.setString(5, op.recordId());
        update.setLong(6, version);
        return update.executeUpdate() == 1;
    }

    private static boolean sameRecord(PendingOp op, ServerRecord record) {
        return op.recordId().equals(record.recordId()) && op.collection().equals(record.collection());
    }

    /**
     * The server's answer as an op's row keeps it: null for an op applied as sent (its row's
     * status and its record's server version say all the answer does), else the answer as
     * JSON, with the server's record in it sealed.
     */
    private String kept(PendingOp op, OpResult result) throws SQLException {
        boolean plain = result.status() == OpStatus.APPLIED && result.record() == null && result.error() == null;
        return plain ? null : Wire.write(sealed(op, result));
    }

    /** A result to store: the server's record in it with its sensitive fields sealed. */
    private OpResult sealed(PendingOp op, OpResult result) throws SQLException {
        ServerRecord record = result.record();
        if (record == null || record.data() == null) {
            return result;
        }
        ServerRecord sealed = new ServerRecord(record.collection(), record.recordId(), record.version(), record.deleted(),
                cipher.seal(op.collection(), op.recordId(), record.data()), record.hlc());
        return new OpResult(result.opId(), result.status(), result.version(), sealed, result.error(), result.firstStatus());
    }

    /**
     * Counts a failed attempt on each op of a batch the server did not take, scheduling each
     * op's retry by the policy (no sooner than {@code retryAfter}); returns how many ran out of
     * attempts and were dead-lettered.
     */
    synchronized int retryLater(List<PendingOp> sent, String error, Duration retryAfter) throws OutpostException {
        try {
            List<PendingOp> dead = queue.retryLater(sent, error, retryAfter, clock.millis());
            for (PendingOp op : dead) {
                rebase(op.collection(), op.recordId());
            }
            if (dead.isEmpty()) {
                commitRecoverable();
            } else {
                commit();
            }
            return dead.size();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot record a failed attempt: " + e.getMessage(), e);
        }
    }

    /**
     * Puts off a batch the server failed on, without counting an attempt on its ops: the next
     * try waits by the retry policy for the {@code streak}-th failure in a row, no sooner than
     * {@code retryAfter}.
     */
    synchronized void postpone(List<PendingOp> batch, String error, int streak, Duration retryAfter) throws OutpostException {
        try {
            Duration wait = settings.retry().delay(Math.max(1, streak), settings.random());
            if (retryAfter != null && retryAfter.compareTo(wait) > 0) {
                wait = retryAfter;
            }
            queue.postpone(batch, error, clock.millis() + wait.toMillis());
            commitRecoverable();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot schedule the retry of " + batch.size() + " ops: " + e.getMessage(), e);
        }
    }

    /** When a sync last completed on this store, by the store's clock; null if none has. */
    public synchronized Instant lastSyncCompletedAt() throws OutpostException {
        try {
            String value = meta(statements, "last_sync_completed_at");
            return value == null ? null : Instant.ofEpochMilli(Long.parseLong(value));
        } catch (SQLException | NumberFormatException e) {
            throw storage("cannot read the store's metadata: " + e.getMessage(), e);
        }
    }

    /** When the store was created. */
    public synchronized Instant createdAt() throws OutpostException {
        try {
            return Instant.ofEpochMilli(Long.parseLong(meta(statements, "created_at")));
        } catch (SQLException | NumberFormatException e) {
            throw storage("cannot read the store's metadata: " + e.getMessage(), e);
        }
    }

    /** Notes that a sync completed now, so the time survives a restart. */
    synchronized void syncCompleted() throws OutpostException {
        try {
            putMeta(statements, "last_sync_completed_at", String.valueOf(clock.millis()));
            commitRecoverable();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot write the store's metadata: " + e.getMessage(), e);
        }
    }

    /** How many pushes in a row the server has failed (5xx, 429, unreadable); batches shrink by half per failure. */
    synchronized int serverFailures() throws OutpostException {
        try {
            String value = meta(statements, "server_failures");
            return value == null ? 0 : Integer.parseInt(value);
        } catch (SQLException e) {
            throw storage("cannot read the store's metadata: " + e.getMessage(), e);
        }
    }

    synchronized void serverFailures(int streak) throws OutpostException {
        try {
            putMeta(statements, "server_failures", String.valueOf(streak));
            commitRecoverable();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot write the store's metadata: " + e.getMessage(), e);
        }
    }

    /**
     * Until when every push waits because the server asked (Retry-After); null if pushes may go
     * now. A hold further off than {@link HttpTransport#MAX_RETRY_AFTER} says the clock was set
     * back, and is not kept to.
     */
    synchronized Instant pushesHeldUntil() throws OutpostException {
        try {
            String value = meta(statements, "push_not_before");
            long now = clock.millis();
            long until = value == null ? 0 : Long.parseLong(value);
            return until <= now || until - now > HttpTransport.MAX_RETRY_AFTER.toMillis() ? null : Instant.ofEpochMilli(until);
        } catch (SQLException | NumberFormatException e) {
            throw storage("cannot read the store's metadata: " + e.getMessage(), e);
        }
    }

    /** Holds every push for {@code wait} (at most {@link HttpTransport#MAX_RETRY_AFTER}), or longer if a hold already says so. */
    synchronized void holdPushes(Duration wait) throws OutpostException {
        Instant held = pushesHeldUntil();
        long until = clock.millis() + Math.min(wait.toMillis(), HttpTransport.MAX_RETRY_AFTER.toMillis());
        if (held != null && held.toEpochMilli() >= until) {
            return;
        }
        try {
            putMeta(statements, "push_not_before", String.valueOf(until));
            commitRecoverable();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot write the store's metadata: " + e.getMessage(), e);
        }
    }

    /** Dead-letters one op the server refused outright (not as one op of a batch). */
    synchronized void kill(PendingOp op, String reason) throws OutpostException {
        try {
            queue.kill(op.seq(), reason, 1, clock.millis());
            rebase(op.collection(), op.recordId());
            commit();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot dead-letter op " + op.opId() + ": " + e.getMessage(), e);
        }
    }

    /** The token the server last refused, as a SHA-256 hex digest; null if none. */
    synchronized String refusedToken() throws OutpostException {
        try {
            return meta(statements, "refused_token");
        } catch (SQLException e) {
            throw storage("cannot read the store's metadata: " + e.getMessage(), e);
        }
    }

    /** Whether the queue is paused on a token the server refused (kept across restarts). */
    public boolean pausedOnRefusedToken() throws OutpostException {
        return refusedToken() != null;
    }

    /** Records (or clears, with null) the digest of the token the server refused. */
    synchronized void refusedToken(String digest) throws OutpostException {
        try {
            if (digest == null) {
                if (meta(statements, "refused_token") == null) {
                    return;
                }
                PreparedStatement delete = statements.get("DELETE FROM meta WHERE key = 'refused_token'");
                delete.executeUpdate();
            } else {
                putMeta(statements, "refused_token", digest);
            }
            commit();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot write the store's metadata: " + e.getMessage(), e);
        }
    }

    /** The last pull cursor, or null before the first pull. */
    synchronized String cursor() throws OutpostException {
        try {
            return meta(statements, "cursor");
        } catch (SQLException e) {
            throw storage("cannot read the pull cursor: " + e.getMessage(), e);
        }
    }

    /**
     * Forgets the pull cursor, so the next pull starts from the beginning: the server said the
     * cursor would pass over changes (made for other scopes, or past its change log).
     */
    synchronized void restartPull() throws OutpostException {
        try {
            forgetCursor();
            commitRecoverable();
        } catch (SQLException | RuntimeException e) {
            rollback(e);
            throw storage("cannot forget the pull cursor: " + e.getMessage(), e);
        }
    }

    private void forgetCursor() throws SQLException {
        statements.get("DELETE FROM meta WHERE key = 'cursor'").executeUpdate();
    }

    /** Whether a pulled change is in the scope its collection lives in on this device. */
    private boolean kept(PulledPage.Pulled change) {
        return Objects.equals(change.scope(), sharedScopes.get(change.collection()));
    }

    /**
     * Applies a page of pulled changes and stores the cursor after it, in one transaction, so
     * a crash between pages resumes after the last page fully applied. A change is kept if it
     * is in the scope its collection lives in ({@link #useSharedScopes}); others are passed over.
     *
     * <p>The page's rows are read first, with one statement per collection, unless the page
     * before held only records new to this device (the first sync of a device or a
     * collection): then each change is inserted as a new record first, and only a record
     * the store turns out to hold already is read, and the change applied to it as usual.
     */
    synchronized int applyChanges(List<PulledPage.Pulled> changes, String cursor) throws OutpostException {
        long now = clock.millis();
        int applied = 0;
        try {
            long pagesBefore = settings.quotaBytes() == Long.MAX_VALUE ? 0 : pages();
            Map<String, List<String>> idsByCollection = new LinkedHashMap<>();
            Map<String, List<String>> ownIdsByCollection = new LinkedHashMap<>();
            for (PulledPage.Pulled change : changes) {
                if (kept(change)) {
                    idsByCollection.computeIfAbsent(change.collection(), c -> new ArrayList<>()).add(change.recordId());
                    if (ownChange(change)) {
                        ownIdsByCollection.computeIfAbsent(change.collection(), c -> new ArrayList<>()).add(change.recordId());
                    }
                }
            }
            boolean insertFirst = lastPageAllNew;
            Map<String, Row> before = insertFirst ? Map.of() : loadAll(idsByCollection);
            // This device's ops still open on the page's records: an own change pulled back
            // usually finds its op answered already, and then no statement is run for it.
            Map<String, Long> openOps = new HashMap<>();
            for (Map.Entry<String, List<String>> own : ownIdsByCollection.entrySet()) {
                queue.openOps(own.getKey(), own.getValue(), openOps);
            }
            Set<String> firstSeen = new HashSet<>();
            boolean allNew = true;
            for (PulledPage.Pulled change : changes) {
                if (!kept(change)) {
                    continue;
                }
                String key = change.collection() + '\u0000' + change.recordId();
                // A record's first change in the page finds its row among those read for the
                // page; a later one reads it again, as the earlier one may have changed it.
                boolean first = firstSeen.add(key);
                if (change.hlc() != null && Hlc.isValid(change.hlc())) {
                    hlc.observe(change.hlc());
                }
                Long openOp = ownChange(change)
                        ? openOps.remove(OpQueue.openOpKey(change.collection(), change.recordId(), change.origin().opId()))
                        : null;
                boolean ownOpLanded = openOp != null;
                if (ownOpLanded) {
                    queue.landed(openOp, change.collection(), change.recordId(), change.version(), now);
                }
                if (insertFirst && insertPulledIfNew(change, now)) {
                    applied++;
                    continue;
                }
                Row row = first && !insertFirst ? before.get(key) : load(change.collection(), change.recordId());
                allNew &= row == null;
                if (row != null && change.version() < row.serverVersion()) {
                    if (ownOpLanded) {
                        rebase(change.collection(), change.recordId());
                    }
                    continue;
                }
                if (row != null && change.version() == row.serverVersion() && sameState(row.server(), change)) {
                    if (ownOpLanded) {
                        rebase(change.collection(), change.recordId());
                    }
                    continue;
                }
                if (row == null) {
                    // A record new to this device has no ops of its own: the row written, server
                    // state and view alike, is its rebase already.
                    insertPulled(change, now);
                } else {
                    saveServer(change.collection(), change.recordId(), new RecordState(change.data(), change.deleted()),
                            change.version(), change.hlc(), now, row);
                    if (!row.server().deleted() && !change.deleted()) {
                        try {
                            queue.advanceDisjoint(change.collection(), change.recordId(), row.serverVersion(),
                                    row.server().data(), change.version(), change.data());
                        } catch (SQLException e) {
                            if (!Payloads.undecodable(e)) {
                                throw e;
                            }
                            // An op of the record cannot be read (dead-lettered with the reason at
                            // its draw): its ops keep their bases, and the pull is stored.
                        }
                    }
                    rebase(change.collection(), change.recordId());
                }
                applied++;
            }
            putMeta(statements, "cursor", cursor);
            putMeta(statements, "hlc", hlc.last());
            commitRecoverable();
            lastPageAllNew = allNew;
            if (settings.quotaBytes() != Long.MAX_VALUE) {
                notePullPastQuota(pagesBefore, changes.size());
            }
            return applied;
        } catch (SQLException e) {
            rollback(e);
            throw storage("cannot apply " + changes.size() + " pulled changes: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            rollback(e);
            throw e;
        }
    }

    /** Whether a pulled change was made by one of this device's ops. */
    private boolean ownChange(PulledPage.Pulled change) {
        return change.origin() != null && deviceId.equals(change.origin().deviceId());
    }

    private static boolean sameState(RecordState server, PulledPage.Pulled change) {
        return server.deleted() == change.deleted()
                && (change.deleted() || java.util.Objects.equals(server.data(), change.data()));
    }

    // ---- rows -----------------------------------------------------------------------------

    /*
     * A live server state that is the view itself is stored once, as server_data NULL with
     * server_deleted 0 (schema version 6): most records are in sync, and each then costs half
     * the bytes to write and to keep. A server state that is deleted has no data either way.
     */

    /** The server state's data, wherever the row stores it. */
    private static final String SERVER_STATE_DATA =
            "CASE WHEN server_data IS NULL AND server_deleted = 0 THEN data ELSE server_data END";

    /** Before the view changes: writes a server state stored as the view out in its own column. */
    private static final String SERVER_STATE_KEPT = "server_data = " + SERVER_STATE_DATA;

    /** The view becomes the server state, which is then stored as the view. */
    private static final String VIEW_FROM_SERVER_STATE =
            "data = " + SERVER_STATE_DATA + ", deleted = server_deleted, server_data = NULL";

    /**
     * A record's row: its local view and server state, each parsed (and opened, if sealed) only
     * when asked for, since most callers need one of them or just the version.
     */
    private final class Row {
        private final String collection;
        private final String id;
        private final long serverVersion;
        private String localJson;
        private final boolean localDeleted;
        private String serverJson;
        private final boolean serverDeleted;
        private RecordState local;
        private RecordState server;

        Row(String collection, String id, String localJson, boolean localDeleted, String serverJson, boolean serverDeleted,
                long serverVersion) {
            this.collection = collection;
            this.id = id;
            this.localJson = localJson;
            this.localDeleted = localDeleted;
            // A live server state stored as NULL is the view itself (schema version 6).
            this.serverJson = serverJson == null && !serverDeleted ? localJson : serverJson;
            this.serverDeleted = serverDeleted;
            this.serverVersion = serverVersion;
        }

        long serverVersion() {
            return serverVersion;
        }

        RecordState local() throws SQLException {
            if (local == null) {
                local = state(localJson, localDeleted);
                localJson = null;
            }
            return local;
        }

        RecordState server() throws SQLException {
            if (server == null) {
                server = state(serverJson, serverDeleted);
                serverJson = null;
            }
            return server;
        }

        private RecordState state(String json, boolean deleted) throws SQLException {
            return new RecordState(json == null ? null
                    : cipher.open(collection, id, Payloads.object(json, "the stored data of " + collection + "/" + id)), deleted);
        }
    }

    private Row load(String collection, String id) throws SQLException {
        PreparedStatement select = statements.get(
            "SELECT data, deleted, server_data, server_version, server_deleted FROM records WHERE collection = ? AND id = ?");
        select.setString(1, collection);
        select.setString(2, id);
        try (ResultSet rows = select.executeQuery()) {
            if (!rows.next()) {
                return null;
            }
            return new Row(collection, id, rows.getString(1), rows.getInt(2) != 0, rows.getString(3), rows.getInt(5) != 0,
                    rows.getLong(4));
        }
    }

    /**
     * The rows of the records named, ids by collection, read with one statement per
     * collection, keyed by collection and id joined with a NUL; records this device does not
     * hold have no entry.
     */
    private Map<String, Row> loadAll(Map<String, List<String>> idsByCollection) throws SQLException {
        Map<String, Row> rows = new HashMap<>();
        PreparedStatement select = statements.get(
            "SELECT id, data, deleted, server_data, server_version, server_deleted FROM records "
                    + "WHERE collection = ? AND id IN (SELECT value FROM json_each(?))");
        for (Map.Entry<String, List<String>> entry : idsByCollection.entrySet()) {
            String collection = entry.getKey();
            select.setString(1, collection);
            select.setString(2, Wire.write(entry.getValue()));
            try (ResultSet found = select.executeQuery()) {
                while (found.next()) {
                    String id = found.getString(1);
                    rows.put(collection + '\u0000' + id, new Row(collection, id, found.getString(2), found.getInt(3) != 0,
                            found.getString(4), found.getInt(6) != 0, found.getLong(5)));
                }
            }
        }
        return rows;
    }

    private void saveLocal(String collection, String id, RecordState local) throws SQLException {
        PreparedStatement update = statements.get(
            "UPDATE records SET " + SERVER_STATE_KEPT + ", data = ?, deleted = ? WHERE collection = ? AND id = ?");
        update.setString(1, local.data() == null ? null : Wire.write(cipher.seal(collection, id, local.data())));
        update.setInt(2, local.deleted() ? 1 : 0);
        update.setString(3, collection);
        update.setString(4, id);
        update.executeUpdate();
    }

    /**
     * Stores a pulled record new to this device, its view and server state alike. A collection
     * with no sensitive fields stores the JSON text as it was pulled.
     */
    private void insertPulled(PulledPage.Pulled change, long now) throws SQLException {
        insertRecord(change.collection(), change.recordId(), pulledData(change), change.deleted(), change.version(),
                change.hlc(), now);
    }

    /**
     * Stores a pulled record as {@link #insertPulled} does if this device does not hold it;
     * returns whether it did, having changed nothing if not.
     */
    private boolean insertPulledIfNew(PulledPage.Pulled change, long now) throws SQLException {
        PreparedStatement insert = statements.get(INSERT_RECORD + " ON CONFLICT DO NOTHING");
        bindRecord(insert, change.collection(), change.recordId(), pulledData(change), change.deleted(), change.version(),
                change.hlc(), now);
        return insert.executeUpdate() == 1;
    }

    /** A pulled record's data as the store keeps it: sealed if its collection has sensitive fields. */
    private String pulledData(PulledPage.Pulled change) throws SQLException {
        return change.json() == null || !cipher.seals(change.collection()) ? change.json()
                : Wire.write(cipher.seal(change.collection(), change.recordId(), change.data()));
    }

    private void saveServer(String collection, String id, RecordState server, long version, String serverHlc, long now,
            Row row) throws SQLException {
        String data = server.data() == null ? null : Wire.write(cipher.seal(collection, id, server.data()));
        if (row == null) {
            insertRecord(collection, id, data, server.deleted(), version, serverHlc, now);
            return;
        }
        PreparedStatement update = statements.get(
            "UPDATE records SET server_data = ?, server_version = ?, server_deleted = ?, server_hlc = ?, last_synced_at = ? "
                    + "WHERE collection = ? AND id = ?");
        update.setString(1, data);
        update.setLong(2, version);
        update.setInt(3, server.deleted() ? 1 : 0);
        update.setString(4, serverHlc);
        update.setLong(5, now);
        update.setString(6, collection);
        update.setString(7, id);
        update.executeUpdate();
    }

    /** Inserts a record's row, its parameters bound by {@link #bindRecord}. */
    private static final String INSERT_RECORD = "INSERT INTO records (collection, id, data, deleted, server_data, "
            + "server_version, server_deleted, server_hlc, last_synced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)";

    /** A new row whose view is its server state, stored once, in data; {@code data} sealed already. */
    private void insertRecord(String collection, String id, String data, boolean deleted, long version, String serverHlc,
            long now) throws SQLException {
        PreparedStatement insert = statements.get(INSERT_RECORD);
        bindRecord(insert, collection, id, data, deleted, version, serverHlc, now);
        insert.executeUpdate();
    }

    private static void bindRecord(PreparedStatement insert, String collection, String id, String data, boolean deleted,
            long version, String serverHlc, long now) throws SQLException {
        insert.setString(1, collection);
        insert.setString(2, id);
        insert.setString(3, data);
        insert.setInt(4, deleted ? 1 : 0);
        insert.setString(5, null);
        insert.setLong(6, version);
        insert.setInt(7, deleted ? 1 : 0);
        insert.setString(8, serverHlc);
        insert.setLong(9, now);
    }

    /**
     * Rebuilds a record's local view as its server state with its open ops (pending, and dead
     * ones until they are discarded) applied in order.
     */
    private void rebase(String collection, String id) throws SQLException {
        rebase(collection, id, null);
    }

    /**
     * {@link #rebase(String, String, Long)} for each of {@code keys} (collection and id joined
     * with a NUL), with the base each may give its next op. The records left with no open op
     * take the server's state as their view in one statement per collection, and those never
     * on the server go, as {@code rebase} does one at a time.
     */
    private void rebaseAll(Set<String> keys, Map<String, Long> nextBase) throws SQLException {
        Map<String, List<String>> idsByCollection = new LinkedHashMap<>();
        for (String key : keys) {
            int split = key.indexOf('\u0000');
            idsByCollection.computeIfAbsent(key.substring(0, split), c -> new ArrayList<>()).add(key.substring(split + 1));
        }
        PreparedStatement copy = statements.get("UPDATE records SET " + VIEW_FROM_SERVER_STATE + " "
                + "WHERE collection = ? AND id IN (SELECT value FROM json_each(?)) AND server_version > 0");
        PreparedStatement delete = statements.get("DELETE FROM records "
                + "WHERE collection = ? AND id IN (SELECT value FROM json_each(?)) AND server_version <= 0");
        for (Map.Entry<String, List<String>> entry : idsByCollection.entrySet()) {
            String collection = entry.getKey();
            Set<String> open = new HashSet<>();
            queue.openSeqs(collection, entry.getValue(), (id, seq) -> open.add(id));
            List<String> settled = new ArrayList<>();
            for (String id : entry.getValue()) {
                if (open.contains(id)) {
                    rebase(collection, id, nextBase.get(collection + '\u0000' + id));
                } else {
                    settled.add(id);
                }
            }
            if (!settled.isEmpty()) {
                String ids = Wire.write(settled);
                for (PreparedStatement statement : List.of(copy, delete)) {
                    statement.setString(1, collection);
                    statement.setString(2, ids);
                    statement.executeUpdate();
                }
            }
        }
    }

    /**
     * As {@link #rebase(String, String)}; with {@code nextBase} (the version an op of the
     * record just made), the record's first open op, if it has no base yet, gets that one.
     */
    private void rebase(String collection, String id, Long nextBase) throws SQLException {
        List<Object[]> open = new ArrayList<>();
        PreparedStatement select = statements.get(
            "SELECT type, data, codec FROM ops WHERE collection = ? AND record_id = ? AND status IN ('PENDING', 'DEAD') ORDER BY seq");
        select.setString(1, collection);
        select.setString(2, id);
        try (ResultSet rows = select.executeQuery()) {
            while (rows.next()) {
                Object data;
                try {
                    data = Payloads.read(rows, 2, 3);
                } catch (Payloads.Unreadable e) {
                    data = e;
                }
                open.add(new Object[] {OpType.valueOf(rows.getString(1)), data});
            }
        }
        if (open.isEmpty()) {
            // Nothing of the device's on top: the view is the server's state, stored the same way.
            PreparedStatement copy = statements.get("UPDATE records SET " + VIEW_FROM_SERVER_STATE + " "
                    + "WHERE collection = ? AND id = ? AND server_version > 0");
            copy.setString(1, collection);
            copy.setString(2, id);
            if (copy.executeUpdate() == 0) {
                // Never on the server and no op left to put it there.
                PreparedStatement delete = statements.get("DELETE FROM records WHERE collection = ? AND id = ?");
                delete.setString(1, collection);
                delete.setString(2, id);
                delete.executeUpdate();
            }
            return;
        }
        if (nextBase != null) {
            queue.baseForNext(collection, id, nextBase);
        }
        Row row = load(collection, id);
        if (row == null) {
            return;
        }
        RecordState state = row.server();
        for (Object[] op : open) {
            if (op[1] instanceof SQLException undecodable) {
                // Dead-lettered at its draw with the reason: it cannot be applied, and must not
                // keep every pull that touches its record from being stored.
                LOG.warn("an open op of {}/{} is left out of its view: {}", collection, id, undecodable.getMessage());
                continue;
            }
            ObjectNode data;
            try {
                data = cipher.open(collection, id, (ObjectNode) op[1]);
            } catch (SQLException e) {
                if (!Payloads.undecodable(e)) {
                    throw e;
                }
                LOG.warn("an open op of {}/{} is left out of its view: {}", collection, id, e.getMessage());
                continue;
            }
            state = state.after((OpType) op[0], data);
        }
        saveLocal(collection, id, state);
    }

    // ---- plumbing -------------------------------------------------------------------------

    /**
     * The clock's last timestamp: the later of the one pulls store in meta and the newest
     * op's, so the clock never runs backwards across a restart.
     */
    private static String lastHlc(Statements statements) throws SQLException {
        String stored = meta(statements, "hlc");
        PreparedStatement select = statements.get("SELECT hlc FROM ops ORDER BY seq DESC LIMIT 1");
        try (ResultSet rows = select.executeQuery()) {
            String newestOp = rows.next() ? rows.getString(1) : null;
            return Hlc.compare(stored, newestOp) >= 0 ? stored : newestOp;
        }
    }

    private static String meta(Statements statements, String key) throws SQLException {
        PreparedStatement select = statements.get("SELECT value FROM meta WHERE key = ?");
        select.setString(1, key);
        try (ResultSet rows = select.executeQuery()) {
            return rows.next() ? rows.getString(1) : null;
        }
    }

    private static void putMeta(Statements statements, String key, String value) throws SQLException {
        if (value == null) {
            return;
        }
        PreparedStatement upsert = statements.get(
            "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
        upsert.setString(1, key);
        upsert.setString(2, value);
        upsert.executeUpdate();
    }

    private void rollback(Exception cause) {
        try {
            db.rollback();
        } catch (SQLException e) {
            cause.addSuppressed(e);
        }
    }

    private static OutpostException openFailure(String message, Exception cause) {
        return new OutpostException(Category.STORAGE,
                cause instanceof FieldCipher.SecurityFailure ? "KEY_UNAVAILABLE" : "STORAGE_FAILURE", message, cause);
    }

    /** A STORAGE failure of the open store; damage it reveals is remembered for the next open's check. */
    private OutpostException storage(String message, Exception cause) {
        for (Throwable t = cause; t != null; t = t.getCause()) {
            if (t instanceof SQLException sql && isDamage(sql)) {
                if (!damageSeen) {
                    damageSeen = true;
                    LOG.error("the local store {} is damaged ({}); the next open checks it and restores a backup if it"
                            + " must", file, sql.getMessage());
                }
                break;
            }
        }
        return openFailure(message, cause);
    }

    private static void closeQuietly(Connection connection) {
        if (connection != null) {
            try {
                connection.close();
            } catch (SQLException e) {
                // Already failing to open; the open error is what the caller needs.
            }
        }
    }

    @Override
    public synchronized void close() {
        try {
            if (!damageSeen) {
                try (PreparedStatement delete = db.prepareStatement("DELETE FROM meta WHERE key = 'session'")) {
                    delete.executeUpdate();
                }
            }
            putMeta(statements, "hlc", hlc.last());
            commit();
        } catch (SQLException e) {
            LOG.warn("the store {} could not be marked as closed cleanly: {}", file, e.getMessage());
        }
        synchronized (logLock) {
            // Before the database: on some systems SQLite deletes the log at its close.
            if (log != null) {
                try {
                    log.close();
                } catch (IOException e) {
                    // Closing at the end; every durable commit forced it already.
                }
            }
        }
        try {
            statements.close();
            closeQuietly(db);
        } finally {
            if (lock != null) {
                lock.close();
                lock = null;
            }
        }
    }
}
