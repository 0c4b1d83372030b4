package dev.outpost.bench;

import static dev.outpost.bench.Measure.gc;
import static dev.outpost.bench.Measure.rate;
import static dev.outpost.bench.Measure.usedHeap;

import dev.outpost.client.Outpost;
import dev.outpost.client.OutpostConfig;
import dev.outpost.client.OutpostException;
import dev.outpost.client.Query;
import dev.outpost.client.SyncPolicy;
import dev.outpost.client.SyncResult;
import dev.outpost.client.TokenProvider;
import dev.outpost.client.Transport;
import dev.outpost.client.WriteBatch;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.TestServer;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.UnaryOperator;

/**
 * {@code outpost bench sync}: end to end, one device pushes {@code ops} queued writes to a
 * local server through the real client, and a second device with an empty store pulls them.
 *
 * <p>For each store (SQLite, or PostgreSQL 14 with {@code fsync} and {@code synchronous_commit}
 * on) and each pair of client sizes (the defaults, pushes of 100 ops and pull pages of 500; and
 * the largest the client and the server's defaults allow, 1000 and 1000): a fresh server on a
 * loopback port, warm-up rounds by other users until the JIT compiler is quiet, then
 * <ol>
 *   <li>device A queues {@code ops} new notes of about 250 bytes of JSON in durable write
 *       batches of {@value #WRITE_BATCH} (one fsync each), and is closed;
 *   <li>device A is opened again with all of them pending: the open time, and the heap the open
 *       keeps (after GC);
 *   <li>{@code A.sync()}: its push phase, from the call to the first pull request, is the push
 *       figure; the rest of the call is A pulling back its own changes, as every sync does;
 *   <li>device B, a new empty store of the same user, {@code B.sync()}: every change pulled
 *       and applied, the pull figure; B must then hold {@code ops} records.
 * </ol>
 * Queueing and opening do not depend on the server or the sizes, so they are reported from the
 * first round only (later rounds print theirs as progress). Device A talks to the server
 * through {@link Transport#http}, wrapped to time its calls: the share of its push spent
 * inside them (JSON and gzip of the request, HTTP on loopback, the server, reading the answer)
 * against its own work around them (reading the queue, recording results), and where its push
 * ends and its pull-back begins. A wrapped transport hands the sync each pulled page as a
 * {@code PullResponse}, which the built-in one does not (it keeps each record as the text the
 * server sent), so device B, whose pull is the pull figure, is configured as an app would be,
 * with {@code serverUrl} and the built-in transport, and its share in transport is not
 * measured. Server and client share the machine's cores.
 */
public final class SyncBench {
    /** Puts per durable write batch when queueing. */
    public static final int WRITE_BATCH = 1000;

    private static final String USER = "bench";
    private static final String WARMUP_USER = "warmup";
    private static final String COLLECTION = "notes";
    private static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(120);

    /** Ops per push request and changes per pull page, as set on the client. */
    public record Sizes(int push, int pull) {
        /** The client's defaults. */
        public static final Sizes DEFAULTS = new Sizes(100, 500);
        /** The largest the client allows, and the server's default limits. */
        public static final Sizes LARGEST = new Sizes(1000, 1000);

        String pushLabel() {
            return "batches of " + push;
        }

        String pullLabel() {
            return "pages of " + pull;
        }
    }

    private final Path work;
    private final int ops;
    private final List<ServerBench.Store> stores;
    private final List<Sizes> sizes;
    private final PrintStream progress;
    private int rounds;
    private final BenchDatabases databases = new BenchDatabases(this::say);

    /**
     * @param work an empty directory for the devices' stores
     * @param ops ops device A queues and pushes, and device B pulls
     * @param stores the databases to run the server on
     * @param progress where to say what runs
     */
    public SyncBench(Path work, int ops, List<ServerBench.Store> stores, PrintStream progress) {
        if (ops < 1) {
            throw new IllegalArgumentException("ops must be at least 1, got " + ops);
        }
        this.work = work;
        this.ops = ops;
        this.stores = List.copyOf(stores);
        this.sizes = List.of(Sizes.DEFAULTS, Sizes.LARGEST);
        this.progress = progress;
    }

    /** Runs every store and size pair and returns the figures, store by store. */
    public List<BenchResult> run() throws Exception {
        List<BenchResult> results = new ArrayList<>();
        for (ServerBench.Store store : stores) {
            for (Sizes size : sizes) {
                results.addAll(round(store, size, results.isEmpty()));
            }
        }
        return results;
    }

    private List<BenchResult> round(ServerBench.Store store, Sizes size, boolean first) throws Exception {
        String system = "outpost-" + store.label();
        String url = store == ServerBench.Store.POSTGRESQL ? databases.freshPostgresUrl() : null;
        UnaryOperator<dev.outpost.server.OutpostServer.Builder> configure = url == null ? UnaryOperator.identity()
                : builder -> builder.databaseUrl(url);
        Path dir = Files.createDirectories(work.resolve("sync-" + (++rounds) + "-" + store.label() + "-" + size.push()
                + "-" + size.pull()));
        say(system + ": one device pushes " + ops + " ops in " + size.pushLabel() + ", a new device pulls them in "
                + size.pullLabel());
        List<BenchResult> results = new ArrayList<>();
        try (TestServer server = TestServer.start(configure)) {
            warmUp(server, dir, size);

            Device a = new Device(server, dir.resolve("device-a.db"), size, USER);
            long start = System.nanoTime();
            a.queue(ops);
            double queueRate = rate(ops, start);
            say(String.format(Locale.ROOT, "  queued %,d ops in durable batches of %d: %,.0f ops/s", ops, WRITE_BATCH, queueRate));

            OutpostConfig config = a.config();
            gc();
            long heapBefore = usedHeap();
            start = System.nanoTime();
            try (Outpost opened = Outpost.open(config)) {
                double openMillis = (System.nanoTime() - start) / 1e6;
                gc();
                double retainedMb = Math.max(0, usedHeap() - heapBefore) / 1e6;
                say(String.format(Locale.ROOT, "  opened with %,d pending in %.1f ms (%,d pending by its count), "
                        + "heap retained %.1f MB", ops, openMillis, opened.pendingCount(), retainedMb));
                if (first) {
                    results.add(new BenchResult("durable enqueue of " + ops + " ops, write batches of " + WRITE_BATCH, "outpost",
                            queueRate, "ops/s"));
                    results.add(new BenchResult("open with " + ops + " pending ops", "outpost", openMillis, "ms"));
                    results.add(new BenchResult("heap retained after open with " + ops + " pending ops", "outpost",
                            retainedMb, "MB"));
                }

                reportBackgroundLoad();
                long[] machine = MachineCpu.ticks();
                start = System.nanoTime();
                SyncResult pushed = opened.sync();
                long end = System.nanoTime();
                double machineBusy = MachineCpu.busyCores(machine, MachineCpu.ticks());
                TimedTransport wire = a.transport;
                long pushEnd = wire.firstPullStart > 0 ? wire.firstPullStart : end;
                double pushSeconds = (pushEnd - start) / 1e9;
                double pushInTransport = share(wire.pushNanos, pushEnd - start);
                double echoSeconds = (end - pushEnd) / 1e9;
                double syncSeconds = (end - start) / 1e9;
                say(String.format(Locale.ROOT, "  A.sync(): pushed %,d ops in %.2f s: %,.0f ops/s (%d requests, %.0f%% of "
                                + "the time in them); then pulled back its own %,d changes in %.2f s (%,.0f changes/s, %.0f%% in "
                                + "%d requests); whole sync %.2f s, %s cores busy on the machine: %s",
                        pushed.pushed(), pushSeconds, pushed.pushed() / pushSeconds, wire.pushes, pushInTransport,
                        wire.pulledChanges, echoSeconds, wire.pulledChanges / echoSeconds, share(wire.pullNanos, end - pushEnd),
                        wire.pulls, syncSeconds, busy(machineBusy), describe(pushed)));
                check("A.sync()", pushed, pushed.status() == SyncResult.Status.COMPLETED && pushed.pushed() == ops
                        && pushed.applied() == ops && pushed.pending() == 0 && pushed.dead() == 0);
                results.add(new BenchResult("push of " + ops + " queued ops by one device, " + size.pushLabel(), system,
                        pushed.applied() / pushSeconds, "ops/s"));
                results.add(new BenchResult("push of " + ops + " queued ops by one device, " + size.pushLabel()
                        + ": time inside transport calls (JSON, HTTP, server)", system, pushInTransport, "%"));
                results.add(new BenchResult("whole sync of the pushing device (push, then its own " + ops
                        + " changes pulled back), " + size.pushLabel() + ", " + size.pullLabel(), system, syncSeconds, "s"));
            }

            Device b = new Device(server, dir.resolve("device-b.db"), size, USER, false);
            try (Outpost empty = b.open()) {
                gc();
                long[] machine = MachineCpu.ticks();
                start = System.nanoTime();
                SyncResult pulled = empty.sync();
                long elapsed = System.nanoTime() - start;
                double seconds = elapsed / 1e9;
                double machineBusy = MachineCpu.busyCores(machine, MachineCpu.ticks());
                int records = countRecords(empty);
                say(String.format(Locale.ROOT, "  B.sync() into an empty store: pulled %,d changes in %.2f s: %,.0f changes/s, "
                                + "%s cores busy on the machine; B holds %,d records: %s",
                        pulled.pulled(), seconds, pulled.pulled() / seconds, busy(machineBusy), records, describe(pulled)));
                check("B.sync()", pulled, pulled.status() == SyncResult.Status.COMPLETED && pulled.pulled() == ops
                        && records == ops);
                results.add(new BenchResult("pull of " + ops + " changes into an empty store, " + size.pullLabel(), system,
                        pulled.pulled() / seconds, "changes/s"));
            }
        } finally {
            if (url != null) {
                databases.drop(url);
            }
            QueueBench.deleteTree(dir);
        }
        return results;
    }

    /**
     * Rounds of the same steps by other users (each round its own user and store files) until
     * the JIT compiler is quiet (see {@link Measure#warmUp}), so the measured round does not
     * include it compiling the client's and the server's paths.
     */
    private void warmUp(TestServer server, Path dir, Sizes size) throws Exception {
        int warmOps = Math.max(100, Math.min(5000, ops / 20));
        SyncResult[] last = new SyncResult[2];
        Measure.WarmUp warmUp = Measure.warmUp(round -> {
            String user = WARMUP_USER + "-" + round;
            Path roundDir = Files.createDirectories(dir.resolve("warmup-" + round));
            Device a = new Device(server, roundDir.resolve("a.db"), size, user);
            a.queue(warmOps);
            try (Outpost outpost = a.open()) {
                last[0] = outpost.sync();
            }
            Device b = new Device(server, roundDir.resolve("b.db"), size, user, false);
            try (Outpost outpost = b.open()) {
                last[1] = outpost.sync();
            }
            QueueBench.deleteTree(roundDir);
        });
        say("  warm-up: " + warmOps + " ops pushed and pulled per round, " + warmUp.describe() + "; the last round pushed ("
                + describe(last[0]) + "), then pulled (" + describe(last[1]) + ")");
    }

    /** One device: its store file and its transport to the server, timed or the built-in one. */
    private static final class Device {
        private final Path file;
        private final Sizes size;
        private final String token;
        private final String url;
        private final boolean timed;
        private TimedTransport transport;

        Device(TestServer server, Path file, Sizes size, String user) {
            this(server, file, size, user, true);
        }

        Device(TestServer server, Path file, Sizes size, String user, boolean timed) {
            this.file = file;
            this.size = size;
            this.token = server.token(user);
            this.url = server.url();
            this.timed = timed;
        }

        /**
         * The store's configuration, syncing only when asked: with a fresh timed transport, or
         * the built-in one to the server's URL.
         */
        OutpostConfig config() {
            OutpostConfig.Builder builder = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file)
                    .tokenProvider(TokenProvider.fixed(token)).pushBatchSize(size.push()).pullPageSize(size.pull());
            if (timed) {
                transport = new TimedTransport(Transport.http(URI.create(url), REQUEST_TIMEOUT));
                return builder.transport(transport).build();
            }
            return builder.serverUrl(url).requestTimeout(REQUEST_TIMEOUT).build();
        }

        Outpost open() throws OutpostException {
            return Outpost.open(config());
        }

        /** Queues {@code count} new notes in durable write batches, then closes the store. */
        void queue(int count) throws OutpostException {
            try (Outpost outpost = open()) {
                for (int first = 0; first < count; first += WRITE_BATCH) {
                    WriteBatch batch = outpost.newBatch();
                    for (int n = first; n < Math.min(count, first + WRITE_BATCH); n++) {
                        batch.put(COLLECTION, "n" + n, ServerBench.note(0, n));
                    }
                    batch.commit();
                }
            }
        }
    }

    /**
     * The HTTP transport, with the time during which at least one of its calls was open (pushes
     * overlap when several are in flight) and when the first pull began.
     */
    private static final class TimedTransport implements Transport {
        private final Transport http;
        long pushNanos;
        long pullNanos;
        int pushes;
        int pulls;
        long pulledChanges;
        long firstPullStart;
        private int openPushes;
        private long pushesOpenedAt;

        TimedTransport(Transport http) {
            this.http = http;
        }

        @Override
        public PushResponse push(PushRequest request, String token) throws OutpostException {
            synchronized (this) {
                if (openPushes++ == 0) {
                    pushesOpenedAt = System.nanoTime();
                }
            }
            try {
                return http.push(request, token);
            } finally {
                synchronized (this) {
                    if (--openPushes == 0) {
                        pushNanos += System.nanoTime() - pushesOpenedAt;
                    }
                    pushes++;
                }
            }
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            long start = System.nanoTime();
            synchronized (this) {
                if (firstPullStart == 0) {
                    firstPullStart = start;
                }
            }
            try {
                PullResponse page = http.pull(cursor, limit, token);
                synchronized (this) {
                    pulledChanges += page.changes().size();
                }
                return page;
            } finally {
                synchronized (this) {
                    pullNanos += System.nanoTime() - start;
                    pulls++;
                }
            }
        }

        @Override
        public Duration health() throws OutpostException {
            return http.health();
        }
    }

    /**
     * The live records of the collection, counted a page at a time: {@code list} and a query
     * without a limit stop at {@link Query#MAX_LIMIT}.
     */
    private static int countRecords(Outpost outpost) throws OutpostException {
        int count = 0;
        while (true) {
            int page = outpost.query(Query.in(COLLECTION).limit(Query.MAX_LIMIT).offset(count)).size();
            count += page;
            if (page < Query.MAX_LIMIT) {
                return count;
            }
        }
    }

    private void check(String what, SyncResult result, boolean ok) {
        if (!ok) {
            say("  WARNING: " + what + " did not do what was expected for " + ops + " ops: " + describe(result));
        }
    }

    private static String describe(SyncResult result) {
        return result.status() + ", pushed " + result.pushed() + ", applied " + result.applied() + ", conflicts "
                + result.conflicts() + ", dead " + result.dead() + ", pulled " + result.pulled() + ", pending " + result.pending()
                + (result.status() == SyncResult.Status.COMPLETED ? "" : " (" + result.failure() + ": " + result.message() + ")");
    }

    /** Says how busy the machine is before a measurement: other processes' load lowers the figures. */
    private void reportBackgroundLoad() throws InterruptedException {
        gc();
        long[] before = MachineCpu.ticks();
        Thread.sleep(250);
        double busy = MachineCpu.busyCores(before, MachineCpu.ticks());
        if (busy >= 0) {
            say(String.format(Locale.ROOT, "  idle machine before the push: %.2f cores busy%s", busy,
                    busy > 0.25 ? " (other processes are running: the figures below are lower than on a quiet machine)" : ""));
        }
    }

    private void say(String line) {
        progress.println("  " + line);
        progress.flush();
    }

    private static String busy(double cores) {
        return cores < 0 ? "?" : String.format(Locale.ROOT, "%.1f", cores);
    }

    private static double share(long part, long whole) {
        return whole <= 0 ? 0 : 100.0 * part / whole;
    }



}
