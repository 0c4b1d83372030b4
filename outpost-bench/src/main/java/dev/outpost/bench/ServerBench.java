package dev.outpost.bench;

import static dev.outpost.bench.Measure.rate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.Ids;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.server.OutpostServer;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * {@code outpost bench server}: the sync server's push and pull over real HTTP on loopback,
 * on SQLite and on PostgreSQL, beside each database's own durable-commit rates.
 *
 * <p>For each store and each device count: a fresh server (a fresh data directory, and for
 * PostgreSQL a fresh schema in the embedded PostgreSQL 14 with {@code fsync} and
 * {@code synchronous_commit} on), warm-up rounds of pushes and pulls by other users until the
 * JIT compiler is quiet (see {@link Measure#warmUp}), then {@code devices} threads, one per
 * device, each pushing its share of the ops in batches (by default {@value #BATCH}) of CREATEs of small
 * notes (about 250 bytes of JSON, op ids as the client makes them) and waiting for each
 * answer before the next. Request bodies are built before the clock starts, so the load generator's JSON
 * writing is not measured; the server and the load generator still share the machine's
 * cores. Then one reader pulls everything the user has in pages of {@value #PULL_PAGE}.
 *
 * <p>Every device belongs to one user, so that the pull reads all of them. A push that is
 * not answered 200, or is answered with an op not APPLIED, counts as a failed push, and its
 * ops are not counted as pushed.
 */
public final class ServerBench {
    /** Ops per push request unless another size is given; also the rows per commit of the databases' own figure. */
    public static final int BATCH = 100;
    /** The most ops one push request may hold here (the server's default limit). */
    public static final int MAX_BATCH = 1000;
    /** Changes per pull request (the server's default largest page). */
    public static final int PULL_PAGE = 1000;
    /** The most concurrent devices one configuration may run. */
    public static final int MAX_DEVICES = 1024;

    private static final String USER = "bench";
    private static final String WARMUP_USER = "warmup";
    private static final long CREATED_BASE = Instant.parse("2026-11-23T08:00:00Z").toEpochMilli();
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(120);

    /** The databases the server can run on. */
    public enum Store {
        /** The embedded default: an SQLite file in WAL mode with {@code synchronous=FULL}. */
        SQLITE("sqlite"),
        /** The embedded PostgreSQL 14, durable ({@code fsync=on}, {@code synchronous_commit=on}). */
        POSTGRESQL("postgresql");

        private final String label;

        Store(String label) {
            this.label = label;
        }

        /** The store's name on the command line and in results: {@code sqlite} or {@code postgresql}. */
        public String label() {
            return label;
        }

        /** The store named {@code label}, or null if there is none. */
        public static Store of(String label) {
            for (Store store : values()) {
                if (store.label.equals(label)) {
                    return store;
                }
            }
            return null;
        }
    }

    private final Path work;
    private final int ops;
    private final int batch;
    private final List<Integer> deviceCounts;
    private final List<Store> stores;
    private final PrintStream progress;
    private final BenchDatabases databases = new BenchDatabases(this::say);

    /**
     * @param work an empty directory for the servers' data
     * @param ops ops pushed per configuration; rounded up so every device pushes whole batches
     * @param batch ops per push request, from 1 to {@value #MAX_BATCH}
     * @param deviceCounts the numbers of concurrent devices to run, each from 1 to {@value #MAX_DEVICES}
     * @param stores the databases to run the server on
     * @param progress where to say what runs
     */
    public ServerBench(Path work, int ops, int batch, List<Integer> deviceCounts, List<Store> stores, PrintStream progress) {
        if (ops < 1) {
            throw new IllegalArgumentException("ops must be at least 1, got " + ops);
        }
        if (batch < 1 || batch > MAX_BATCH) {
            throw new IllegalArgumentException("a batch must hold from 1 to " + MAX_BATCH + " ops, got " + batch);
        }
        for (int devices : deviceCounts) {
            if (devices < 1 || devices > MAX_DEVICES) {
                throw new IllegalArgumentException("a device count must be from 1 to " + MAX_DEVICES + ", got " + devices);
            }
        }
        this.work = work;
        this.ops = ops;
        this.batch = batch;
        this.deviceCounts = List.copyOf(deviceCounts);
        this.stores = List.copyOf(stores);
        this.progress = progress;
    }

    /** Runs every configuration and returns its figures, store by store. */
    public List<BenchResult> run() throws Exception {
        List<BenchResult> results = new ArrayList<>();
        for (Store store : stores) {
            results.addAll(databaseFloor(store));
            for (int devices : deviceCounts) {
                results.addAll(configuration(store, devices));
            }
        }
        return results;
    }

    /** The database's own durable commit rates for rows like the server's, without the server. */
    private List<BenchResult> databaseFloor(Store store) throws Exception {
        int single = Math.max(100, Math.min(2000, ops / 50));
        int batched = BATCH * Math.max(10, Math.min(500, ops / 2 / BATCH));
        String url = store == Store.POSTGRESQL ? databases.freshPostgresUrl()
                : "jdbc:sqlite:" + work.resolve("floor-sqlite.db");
        say(store.label() + ": " + single + " single-row durable commits, then " + batched + " rows in commits of " + BATCH
                + ", over plain JDBC (" + (store == Store.POSTGRESQL ? "fsync=on, synchronous_commit=on" : "WAL, synchronous=FULL") + ")");
        List<BenchResult> results = new ArrayList<>();
        try (Connection db = DriverManager.getConnection(url)) {
            try (Statement statement = db.createStatement()) {
                if (store == Store.SQLITE) {
                    statement.execute("PRAGMA journal_mode = WAL");
                    statement.execute("PRAGMA synchronous = FULL");
                }
                statement.execute("CREATE TABLE floor (id TEXT PRIMARY KEY, data TEXT NOT NULL)");
            }
            db.setAutoCommit(false);
            try (PreparedStatement insert = db.prepareStatement("INSERT INTO floor (id, data) VALUES (?, ?)")) {
                long start = System.nanoTime();
                for (int n = 0; n < single; n++) {
                    insert.setString(1, "s" + n);
                    insert.setString(2, Wire.write(note(0, n)));
                    insert.executeUpdate();
                    db.commit();
                }
                results.add(new BenchResult("durable insert of a ~250 B row, one commit each, 1 writer", store.label(),
                        rate(single, start), "commits/s"));
                start = System.nanoTime();
                for (int n = 0; n < batched; n++) {
                    insert.setString(1, "b" + n);
                    insert.setString(2, Wire.write(note(0, n)));
                    insert.addBatch();
                    if ((n + 1) % BATCH == 0) {
                        insert.executeBatch();
                        db.commit();
                    }
                }
                results.add(new BenchResult("durable insert of ~250 B rows, " + BATCH + " per commit, 1 writer", store.label(),
                        rate(batched, start), "rows/s"));
            }
        } finally {
            if (store == Store.POSTGRESQL) {
                databases.drop(url);
            }
        }
        return results;
    }

    private List<BenchResult> configuration(Store store, int devices) throws Exception {
        int batchesPerDevice = Math.max(1, (ops + devices * batch - 1) / (devices * batch));
        long total = (long) devices * batchesPerDevice * batch;
        String system = "outpost-" + store.label();
        String url = store == Store.POSTGRESQL ? databases.freshPostgresUrl() : null;
        Path dataDir = work.resolve("server-" + store.label() + "-" + devices);
        say(system + ": " + devices + " device(s) pushing " + total + " ops in batches of " + batch + " ("
                + batchesPerDevice + " per device), then one reader pulling them");
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(dataDir).databaseUrl(url).build().start();
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        try {
            Api api = new Api(http, server.url());
            warmUp(api, server, devices);

            String token = server.tokens().issue(USER, Duration.ofHours(6));
            byte[][][] bodies = bodies(devices, batchesPerDevice);
            reportBackgroundLoad();
            PushRun push = push(api, token, bodies);
            say(String.format(Locale.ROOT, "  pushed %,d ops in %.2f s: %,.0f ops/s, p50 %.1f ms, p99 %.1f ms per push; "
                            + "busy cores: %.1f this JVM, %s the machine (of %d); %d failed push(es)%s",
                    push.applied, push.seconds, push.applied / push.seconds, push.percentile(0.50), push.percentile(0.99),
                    push.cpuSeconds / push.seconds, push.machineBusyCores < 0 ? "?" : String.format(Locale.ROOT, "%.1f",
                            push.machineBusyCores), Runtime.getRuntime().availableProcessors(), push.failed,
                    push.firstFailure == null ? "" : " (first: " + push.firstFailure + ")"));

            long pullStart = System.nanoTime();
            long pulled = api.pullAll(token);
            double pullSeconds = (System.nanoTime() - pullStart) / 1e9;
            say(String.format(Locale.ROOT, "  pulled %,d changes in %.2f s: %,.0f changes/s", pulled, pullSeconds,
                    pulled / pullSeconds));
            if (pulled != push.applied) {
                say("  WARNING: pulled " + pulled + " changes but " + push.applied + " ops were applied");
            }

            String name = "push, " + devices + (devices == 1 ? " device" : " devices") + ", batches of " + batch;
            List<BenchResult> results = new ArrayList<>();
            results.add(new BenchResult(name, system, push.applied / push.seconds, "ops/s"));
            results.add(new BenchResult(name, system, push.percentile(0.50), "ms p50"));
            results.add(new BenchResult(name, system, push.percentile(0.99), "ms p99"));
            results.add(new BenchResult(name, system, push.failed, "failed pushes"));
            results.add(new BenchResult("pull after the push of " + devices + (devices == 1 ? " device" : " devices")
                    + ", pages of " + PULL_PAGE, system, pulled / pullSeconds, "changes/s"));
            return results;
        } finally {
            server.close();
            if (url != null) {
                databases.drop(url);
            }
        }
    }

    /**
     * Runs the server's push and pull paths for a moment as another user, so the measurement
     * that follows does not include the JIT compiling them.
     */
    private void warmUp(Api api, OutpostServer server, int devices) throws Exception {
        int warmDevices = Math.min(devices, 16);
        int warmOps = Math.max(batch, Math.min(5000, ops / 5));
        int batches = Math.max(1, warmOps / batch / warmDevices);
        long[] pushed = new long[1];
        Measure.WarmUp warmUp = Measure.warmUp(round -> {
            // A user per round, so each round pulls only its own changes.
            String token = server.tokens().issue(WARMUP_USER + "-" + round, Duration.ofHours(1));
            byte[][][] bodies = new byte[warmDevices][batches][];
            for (int d = 0; d < warmDevices; d++) {
                bodies[d] = deviceBodies("warmup-" + round + "-" + d, d, batches);
            }
            PushRun run = push(api, token, bodies);
            if (run.failed > 0) {
                say("  warm-up: " + run.failed + " failed push(es) (first: " + run.firstFailure + ")");
            }
            pushed[0] += run.applied;
            api.pullAll(token);
        });
        say(String.format(Locale.ROOT, "  warm-up by other users: %,d ops pushed and pulled in %s", pushed[0], warmUp.describe()));
    }

    private byte[][][] bodies(int devices, int batchesPerDevice) {
        byte[][][] bodies = new byte[devices][][];
        for (int d = 0; d < devices; d++) {
            bodies[d] = deviceBodies("device-" + d, d, batchesPerDevice);
        }
        return bodies;
    }

    /**
     * One device's push request bodies, each a batch of CREATEs of new notes, with op ids made
     * as Outpost's client makes them (UUID version 7, so later ops sort later).
     */
    private byte[][] deviceBodies(String deviceId, int device, int batches) {
        Hlc hlc = Hlc.create(deviceId, System::currentTimeMillis, null);
        byte[][] bodies = new byte[batches][];
        int n = 0;
        for (int b = 0; b < batches; b++) {
            List<Operation> ops = new ArrayList<>(batch);
            for (int i = 0; i < batch; i++, n++) {
                ops.add(new Operation(Ids.uuidV7(), "notes", deviceId + "-n" + n, OpType.CREATE, null,
                        note(device, n), hlc.now(), Priority.NORMAL));
            }
            bodies[b] = Wire.writeBytes(new PushRequest(deviceId, ops));
        }
        return bodies;
    }

    /** A small note, about 250 bytes of JSON: the common record of a notes or tasks app. */
    static ObjectNode note(int device, int n) {
        ObjectNode note = Wire.mapper().createObjectNode();
        note.put("title", "Call the plumber about the kitchen sink (" + n + ")");
        note.put("body", "He said Tuesday after 3 pm works; ask about the quote for the new tap and whether the parts are in stock.");
        note.put("done", n % 3 == 0);
        note.putArray("tags").add("home").add(n % 2 == 0 ? "urgent" : "later");
        note.put("createdAt", Instant.ofEpochMilli(CREATED_BASE + n * 60_000L).toString());
        note.put("author", "device-" + device);
        return note;
    }

    /**
     * Says how busy the machine is while this benchmark waits: other processes' load makes
     * the figures that follow lower, and the reader should know.
     */
    private void reportBackgroundLoad() throws InterruptedException {
        gc();
        long[] before = MachineCpu.ticks();
        Thread.sleep(500);
        double busy = MachineCpu.busyCores(before, MachineCpu.ticks());
        if (busy >= 0) {
            say(String.format(Locale.ROOT, "  idle machine before the push: %.2f cores busy%s", busy,
                    busy > 0.25 ? " (other processes are running: the figures below are lower than on a quiet machine)" : ""));
        }
    }

    /** Each device on its own thread sends its bodies in order, one request in flight per device. */
    private PushRun push(Api api, String token, byte[][][] bodies) throws Exception {
        int devices = bodies.length;
        int perDevice = bodies[0].length;
        long[] latencies = new long[devices * perDevice];
        Arrays.fill(latencies, -1);
        AtomicLong applied = new AtomicLong();
        AtomicLong failed = new AtomicLong();
        AtomicReference<String> firstFailure = new AtomicReference<>();
        ExecutorService pool = Executors.newFixedThreadPool(devices);
        try {
            CountDownLatch ready = new CountDownLatch(devices);
            CountDownLatch go = new CountDownLatch(1);
            List<Future<?>> done = new ArrayList<>(devices);
            for (int d = 0; d < devices; d++) {
                int device = d;
                done.add(pool.submit(() -> {
                    ready.countDown();
                    go.await();
                    for (int b = 0; b < perDevice; b++) {
                        long start = System.nanoTime();
                        String failure;
                        int ok = 0;
                        try {
                            HttpResponse<byte[]> response = api.push(token, bodies[device][b]);
                            latencies[device * perDevice + b] = System.nanoTime() - start;
                            if (response.statusCode() != 200) {
                                failure = "HTTP " + response.statusCode() + " " + abbreviate(response.body());
                            } else {
                                PushResponse answer = Wire.read(response.body(), PushResponse.class);
                                for (OpResult result : answer.results()) {
                                    if (result.status() == OpStatus.APPLIED) {
                                        ok++;
                                    }
                                }
                                failure = ok == batch ? null : (batch - ok) + " of " + batch + " ops not APPLIED, e.g. "
                                        + answer.results().stream().filter(r -> r.status() != OpStatus.APPLIED).findFirst()
                                                .map(Wire::write).orElse("(no result for them)");
                            }
                        } catch (IOException e) {
                            latencies[device * perDevice + b] = System.nanoTime() - start;
                            failure = e.getClass().getSimpleName() + ": " + e.getMessage();
                        }
                        if (failure == null) {
                            applied.addAndGet(ok);
                        } else {
                            failed.incrementAndGet();
                            firstFailure.compareAndSet(null, failure);
                        }
                    }
                    return null;
                }));
            }
            ready.await();
            long cpuStart = processCpuNanos();
            long[] machineStart = MachineCpu.ticks();
            long start = System.nanoTime();
            go.countDown();
            for (Future<?> future : done) {
                future.get();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            double cpuSeconds = (processCpuNanos() - cpuStart) / 1e9;
            double machineBusy = MachineCpu.busyCores(machineStart, MachineCpu.ticks());
            return new PushRun(applied.get(), failed.get(), firstFailure.get(), seconds, cpuSeconds, machineBusy, latencies);
        } finally {
            pool.shutdownNow();
        }
    }

    /** What one push run measured. */
    private static final class PushRun {
        final long applied;
        final long failed;
        final String firstFailure;
        final double seconds;
        final double cpuSeconds;
        /** Cores busy on the whole machine (the database's processes too), or -1 if unknown. */
        final double machineBusyCores;
        private final long[] sortedLatencies;

        PushRun(long applied, long failed, String firstFailure, double seconds, double cpuSeconds, double machineBusyCores,
                long[] latencies) {
            this.applied = applied;
            this.failed = failed;
            this.firstFailure = firstFailure;
            this.seconds = seconds;
            this.cpuSeconds = cpuSeconds;
            this.machineBusyCores = machineBusyCores;
            this.sortedLatencies = Arrays.stream(latencies).filter(l -> l >= 0).sorted().toArray();
        }

        /** The nearest-rank percentile of the requests' latencies, in milliseconds. */
        double percentile(double p) {
            if (sortedLatencies.length == 0) {
                return Double.NaN;
            }
            int rank = (int) Math.ceil(p * sortedLatencies.length);
            return sortedLatencies[Math.max(0, rank - 1)] / 1e6;
        }
    }

    /** Protocol v1 over one HTTP client. */
    private static final class Api {
        private final HttpClient http;
        private final String base;

        Api(HttpClient http, String base) {
            this.http = http;
            this.base = base;
        }

        HttpResponse<byte[]> push(String token, byte[] body) throws IOException, InterruptedException {
            HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/push"))
                    .timeout(REQUEST_TIMEOUT)
                    .header("Authorization", "Bearer " + token)
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                    .build();
            return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
        }

        /** Pulls every change the token's user has, page by page, and returns how many there were. */
        long pullAll(String token) throws IOException, InterruptedException {
            long count = 0;
            String cursor = null;
            boolean more = true;
            while (more) {
                String query = "limit=" + PULL_PAGE + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
                HttpRequest request = HttpRequest.newBuilder(URI.create(base + "/v1/pull?" + query))
                        .timeout(REQUEST_TIMEOUT)
                        .header("Authorization", "Bearer " + token)
                        .GET()
                        .build();
                HttpResponse<byte[]> response = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
                if (response.statusCode() != 200) {
                    throw new IllegalStateException("pull after " + count + " changes was answered HTTP " + response.statusCode()
                            + ": " + abbreviate(response.body()));
                }
                PullResponse page = Wire.read(response.body(), PullResponse.class);
                count += page.changes().size();
                cursor = page.cursor();
                more = page.hasMore();
            }
            return count;
        }
    }

    private void say(String line) {
        progress.println("  " + line);
        progress.flush();
    }

    private static String abbreviate(byte[] body) {
        String text = new String(body, StandardCharsets.UTF_8);
        return text.length() > 200 ? text.substring(0, 200) + "..." : text;
    }

    private static long processCpuNanos() {
        if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
            return os.getProcessCpuTime();
        }
        return 0;
    }


    private static void gc() {
        for (int i = 0; i < 2; i++) {
            System.gc();
        }
    }
}
