package dev.outpost.client;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import dev.outpost.protocol.Names;
import dev.outpost.protocol.Priority;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.random.RandomGenerator;

/**
 * How an {@link Outpost} is set up; immutable, made by {@link #builder()}, whose setters check
 * each value at once.
 *
 * <pre>{@code
 * OutpostConfig config = OutpostConfig.builder()
 *         .dataDirectory(Path.of("app-data"))
 *         .serverUrl("https://sync.example.com")
 *         .tokenProvider(rejected -> auth.currentToken())
 *         .build();
 * }</pre>
 */
public final class OutpostConfig {
    /** The local store's file name in a {@linkplain Builder#dataDirectory(Path) data directory}. */
    public static final String STORE_FILE_NAME = "outpost.db";

    private final Path storeFile;
    private final Transport transport;
    private final TokenProvider tokenProvider;
    private final Clock clock;
    private final int pushBatchSize;
    private final int pullPageSize;
    private final int pushesInFlight;
    private final RetryPolicy retryPolicy;
    private final int[] priorityWeights;
    private final boolean coalescing;
    private final Durability durability;
    private final RandomGenerator random;
    private final Duration retention;
    private final long storageQuota;
    private final Path backupDirectory;
    private final Duration backupInterval;
    private final int backupsKept;
    private final boolean recoverCorruptStore;
    private final boolean memoryOnlyFallback;
    private final Map<String, Set<String>> sensitiveFields;
    private final Map<String, ClientConflictPolicy> conflictPolicies;
    private final Map<String, ConflictResolver> conflictResolvers;
    private final Map<String, String> sharedScopes;
    private final ClientConflictPolicy defaultConflictPolicy;
    private final KeyProvider keyProvider;
    private final List<OutpostListener> listeners;
    private final SyncPolicy syncPolicy;
    private final java.util.concurrent.ScheduledExecutorService syncExecutor;
    private final int recordCacheSize;
    private final NetworkMonitor networkMonitor;

    private OutpostConfig(Builder builder) {
        this.storeFile = builder.storeFile;
        this.transport = builder.transport != null
                ? builder.transport
                : builder.serverUrl == null ? null : Transport.http(builder.serverUrl, builder.requestTimeout);
        this.tokenProvider = builder.tokenProvider;
        this.clock = builder.clock;
        this.pushBatchSize = builder.pushBatchSize;
        this.pullPageSize = builder.pullPageSize;
        this.pushesInFlight = builder.pushesInFlight;
        this.retryPolicy = builder.retryPolicy;
        this.priorityWeights = builder.priorityWeights.clone();
        this.coalescing = builder.coalescing;
        this.durability = builder.durability;
        this.random = builder.random;
        this.retention = builder.retention;
        this.storageQuota = builder.storageQuota;
        this.backupDirectory = builder.backupDirectory != null
                ? builder.backupDirectory
                : builder.storeFile.resolveSibling(builder.storeFile.getFileName() + ".backups");
        this.backupInterval = builder.backupInterval;
        this.backupsKept = builder.backupsKept;
        this.recoverCorruptStore = builder.recoverCorruptStore;
        this.memoryOnlyFallback = builder.memoryOnlyFallback;
        Map<String, Set<String>> fields = new HashMap<>();
        builder.sensitiveFields.forEach((collection, names) -> fields.put(collection, Set.copyOf(names)));
        this.sensitiveFields = Map.copyOf(fields);
        this.conflictPolicies = Map.copyOf(builder.conflictPolicies);
        this.conflictResolvers = Map.copyOf(builder.conflictResolvers);
        this.sharedScopes = Map.copyOf(builder.sharedScopes);
        this.defaultConflictPolicy = builder.defaultConflictPolicy;
        this.listeners = List.copyOf(builder.listeners);
        this.syncPolicy = builder.syncPolicy;
        this.recordCacheSize = builder.recordCacheSize;
        this.networkMonitor = builder.networkMonitor;
        this.syncExecutor = builder.syncExecutor;
        this.keyProvider = builder.keyProvider != null
                ? builder.keyProvider
                : KeyProvider.keysetFile(builder.storeFile.resolveSibling(builder.storeFile.getFileName() + ".keyset.json"));
    }

    /** How many records the memory cache in front of the local view holds; 0 for none. */
    public int recordCacheSize() {
        return recordCacheSize;
    }

    /** Where syncs run and their timers wait; null for a thread of Outpost's own. For tests of the scheduling. */
    java.util.concurrent.ScheduledExecutorService syncExecutor() {
        return syncExecutor;
    }

    /** When Outpost syncs by itself; default {@link SyncPolicy#DEFAULTS}. */
    public SyncPolicy syncPolicy() {
        return syncPolicy;
    }

    /**
     * The network monitor; null when none was set, and Outpost then probes the server's
     * health ({@link NetworkMonitor#probing}) every 15 s.
     */
    public NetworkMonitor networkMonitor() {
        return networkMonitor;
    }

    /** A builder with the defaults; only the store file is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** The SQLite file of the local store. */
    public Path storeFile() {
        return storeFile;
    }

    /** The transport to the server, or null if none is configured (sync then reports OFFLINE). */
    public Transport transport() {
        return transport;
    }

    /** Supplies bearer tokens. */
    public TokenProvider tokenProvider() {
        return tokenProvider;
    }

    /** The clock for timestamps. */
    public Clock clock() {
        return clock;
    }

    /** Ops per push request. */
    public int pushBatchSize() {
        return pushBatchSize;
    }

    /** Changes per pull request. */
    public int pullPageSize() {
        return pullPageSize;
    }

    /** How many push requests a sync keeps on their way at once. */
    public int pushesInFlight() {
        return pushesInFlight;
    }

    /** How failed attempts are retried. */
    public RetryPolicy retryPolicy() {
        return retryPolicy;
    }

    /** The share of each batch per priority, indexed LOW, NORMAL, HIGH, CRITICAL. */
    public int[] priorityWeights() {
        return priorityWeights.clone();
    }

    /** Whether unsent UPDATEs fold into the op before them. */
    public boolean coalescing() {
        return coalescing;
    }

    /** What a returned write survives. */
    public Durability durability() {
        return durability;
    }

    /** The source of retry jitter. */
    public RandomGenerator random() {
        return random;
    }

    /** How long finished ops and dead letters are kept. */
    public Duration retention() {
        return retention;
    }

    /** The default {@linkplain Builder#storageQuota storage quota}: 100 MiB. */
    public static final long DEFAULT_STORAGE_QUOTA = 100L * 1024 * 1024;

    /** The most bytes the store file may grow to; {@link Long#MAX_VALUE} if there is no quota. */
    public long storageQuota() {
        return storageQuota;
    }

    /** Where backups go. */
    public Path backupDirectory() {
        return backupDirectory;
    }

    /** The period of scheduled backups: how old the last backup may be before a new one is taken. */
    public Duration backupInterval() {
        return backupInterval;
    }

    /** How many backups are kept. */
    public int backupsKept() {
        return backupsKept;
    }

    /** Whether a damaged store is moved aside and restored from a backup on open. */
    public boolean recoverCorruptStore() {
        return recoverCorruptStore;
    }

    /** Whether the store falls back to memory when no file storage works. */
    public boolean memoryOnlyFallback() {
        return memoryOnlyFallback;
    }

    /** Per collection, the top-level fields sealed at rest. */
    public Map<String, Set<String>> sensitiveFields() {
        return sensitiveFields;
    }

    /** The listeners, in the order they were added. */
    public List<OutpostListener> listeners() {
        return listeners;
    }

    /** The source of the key that seals sensitive fields. */
    public KeyProvider keyProvider() {
        return keyProvider;
    }

    /**
     * How this device settles conflicts in {@code collection}: the policy set for it, else its
     * seeded default, else {@link #defaultConflictPolicy()}. A resolver registered for the
     * collection ({@link #conflictResolvers()}) decides instead.
     */
    public ClientConflictPolicy conflictPolicy(String collection) {
        return conflictPolicies.getOrDefault(collection, defaultConflictPolicy);
    }

    /** The policy of collections with none of their own; default {@link ClientConflictPolicy#SERVER_WINS}. */
    public ClientConflictPolicy defaultConflictPolicy() {
        return defaultConflictPolicy;
    }

    /** The conflict resolvers, by collection. */
    public Map<String, ConflictResolver> conflictResolvers() {
        return conflictResolvers;
    }

    /**
     * The collections that live in a shared scope, each with its scope; every other
     * collection holds the user's own records. See {@link Builder#sharedScope}.
     */
    public Map<String, String> sharedScopes() {
        return sharedScopes;
    }

    /** Builds an {@link OutpostConfig}. */
    public static final class Builder {
        private Path storeFile;
        private URI serverUrl;
        private Transport transport;
        private TokenProvider tokenProvider = TokenProvider.NONE;
        private Clock clock = Clock.systemUTC();
        private Duration requestTimeout = Duration.ofSeconds(30);
        private int pushBatchSize = 100;
        private int pullPageSize = 500;
        private int pushesInFlight = 4;
        private RetryPolicy retryPolicy = RetryPolicy.DEFAULT;
        private int[] priorityWeights = {1, 2, 4, 8};
        private boolean coalescing = true;
        private Durability durability = Durability.DURABLE;
        private RandomGenerator random = new SplittableRandom();
        private Duration retention = Duration.ofDays(30);
        private long storageQuota = DEFAULT_STORAGE_QUOTA;
        private Path backupDirectory;
        private Duration backupInterval = Duration.ofHours(24);
        private int backupsKept = 2;
        private boolean recoverCorruptStore = true;
        private boolean memoryOnlyFallback = true;
        private final Map<String, Set<String>> sensitiveFields = new HashMap<>();
        private final Map<String, ClientConflictPolicy> conflictPolicies = new HashMap<>(Map.of(
                "posts", ClientConflictPolicy.LAST_MODIFIED_WINS,
                "comments", ClientConflictPolicy.CLIENT_WINS,
                "messages", ClientConflictPolicy.CLIENT_WINS,
                "profiles", ClientConflictPolicy.MERGE));
        private final Map<String, ConflictResolver> conflictResolvers = new HashMap<>();
        private final Map<String, String> sharedScopes = new HashMap<>();
        private ClientConflictPolicy defaultConflictPolicy = ClientConflictPolicy.SERVER_WINS;
        private KeyProvider keyProvider;
        private final List<OutpostListener> listeners = new ArrayList<>();
        private SyncPolicy syncPolicy = SyncPolicy.DEFAULTS;
        private int recordCacheSize = 1000;
        private NetworkMonitor networkMonitor;
        private java.util.concurrent.ScheduledExecutorService syncExecutor;

        private Builder() {
        }

        /**
         * Runs syncs, and waits the write debounce and the period, on {@code executor} instead
         * of a thread of Outpost's own, which shuts it down on close: tests of the scheduling
         * pass one a fake clock drives.
         */
        Builder syncExecutor(java.util.concurrent.ScheduledExecutorService executor) {
            this.syncExecutor = Objects.requireNonNull(executor, "syncExecutor");
            return this;
        }

        /**
         * How many records {@link Outpost#get} keeps in memory, least recently used out, 0 to
         * 1,000,000 (0: no cache); default 1,000. Any change to the store clears it.
         */
        public Builder recordCacheSize(int records) {
            if (records < 0 || records > 1_000_000) {
                throw new IllegalArgumentException("recordCacheSize must be from 0 to 1000000, got " + records);
            }
            this.recordCacheSize = records;
            return this;
        }

        /** When Outpost syncs by itself; default {@link SyncPolicy#DEFAULTS}, {@link SyncPolicy#MANUAL} for never. */
        public Builder syncPolicy(SyncPolicy policy) {
            this.syncPolicy = Objects.requireNonNull(policy, "syncPolicy");
            return this;
        }

        /**
         * Where Outpost learns what the network looks like; default a monitor that probes the
         * server's health every 15 s. Apps that know the link type (Wi-Fi, cellular, metered)
         * feed it through {@link NetworkMonitor#manual}.
         */
        public Builder networkMonitor(NetworkMonitor monitor) {
            this.networkMonitor = Objects.requireNonNull(monitor, "networkMonitor");
            return this;
        }

        /** Adds a listener for store events (quota, degraded storage, dead letters). */
        public Builder listener(OutpostListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /**
         * How this device settles conflicts in {@code collection}: what it does when the server
         * answers one of its changes CONFLICT, having kept its own record (see
         * {@link ClientConflictPolicy}). Replaces a resolver set for the collection before.
         *
         * <p>Defaults: {@code posts} {@link ClientConflictPolicy#LAST_MODIFIED_WINS},
         * {@code comments} and {@code messages} {@link ClientConflictPolicy#CLIENT_WINS},
         * {@code profiles} {@link ClientConflictPolicy#MERGE}, and every other collection
         * (shared resources, say) {@link #defaultConflictPolicy}, itself
         * {@link ClientConflictPolicy#SERVER_WINS} unless set. A policy set here overrides these.
         *
         * @throws IllegalArgumentException if the collection name is not valid
         */
        public Builder conflictPolicy(String collection, ClientConflictPolicy policy) {
            checkCollection(collection);
            Objects.requireNonNull(policy, "policy");
            conflictPolicies.put(collection, policy);
            conflictResolvers.remove(collection);
            return this;
        }

        /**
         * The app's own resolver for conflicts in {@code collection}, which decides instead of
         * the collection's policy; see {@link ConflictResolver} for when it is called and what
         * throwing means. Replaces a policy or resolver set for the collection before.
         *
         * @throws IllegalArgumentException if the collection name is not valid
         */
        public Builder conflictResolver(String collection, ConflictResolver resolver) {
            checkCollection(collection);
            Objects.requireNonNull(resolver, "resolver");
            conflictResolvers.put(collection, resolver);
            conflictPolicies.remove(collection);
            return this;
        }

        /**
         * The conflict policy of collections without a policy or resolver of their own and
         * without a seeded default (see {@link #conflictPolicy}); default
         * {@link ClientConflictPolicy#SERVER_WINS}.
         */
        public Builder defaultConflictPolicy(ClientConflictPolicy policy) {
            this.defaultConflictPolicy = Objects.requireNonNull(policy, "defaultConflictPolicy");
            return this;
        }

        /**
         * Keeps {@code collection} in the shared scope {@code scope}, one the user's token grants
         * in its {@code scopes} claim (see the protocol): the device's writes to the collection
         * go to that scope, and pulls bring the scope's records of it, written by anyone who
         * shares it. Every other collection holds the user's own records. The seeds settle
         * shared resources server-wins, which is what a collection without a policy of its own
         * gets ({@link #defaultConflictPolicy}). A write to a scope the token grants only for
         * reading, or not at all, is refused by the server and becomes a dead letter that says so.
         *
         * <p>The store remembers each collection's scope; opening it with a collection moved to
         * another scope fails ({@code SCOPE_CHANGED}) while the device holds records or open
         * ops of that collection.
         *
         * @throws IllegalArgumentException if the collection or scope name is not valid (both
         *     follow the collection-name rule)
         */
        public Builder sharedScope(String collection, String scope) {
            checkCollection(collection);
            if (!Names.isValidCollection(scope)) {
                throw new IllegalArgumentException("scope '" + scope + "' of collection " + collection + " is not valid: "
                        + Names.collectionRule());
            }
            sharedScopes.put(collection, scope);
            return this;
        }

        private static void checkCollection(String collection) {
            if (!Names.isValidCollection(collection)) {
                throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
            }
        }

        /**
         * Marks top-level fields of a collection sensitive: their values are sealed with an AEAD
         * (Google Tink) wherever the device stores them, in the op queue and in the local view,
         * and open again when read. They travel to the server as they are (over TLS). Call again
         * to add fields.
         *
         * @throws IllegalArgumentException if the collection or a field name is not valid
         */
        public Builder sensitiveFields(String collection, String... fields) {
            if (!Names.isValidCollection(collection)) {
                throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
            }
            if (fields.length == 0) {
                throw new IllegalArgumentException("name at least one sensitive field of " + collection);
            }
            for (String field : fields) {
                if (field == null || field.isBlank()) {
                    throw new IllegalArgumentException("a sensitive field name of " + collection + " is blank");
                }
                sensitiveFields.computeIfAbsent(collection, c -> new HashSet<>()).add(field);
            }
            return this;
        }

        /**
         * The source of the key that seals sensitive fields; default
         * {@link KeyProvider#keysetFile} with {@code <store file>.keyset.json} beside the store.
         */
        public Builder keyProvider(KeyProvider keyProvider) {
            this.keyProvider = Objects.requireNonNull(keyProvider, "keyProvider");
            return this;
        }

        /** Where backups go; default a directory beside the store file named {@code <store file>.backups}. */
        public Builder backupDirectory(Path directory) {
            this.backupDirectory = Objects.requireNonNull(directory, "backupDirectory");
            return this;
        }

        /**
         * The period of scheduled backups: a backup is taken when the last one (scheduled or on
         * demand) is older than this by the configured {@link #clock}, whether or not the device
         * syncs; default 24 hours, from 1 minute to 365 days. The store looks whether one is due
         * every twelfth of the interval (5 seconds to 1 hour), and after each completed sync.
         * {@link Outpost#backup()} takes one at any time.
         *
         * @throws IllegalArgumentException if the interval is shorter than 1 minute or longer than 365 days
         */
        public Builder backupInterval(Duration interval) {
            Objects.requireNonNull(interval, "backupInterval");
            if (interval.compareTo(Duration.ofMinutes(1)) < 0 || interval.compareTo(Duration.ofDays(365)) > 0) {
                throw new IllegalArgumentException("backupInterval must be from 1 minute to 365 days, got " + interval);
            }
            this.backupInterval = interval;
            return this;
        }

        /** How many backups are kept, newest first, 1 to 100; default 2. */
        public Builder backupsKept(int count) {
            if (count < 1 || count > 100) {
                throw new IllegalArgumentException("backupsKept must be from 1 to 100, got " + count);
            }
            this.backupsKept = count;
            return this;
        }

        /**
         * Whether a store that fails its integrity check on open is moved aside (kept, renamed
         * {@code <name>.damaged-<millis>}) and the newest usable backup restored, or a new store
         * begun; default on. Off, opening a damaged store fails with STORAGE / STORE_DAMAGED and
         * leaves the file as it is.
         */
        public Builder recoverCorruptStore(boolean recover) {
            this.recoverCorruptStore = recover;
            return this;
        }

        /**
         * Whether, when no file storage works (the directory cannot be written, the disk is
         * full), the store lives in memory instead of failing, saying so in
         * {@link Outpost#openReport()} and {@link Outpost#statusLine()}; default on.
         */
        public Builder memoryOnlyFallback(boolean fallback) {
            this.memoryOnlyFallback = fallback;
            return this;
        }

        /**
         * How long ops that ended (applied, in conflict, discarded) and dead letters are kept
         * before they are purged, at open and after each sync; default 30 days, at least 1 hour.
         */
        public Builder retention(Duration retention) {
            Objects.requireNonNull(retention, "retention");
            if (retention.compareTo(Duration.ofHours(1)) < 0) {
                throw new IllegalArgumentException("retention must be at least 1 hour, got " + retention);
            }
            this.retention = retention;
            return this;
        }

        /**
         * The most bytes the store may grow to: its file and its write-ahead log (backups not
         * counted; a smaller quota makes the log's checkpoints more frequent). A write that
         * would grow it past the quota fails with a QUOTA error and changes nothing; writes that
         * do not grow the store (such as deletes) still go. A pull stores the server's changes
         * whatever their size, and tells {@link OutpostListener#quotaExceeded} if they took the
         * store past the quota. Default:
         * {@link #DEFAULT_STORAGE_QUOTA} (100 MiB, the seeds' {@code storageQuotaMB: 100}). At
         * least 64 KiB.
         */
        public Builder storageQuota(long bytes) {
            if (bytes < 64 * 1024) {
                throw new IllegalArgumentException("storageQuota must be at least 65536 bytes, got " + bytes);
            }
            this.storageQuota = bytes;
            return this;
        }

        /** No quota on the store's size: it grows as long as the disk has room. */
        public Builder noStorageQuota() {
            this.storageQuota = Long.MAX_VALUE;
            return this;
        }

        /** How failed attempts are retried; default {@link RetryPolicy#DEFAULT} (5 retries, after 1, 2, 4, 8, 16 s). */
        public Builder retryPolicy(RetryPolicy policy) {
            this.retryPolicy = Objects.requireNonNull(policy, "retryPolicy");
            return this;
        }

        /**
         * Each priority's share of a batch when several have ops ready; default 1, 2, 4, 8.
         * Every weight must be at least 1, so no priority starves.
         */
        public Builder priorityWeights(int low, int normal, int high, int critical) {
            int[] weights = {low, normal, high, critical};
            for (int i = 0; i < weights.length; i++) {
                if (weights[i] < 1 || weights[i] > 1000) {
                    throw new IllegalArgumentException("priority weight of " + Priority.values()[i]
                            + " must be from 1 to 1000, got " + weights[i]);
                }
            }
            this.priorityWeights = weights;
            return this;
        }

        /**
         * Whether an UPDATE folds into the record's previous unsent UPDATE when that one waits
         * behind an earlier op of its record (a record's first pending op is never folded into,
         * so a conflict on it is settled on its own), and a DELETE cancels an unsent CREATE of a
         * record the server does not hold, with the unsent ops after it; the server ends the
         * same either way. Default on.
         */
        public Builder coalescing(boolean coalescing) {
            this.coalescing = coalescing;
            return this;
        }

        /** What a returned write survives; default {@link Durability#DURABLE}. */
        public Builder durability(Durability durability) {
            this.durability = Objects.requireNonNull(durability, "durability");
            return this;
        }

        /** The source of retry jitter; inject a seeded one for repeatable tests. */
        public Builder random(RandomGenerator random) {
            this.random = Objects.requireNonNull(random, "random");
            return this;
        }

        /**
         * The SQLite file of the local store, created if missing (with its folders). This or
         * {@link #dataDirectory(Path)} is required; the last one set counts.
         */
        public Builder storeFile(Path storeFile) {
            this.storeFile = Objects.requireNonNull(storeFile, "storeFile");
            return this;
        }

        /**
         * The device's data directory, created if missing: the local store is {@value #STORE_FILE_NAME}
         * in it, with its backups ({@code outpost.db.backups}) and, for the default key provider,
         * its keyset ({@code outpost.db.keyset.json}) beside it. The same as
         * {@code storeFile(directory.resolve("outpost.db"))}.
         *
         * @throws IllegalArgumentException if {@code directory} exists and is not a directory
         */
        public Builder dataDirectory(Path directory) {
            Objects.requireNonNull(directory, "dataDirectory");
            if (java.nio.file.Files.exists(directory) && !java.nio.file.Files.isDirectory(directory)) {
                throw new IllegalArgumentException("dataDirectory " + directory + " exists and is not a directory");
            }
            this.storeFile = directory.resolve(STORE_FILE_NAME);
            return this;
        }

        /**
         * The server's base URL, such as {@code http://127.0.0.1:8080}.
         *
         * @throws IllegalArgumentException if it is not an absolute http or https URL
         */
        public Builder serverUrl(String url) {
            Objects.requireNonNull(url, "serverUrl");
            URI uri;
            try {
                uri = new URI(url);
            } catch (URISyntaxException e) {
                throw new IllegalArgumentException("server URL '" + url + "' is not a URL: " + e.getMessage(), e);
            }
            if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null) {
                throw new IllegalArgumentException("server URL '" + url + "' must be an absolute http:// or https:// URL with a host");
            }
            this.serverUrl = uri;
            return this;
        }

        /** A transport of the app's own, used instead of HTTP to {@link #serverUrl}. */
        public Builder transport(Transport transport) {
            this.transport = Objects.requireNonNull(transport, "transport");
            return this;
        }

        /** Supplies bearer tokens; default {@link TokenProvider#NONE}. */
        public Builder tokenProvider(TokenProvider tokenProvider) {
            this.tokenProvider = Objects.requireNonNull(tokenProvider, "tokenProvider");
            return this;
        }

        /** The clock for op timestamps; default the system clock. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /** The timeout of one HTTP request; default 30 s. */
        public Builder requestTimeout(Duration timeout) {
            Objects.requireNonNull(timeout, "requestTimeout");
            if (timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("requestTimeout must be positive, got " + timeout);
            }
            this.requestTimeout = timeout;
            return this;
        }

        /** Ops per push request, 1 to 1000; default 100. */
        public Builder pushBatchSize(int ops) {
            if (ops < 1 || ops > 1000) {
                throw new IllegalArgumentException("pushBatchSize must be from 1 to 1000, got " + ops);
            }
            this.pushBatchSize = ops;
            return this;
        }

        /** Changes per pull request, 1 to 1000; default 500. */
        public Builder pullPageSize(int changes) {
            if (changes < 1 || changes > 1000) {
                throw new IllegalArgumentException("pullPageSize must be from 1 to 1000, got " + changes);
            }
            this.pullPageSize = changes;
            return this;
        }

        /**
         * How many push requests a sync keeps on their way at once, 1 to 16; default 4. While
         * one answer travels back, the device sends the next batches, so the server works on
         * several at once (on SQLite they share its disk flushes). A record's next op still
         * waits until its previous one is answered, so a record's ops reach the server in the
         * order they were written. 1 sends a batch only after the previous one is answered.
         */
        public Builder pushesInFlight(int requests) {
            if (requests < 1 || requests > 16) {
                throw new IllegalArgumentException("pushesInFlight must be from 1 to 16, got " + requests);
            }
            this.pushesInFlight = requests;
            return this;
        }

        /**
         * The configuration.
         *
         * @throws IllegalStateException if neither a store file nor a data directory was set
         */
        public OutpostConfig build() {
            if (storeFile == null) {
                throw new IllegalStateException(
                        "storeFile or dataDirectory is required: where the SQLite file that holds this device's data lives");
            }
            if (syncPolicy.automatic() && syncPolicy.wifiOnlyInBackground() && networkMonitor == null
                    && (transport != null || serverUrl != null)) {
                throw new IllegalStateException("wifiOnlyInBackground needs a networkMonitor that tells Wi-Fi from other links:"
                        + " the default monitor cannot, and background syncs would never run");
            }
            return new OutpostConfig(this);
        }
    }
}
