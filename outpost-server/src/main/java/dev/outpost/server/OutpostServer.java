package dev.outpost.server;

import dev.outpost.server.internal.ConfigFile;
import dev.outpost.server.internal.HttpApi;
import dev.outpost.server.internal.JettyErrors;
import dev.outpost.server.internal.Limits;
import dev.outpost.server.internal.Policies;
import dev.outpost.server.internal.RequestsInFlight;
import dev.outpost.server.internal.ServerMetrics;
import dev.outpost.server.internal.JdbcSyncStore;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.Names;
import dev.outpost.protocol.Wire;
import io.javalin.Javalin;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.interfaces.RSAPublicKey;
import java.sql.SQLException;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import org.eclipse.jetty.server.Server;

/**
 * The Outpost sync server: protocol v1 over HTTP on a database.
 *
 * <pre>{@code
 * try (OutpostServer server = OutpostServer.builder().dataDir(Path.of("outpost-data")).port(8080).build().start()) {
 *     System.out.println("listening on " + server.url());
 *     ...
 * }
 * }</pre>
 *
 * <p>With no database URL the server keeps an SQLite file, {@code outpost.db}, in its data
 * directory; the directory also holds the token signing secret (see {@link Tokens}).
 */
public final class OutpostServer implements AutoCloseable {
    private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(OutpostServer.class);
    /** The file name of the embedded database in the data directory. */
    public static final String DATABASE_FILE = "outpost.db";

    private final Config config;
    private final Tokens tokens;
    private final ServerMetrics metrics = new ServerMetrics();
    private HttpApi api;
    private JdbcSyncStore store;
    private Javalin app;
    /** The requests whose answers are not yet written, which a stop waits for. */
    private final RequestsInFlight requests = new RequestsInFlight();

    private OutpostServer(Config config) {
        this.config = config;
        this.tokens = config.rsaKey != null
                ? Tokens.withRsaPublicKey(config.rsaKey, config.tokenIssuer, config.tokenAudience, config.clock)
                : config.tokenSecret != null
                ? Tokens.withSecret(config.tokenSecret, config.clock)
                : Tokens.forDataDir(config.dataDir, config.clock);
        this.tokens.clockSkew(config.tokenClockSkew);
    }

    /** A builder with the defaults: port 8080 on 127.0.0.1, data in {@code ./outpost-data}. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Opens the database (creating and migrating it if needed) and starts listening.
     *
     * @return this server, started
     * @throws IllegalStateException if the database cannot be opened or the port cannot be bound
     */
    public synchronized OutpostServer start() {
        if (app != null) {
            throw new IllegalStateException("server already started");
        }
        try {
            store = JdbcSyncStore.open(config.databaseUrl(), config.poolSize, config.clock, config.maxRecordBytes, config.policies);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open the database " + config.redactedDatabaseUrl() + ": " + e.getMessage(), e);
        }
        Limits limits = new Limits(config.maxBodyBytes, config.maxOpsPerPush, config.maxRecordBytes, config.maxRecordDepth,
                config.maxPullLimit, Math.min(500, config.maxPullLimit));
        AtomicReference<Server> jetty = new AtomicReference<>();
        Javalin created = Javalin.create(javalin -> {
            javalin.showJavalinBanner = false;
            javalin.http.maxRequestSize = config.maxBodyBytes;
            javalin.http.prefer405over404 = true;
            // Answers over 1.5 KB go gzipped to clients that accept it (pull pages shrink 5-10x),
            // at deflate's fastest level: on a page of notes it takes about a third of level 4's
            // time for about a tenth more bytes.
            javalin.http.gzipOnlyCompression(1);
            javalin.jetty.defaultHost = config.host;
            javalin.jetty.defaultPort = config.port;
            // Room for the largest token the protocol allows; what Jetty refuses itself is answered as JSON.
            javalin.jetty.modifyHttpConfiguration(http -> http.setRequestHeaderSize(JettyErrors.MAX_REQUEST_HEADER_BYTES));
            // Javalin adds its connectors when it starts, just before Jetty starts accepting.
            javalin.jetty.modifyServer(server -> {
                server.setErrorHandler(new JettyErrors());
                jetty.set(server);
            });
            javalin.events(events -> events.serverStarting(() -> requests.watch(jetty.get())));
        });
        api = new HttpApi(store, tokens, limits, metrics, config.policies);
        api.install(created);
        try {
            created.start(config.host, config.port);
        } catch (RuntimeException e) {
            api.close();
            store.close();
            throw new IllegalStateException("cannot listen on " + config.host + ":" + config.port + ": " + e.getMessage(), e);
        }
        app = created;
        return this;
    }

    /** The port the server listens on (the chosen one when built with port 0). */
    public int port() {
        requireStarted();
        return app.port();
    }

    /** The base URL clients use, for example {@code http://127.0.0.1:8080}. */
    public String url() {
        String host = config.host.equals("0.0.0.0") ? "localhost" : config.host;
        return "http://" + (host.contains(":") ? "[" + host + "]" : host) + ":" + port();
    }

    /** The tokens this server accepts; issue one per user. */
    public Tokens tokens() {
        return tokens;
    }

    /**
     * Stops accepting requests, lets the running ones finish (up to the shutdown timeout,
     * default 30 s) and closes the database. From the start of the stop, {@code /health} and
     * {@code /health/ready} answer 503 so that a load balancer sends new requests elsewhere.
     */
    @Override
    public synchronized void close() {
        if (app != null) {
            // Refuse new requests (503), let those in flight finish, then stop listening.
            api.shutDown();
            // A request ends once its answer is written, after the handler returned.
            if (!api.awaitIdle(config.shutdownTimeout, requests::count)) {
                LOG.warn("requests still running after {}; stopping anyway (an unanswered push is sent again by its device)",
                        config.shutdownTimeout);
            }
            app.stop();
            app = null;
            api.close();
        }
        if (store != null) {
            store.close();
            store = null;
        }
    }

    private void requireStarted() {
        if (app == null) {
            throw new IllegalStateException("server not started");
        }
    }

    private record Config(String host, int port, Path dataDir, String jdbcUrl, int poolSize, int maxBodyBytes, int maxOpsPerPush,
            int maxRecordBytes, int maxRecordDepth, int maxPullLimit, Clock clock, Policies policies, RSAPublicKey rsaKey, String tokenIssuer,
            String tokenAudience, byte[] tokenSecret, Duration tokenClockSkew, Duration shutdownTimeout) {
        String databaseUrl() {
            return jdbcUrl != null ? jdbcUrl : "jdbc:sqlite:" + dataDir.resolve(DATABASE_FILE);
        }

        /** The database URL without a password, for messages. */
        String redactedDatabaseUrl() {
            return databaseUrl().replaceAll("(?i)(password=)[^&;]*", "$1***");
        }
    }

    /** Builds an {@link OutpostServer}; each setter checks its value at once. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 8080;
        private Path dataDir = Path.of("outpost-data");
        private String jdbcUrl;
        private int poolSize = 10;
        private RSAPublicKey rsaKey;
        private byte[] tokenSecret;
        private Duration shutdownTimeout = Duration.ofSeconds(30);
        private Duration tokenClockSkew = Tokens.DEFAULT_CLOCK_SKEW;
        private String tokenIssuer;
        private String tokenAudience;
        private int maxBodyBytes = 4 * 1024 * 1024;
        private int maxOpsPerPush = 1000;
        private int maxRecordBytes = 256 * 1024;
        private int maxRecordDepth = Wire.MAX_RECORD_DEPTH;
        private int maxPullLimit = 1000;
        private Clock clock = Clock.systemUTC();
        private ConflictPolicy defaultPolicy = ConflictPolicy.SERVER_WINS;
        private final Map<String, ConflictPolicy> policies = new HashMap<>();
        private final Map<String, Set<String>> counters = new HashMap<>();
        private final Map<String, NaturalKey> naturalKeys = new HashMap<>();

        private Builder() {
        }

        /**
         * How conflicts in {@code collection} are settled; collections without one use
         * {@link #defaultConflictPolicy} (SERVER_WINS unless set). MANUAL keeps the server's
         * record and stores the conflict for review ({@code GET /v1/conflicts}, settled by
         * {@code POST /v1/conflicts/{id}/resolve}).
         */
        public Builder conflictPolicy(String collection, ConflictPolicy policy) {
            if (!Names.isValidCollection(collection)) {
                throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
            }
            policies.put(collection, Objects.requireNonNull(policy, "policy"));
            return this;
        }

        /**
         * Makes a CREATE in {@code collection} that matches a live record by {@code key} a
         * duplicate of it: answered DUPLICATE with that record (its id), nothing created.
         */
        public Builder naturalKey(String collection, NaturalKey key) {
            if (!Names.isValidCollection(collection)) {
                throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
            }
            naturalKeys.put(collection, Objects.requireNonNull(key, "key"));
            return this;
        }

        /**
         * Applies a configuration file (JSON: host, port, database, limits, conflict policies,
         * counters and natural keys per collection; see the project's docs/SERVER.md).
         *
         * @throws IllegalArgumentException naming the file and field at fault
         */
        public Builder configFile(Path file) {
            ConfigFile.apply(Objects.requireNonNull(file, "file"), this);
            return this;
        }

        /**
         * Applies environment overrides: OUTPOST_HOST, OUTPOST_PORT, OUTPOST_DATA_DIR,
         * OUTPOST_DB, OUTPOST_DB_POOL_SIZE, OUTPOST_JWT_SECRET or OUTPOST_JWT_SECRET_FILE
         * (see {@link #tokenSecret}), OUTPOST_JWT_PUBLIC_KEY_FILE (with OUTPOST_JWT_ISSUER and
         * OUTPOST_JWT_AUDIENCE), OUTPOST_MAX_BODY_BYTES, OUTPOST_MAX_OPS_PER_PUSH,
         * OUTPOST_MAX_RECORD_BYTES, OUTPOST_MAX_RECORD_DEPTH, OUTPOST_MAX_PULL_LIMIT,
         * OUTPOST_JWT_CLOCK_SKEW_SECONDS. Other variables are ignored. Each
         * one set replaces what the configuration file said.
         *
         * @throws IllegalArgumentException naming the variable at fault (never showing a
         *     secret's value), or if more than one way of checking tokens is set
         */
        public Builder environment(Map<String, String> environment) {
            List<String> keys = TOKEN_KEYS.stream().filter(environment::containsKey).toList();
            if (keys.size() > 1) {
                throw new IllegalArgumentException("environment variables " + String.join(" and ", keys)
                        + " are both set; tokens are checked with one secret or one identity provider's key, so set only one");
            }
            for (Map.Entry<String, String> entry : environment.entrySet()) {
                String value = entry.getValue();
                try {
                    switch (entry.getKey()) {
                        case "OUTPOST_HOST" -> host(value);
                        case "OUTPOST_PORT" -> port(Integer.parseInt(value.trim()));
                        case "OUTPOST_DATA_DIR" -> dataDir(Path.of(value));
                        case "OUTPOST_DB" -> databaseUrl(value);
                        case "OUTPOST_DB_POOL_SIZE" -> databasePoolSize(Integer.parseInt(value.trim()));
                        case "OUTPOST_JWT_SECRET" -> tokenSecret(value);
                        case "OUTPOST_JWT_SECRET_FILE" -> tokenSecretFile(Path.of(value));
                        case "OUTPOST_JWT_PUBLIC_KEY_FILE" -> tokenPublicKey(Path.of(value),
                                required(environment, "OUTPOST_JWT_ISSUER"), required(environment, "OUTPOST_JWT_AUDIENCE"));
                        case "OUTPOST_MAX_BODY_BYTES" -> maxBodyBytes(Integer.parseInt(value.trim()));
                        case "OUTPOST_MAX_OPS_PER_PUSH" -> maxOpsPerPush(Integer.parseInt(value.trim()));
                        case "OUTPOST_MAX_RECORD_BYTES" -> maxRecordBytes(Integer.parseInt(value.trim()));
                        case "OUTPOST_MAX_RECORD_DEPTH" -> maxRecordDepth(Integer.parseInt(value.trim()));
                        case "OUTPOST_MAX_PULL_LIMIT" -> maxPullLimit(Integer.parseInt(value.trim()));
                        case "OUTPOST_JWT_CLOCK_SKEW_SECONDS" -> tokenClockSkew(Duration.ofSeconds(Integer.parseInt(value.trim())));
                        default -> {
                            // not ours
                        }
                    }
                } catch (IllegalArgumentException e) {
                    String shown = entry.getKey().equals("OUTPOST_JWT_SECRET") ? "" : "='" + value + "'";
                    throw new IllegalArgumentException("environment variable " + entry.getKey() + shown + " is not valid: "
                            + (e instanceof NumberFormatException ? "not a whole number" : e.getMessage()), e);
                }
            }
            return this;
        }

        /** The variables that each choose how tokens are checked; at most one may be set. */
        private static final List<String> TOKEN_KEYS = List.of("OUTPOST_JWT_SECRET", "OUTPOST_JWT_SECRET_FILE",
                "OUTPOST_JWT_PUBLIC_KEY_FILE");

        private static String required(Map<String, String> environment, String name) {
            String value = environment.get(name);
            if (value == null || value.isBlank()) {
                throw new IllegalArgumentException("it needs " + name + " set as well");
            }
            return value;
        }

        /** The policy of collections that name none; default SERVER_WINS. */
        public Builder defaultConflictPolicy(ConflictPolicy policy) {
            this.defaultPolicy = Objects.requireNonNull(policy, "policy");
            return this;
        }

        /**
         * Fields of {@code collection} that hold counts: under MERGE both sides' increments add
         * up instead of one side's value winning.
         */
        public Builder counterFields(String collection, String... fields) {
            if (!Names.isValidCollection(collection)) {
                throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
            }
            if (fields.length == 0) {
                throw new IllegalArgumentException("name at least one counter field of " + collection);
            }
            for (String field : fields) {
                if (field == null || field.isBlank()) {
                    throw new IllegalArgumentException("a counter field name of " + collection + " is blank");
                }
                counters.computeIfAbsent(collection, c -> new HashSet<>()).add(field);
            }
            return this;
        }

        /** The address to listen on; {@code 0.0.0.0} for all interfaces. Default 127.0.0.1. */
        public Builder host(String host) {
            if (host == null || host.isBlank()) {
                throw new IllegalArgumentException("host must not be blank");
            }
            this.host = host;
            return this;
        }

        /** The port to listen on, 0 for any free one. Default 8080. */
        public Builder port(int port) {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("port must be from 0 to 65535, got " + port);
            }
            this.port = port;
            return this;
        }

        /** The directory for the signing secret and the embedded database. Default {@code ./outpost-data}. */
        public Builder dataDir(Path dataDir) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
            return this;
        }

        /**
         * The database, as a JDBC URL; null (the default) for {@code outpost.db} in the data
         * directory. {@code jdbc:sqlite:FILE} keeps an SQLite file;
         * {@code jdbc:postgresql://HOST[:PORT]/DATABASE?user=U&password=P} uses PostgreSQL,
         * which several server nodes may share.
         */
        public Builder databaseUrl(String jdbcUrl) {
            if (jdbcUrl != null && !jdbcUrl.startsWith("jdbc:sqlite:") && !jdbcUrl.startsWith("jdbc:postgresql:")) {
                throw new IllegalArgumentException("unsupported database URL '" + jdbcUrl.replaceAll("(?i)(password=)[^&;]*", "$1***")
                        + "': the server stores data in SQLite (jdbc:sqlite:FILE) or PostgreSQL (jdbc:postgresql://HOST[:PORT]/DATABASE)");
            }
            this.jdbcUrl = jdbcUrl;
            return this;
        }

        /**
         * Accepts the RS256 tokens of an identity provider instead of issuing its own: they are
         * verified with the RSA public key in {@code pemFile} ({@code -----BEGIN PUBLIC KEY-----})
         * and must carry this issuer and audience. HS256 tokens are then refused, and
         * {@link Tokens#issue} is not available. Replaces a {@link #tokenSecret} set before.
         *
         * @throws IllegalArgumentException if the file holds no RSA public key of 2048 bits or more,
         *     or issuer or audience is blank
         */
        public Builder tokenPublicKey(Path pemFile, String issuer, String audience) {
            RSAPublicKey key = Tokens.readRsaPublicKey(Objects.requireNonNull(pemFile, "pemFile"));
            Tokens.withRsaPublicKey(key, issuer, audience, clock);
            this.rsaKey = key;
            this.tokenIssuer = issuer;
            this.tokenAudience = audience;
            this.tokenSecret = null;
            return this;
        }

        /**
         * Signs and checks HS256 tokens with this secret instead of {@code secret.key} in the
         * data directory, so that nodes share a secret through their configuration. The secret
         * is written as {@code secret.key} holds it: base64 of at least 32 bytes (for example
         * the output of {@code openssl rand -base64 32}). Replaces an identity provider's key
         * set before. Messages about a bad secret never show it.
         *
         * @throws IllegalArgumentException if the secret is blank, not base64, or shorter than
         *     32 bytes once decoded
         */
        public Builder tokenSecret(String base64) {
            if (base64 == null || base64.isBlank()) {
                throw new IllegalArgumentException("the HMAC token secret is empty; give the base64 of at least 32 random bytes"
                        + " (for example the output of: openssl rand -base64 32)");
            }
            byte[] secret;
            try {
                secret = java.util.Base64.getDecoder().decode(base64.trim());
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("the HMAC token secret is not base64; give the base64 of at least 32 random bytes"
                        + " (for example the output of: openssl rand -base64 32)");
            }
            if (secret.length < 32) {
                throw new IllegalArgumentException("the HMAC token secret is " + secret.length
                        + " bytes once decoded; HS256 needs at least 32 (for example the output of: openssl rand -base64 32)");
            }
            this.tokenSecret = secret;
            this.rsaKey = null;
            this.tokenIssuer = null;
            this.tokenAudience = null;
            return this;
        }

        /**
         * As {@link #tokenSecret(String)}, with the secret read from {@code file} (base64, as in
         * {@code secret.key}; surrounding white space is ignored).
         *
         * @throws IllegalArgumentException naming the file, if it cannot be read or does not
         *     hold a valid secret
         */
        public Builder tokenSecretFile(Path file) {
            Objects.requireNonNull(file, "file");
            String text;
            try {
                text = Files.readString(file, java.nio.charset.StandardCharsets.US_ASCII);
            } catch (IOException | UncheckedIOException e) {
                throw new IllegalArgumentException("cannot read the HMAC token secret file " + file + ": " + e.getMessage(), e);
            }
            try {
                return tokenSecret(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("the file " + file + " does not hold a usable secret: " + e.getMessage(), e);
            }
        }

        /** The most connections to a PostgreSQL database this server opens at once. Default 10. */
        public Builder databasePoolSize(int connections) {
            this.poolSize = positive("databasePoolSize", connections);
            return this;
        }

        /** The largest request body accepted, in bytes. Default 4 MiB. */
        public Builder maxBodyBytes(int bytes) {
            this.maxBodyBytes = positive("maxBodyBytes", bytes);
            return this;
        }

        /** The most ops one push may carry. Default 1000. */
        public Builder maxOpsPerPush(int ops) {
            this.maxOpsPerPush = positive("maxOpsPerPush", ops);
            return this;
        }

        /**
         * The largest record, in bytes of JSON: a CREATE carrying more, or an UPDATE that
         * would make the record larger, is rejected. Default 256 KiB.
         */
        public Builder maxRecordBytes(int bytes) {
            this.maxRecordBytes = positive("maxRecordBytes", bytes);
            return this;
        }

        /**
         * The deepest nesting of JSON objects and arrays a record may have (the record object
         * itself is level 1): a CREATE or UPDATE whose data nests deeper is rejected
         * RECORD_TOO_DEEP, as is a MERGED resolution. From 1 to {@value Wire#MAX_RECORD_DEPTH},
         * the default: deeper records would not fit every protocol message within
         * {@value Wire#MAX_DEPTH} levels, which clients refuse beyond.
         */
        public Builder maxRecordDepth(int levels) {
            if (levels < 1 || levels > Wire.MAX_RECORD_DEPTH) {
                throw new IllegalArgumentException("maxRecordDepth must be from 1 to " + Wire.MAX_RECORD_DEPTH
                        + " (a message carrying a record must stay within the protocol's " + Wire.MAX_DEPTH + " levels), got " + levels);
            }
            this.maxRecordDepth = levels;
            return this;
        }

        /** The most changes one pull returns; a pull asking for more gets this many. Default 1000. */
        public Builder maxPullLimit(int changes) {
            this.maxPullLimit = positive("maxPullLimit", changes);
            return this;
        }

        /** How long {@link OutpostServer#close} waits for requests in flight to finish. Default 30 s. */
        public Builder shutdownTimeout(Duration timeout) {
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("shutdownTimeout must be positive, got " + timeout);
            }
            this.shutdownTimeout = timeout;
            return this;
        }

        /**
         * How far past its {@code exp}, and before its {@code nbf}, a token is still taken, for
         * clocks of the token's issuer and this server that disagree a little: whole seconds
         * from 0 (none) to {@link Tokens#MAX_CLOCK_SKEW}. Default {@link Tokens#DEFAULT_CLOCK_SKEW}.
         */
        public Builder tokenClockSkew(Duration skew) {
            if (skew == null || skew.isNegative() || skew.compareTo(Tokens.MAX_CLOCK_SKEW) > 0 || skew.getNano() != 0) {
                throw new IllegalArgumentException("tokenClockSkew must be whole seconds from 0 to "
                        + Tokens.MAX_CLOCK_SKEW.toSeconds() + " s, got " + (skew == null ? null : skew.toMillis() / 1000.0 + " s"));
            }
            this.tokenClockSkew = skew;
            return this;
        }

        /** The clock for token expiry and stored times. Default the system clock. */
        public Builder clock(Clock clock) {
            this.clock = Objects.requireNonNull(clock, "clock");
            return this;
        }

        /**
         * A server with this configuration, not yet started; creates the data directory and
         * signing secret if they do not exist.
         */
        public OutpostServer build() {
            try {
                Files.createDirectories(dataDir);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot create the data directory " + dataDir + ": " + e.getMessage(), e);
            }
            Map<String, Set<String>> counterSets = new HashMap<>();
            counters.forEach((collection, fields) -> counterSets.put(collection, Set.copyOf(fields)));
            return new OutpostServer(new Config(host, port, dataDir, jdbcUrl, poolSize, maxBodyBytes, maxOpsPerPush,
                    maxRecordBytes, maxRecordDepth, maxPullLimit, clock, new Policies(policies, defaultPolicy, counterSets, naturalKeys), rsaKey,
                    tokenIssuer, tokenAudience, tokenSecret, tokenClockSkew, shutdownTimeout));
        }

        private static int positive(String name, int value) {
            if (value < 1) {
                throw new IllegalArgumentException(name + " must be at least 1, got " + value);
            }
            return value;
        }
    }
}
