package dev.outpost.bench;

import static dev.outpost.bench.Measure.gc;
import static dev.outpost.bench.Measure.rate;
import static dev.outpost.bench.Measure.usedHeap;

import com.squareup.tape2.QueueFile;
import dev.outpost.client.Durability;
import dev.outpost.client.Outpost;
import dev.outpost.client.OutpostConfig;
import dev.outpost.client.OutpostException;
import dev.outpost.client.SyncPolicy;
import dev.outpost.client.SyncResult;
import dev.outpost.client.Transport;
import dev.outpost.client.WriteBatch;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.SampleRecords;
import java.io.IOException;
import java.io.PrintStream;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@code outpost bench queue}: the client queue beside what a user would pick instead and the
 * physical limit, in one run on one machine.
 *
 * <ul>
 *   <li>fsync: 100-byte appends each followed by {@code FileChannel.force}: the ceiling of
 *       one-sync-per-op durability;
 *   <li>tape: Square Tape's {@code QueueFile.add} of 100 bytes (a durable file queue);
 *   <li>sqlite: an insert per transaction, WAL, {@code synchronous=FULL}; and 100 per transaction;
 *   <li>outpost: durable {@code put} from 1 and 8 threads (group commit), batch writes of 100,
 *       the size reduction of realistic 5 KB payloads stored compressed,
 *       open time and retained heap with {@code pending} queued ops, durable puts and batches
 *       behind that backlog in rounds alternated with the same writes into an empty store
 *       (enqueue cost must not grow with the backlog), peak heap while the client drains them to
 *       a server that applies everything (answered in-process, so the network is not what is
 *       measured).
 * </ul>
 */
public final class QueueBench {
    private static final byte[] PAYLOAD = new byte[100];
    /** Rounds of each kind of write in {@link #besideAnEmptyStore}. */
    private static final int ROUNDS = 4;
    private static final String RECORD = "{\"title\":\"a note of about a hundred bytes\",\"done\":false,\"tags\":[\"a\",\"b\"],\"n\":";

    private final Path work;
    private final int ops;
    private final int pending;
    private final PrintStream progress;
    /** Prefix of the write measurements' file names, so that each run writes new files. */
    private String round = "";
    /** Ids of the records {@link Writes} puts, new on every write. */
    private long nextId;
    /** Ops {@link #besideAnEmptyStore} queued behind the backlog, drained with it. */
    private long writtenBehind;

    /**
     * @param work an empty directory for the files
     * @param ops operations per single-commit measurement
     * @param pending queued ops for the open and drain measurements
     * @param progress where to say what runs
     */
    public QueueBench(Path work, int ops, int pending, PrintStream progress) {
        this.work = work;
        this.ops = ops;
        this.pending = pending;
        this.progress = progress;
    }

    public List<BenchResult> run() throws Exception {
        // Every write measurement runs twice, each time on new files: the first run warms the
        // JIT for all systems alike and is not reported.
        say("warm-up: every write measurement once, not reported");
        round = "warm-up-";
        writes();
        round = "";
        List<BenchResult> results = writes();
        results.add(new BenchResult("size reduction of ~5 KB call-log payloads (compressed over 1 KB)", "outpost",
                compressionReduction(), "%"));
        results.addAll(openAndDrain());
        return results;
    }

    private List<BenchResult> writes() throws Exception {
        List<BenchResult> results = new ArrayList<>();
        results.add(new BenchResult("durable append of 100 B, one fsync each", "fsync", fsync(), "ops/s"));
        results.add(new BenchResult("durable enqueue of 100 B, 1 writer", "tape", tape(), "ops/s"));
        results.add(new BenchResult("durable insert, one commit each, 1 writer", "sqlite", sqlite(1), "ops/s"));
        results.add(new BenchResult("durable insert, 100 rows per commit", "sqlite", sqlite(100), "rows/s"));
        results.add(new BenchResult("durable enqueue (put), 1 writer", "outpost", outpostWriters(1), "ops/s"));
        results.add(new BenchResult("durable enqueue (put), 8 writers", "outpost", outpostWriters(8), "ops/s"));
        results.add(new BenchResult("durable enqueue, batches of 100", "outpost", outpostBatches(100), "ops/s"));
        return results;
    }

    private double fsync() throws IOException {
        say("fsync: " + ops + " appends of 100 B, each forced to disk");
        Path file = work.resolve(round + "fsync.bin");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw"); FileChannel channel = raf.getChannel()) {
            long start = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                channel.write(ByteBuffer.wrap(PAYLOAD), channel.size());
                channel.force(false);
            }
            return rate(ops, start);
        }
    }

    private double tape() throws IOException {
        say("tape: " + ops + " QueueFile.add of 100 B");
        try (QueueFile queue = new QueueFile.Builder(work.resolve(round + "tape.queue").toFile()).build()) {
            long start = System.nanoTime();
            for (int i = 0; i < ops; i++) {
                queue.add(PAYLOAD);
            }
            return rate(ops, start);
        }
    }

    private double sqlite(int perCommit) throws Exception {
        int rows = perCommit == 1 ? ops : ops * 25;
        say("sqlite: " + rows + " inserts of 100 B, " + perCommit + " per commit (WAL, synchronous=FULL)");
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + work.resolve(round + "sqlite-" + perCommit + ".db"))) {
            try (Statement statement = db.createStatement()) {
                statement.execute("PRAGMA journal_mode = WAL");
                statement.execute("PRAGMA synchronous = FULL");
                statement.execute("CREATE TABLE queue (id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
            }
            db.setAutoCommit(false);
            try (PreparedStatement insert = db.prepareStatement("INSERT INTO queue (payload) VALUES (?)")) {
                long start = System.nanoTime();
                for (int i = 1; i <= rows; i++) {
                    insert.setBytes(1, PAYLOAD);
                    insert.executeUpdate();
                    if (i % perCommit == 0) {
                        db.commit();
                    }
                }
                db.commit();
                return rate(rows, start);
            }
        }
    }

    private double outpostWriters(int writers) throws Exception {
        int total = ops * Math.max(1, writers / 2);
        say("outpost: " + total + " durable puts from " + writers + " thread(s)");
        try (Outpost outpost = open(round + "writers-" + writers + ".db", Durability.DURABLE)) {
            ExecutorService pool = Executors.newFixedThreadPool(writers);
            AtomicInteger next = new AtomicInteger();
            List<Future<?>> done = new ArrayList<>();
            long start = System.nanoTime();
            for (int t = 0; t < writers; t++) {
                done.add(pool.submit(() -> {
                    for (int n; (n = next.getAndIncrement()) < total; ) {
                        outpost.put("notes", "n" + n, RECORD + n + "}");
                    }
                    return null;
                }));
            }
            for (Future<?> future : done) {
                future.get();
            }
            double rate = rate(total, start);
            pool.shutdown();
            return rate;
        }
    }

    private double outpostBatches(int size) throws Exception {
        int total = ops * 25;
        say("outpost: " + total + " durable puts in batches of " + size);
        try (Outpost outpost = open(round + "batches.db", Durability.DURABLE)) {
            long start = System.nanoTime();
            for (int first = 0; first < total; first += size) {
                WriteBatch batch = outpost.newBatch();
                for (int n = first; n < Math.min(total, first + size); n++) {
                    batch.put("notes", "n" + n, RECORD + n + "}");
                }
                batch.commit();
            }
            return rate(total, start);
        }
    }

    /** How much smaller realistic payloads are stored than their JSON, in percent. */
    private double compressionReduction() throws Exception {
        say("outpost: 1000 call-log records of about 5 KB, stored size against JSON size");
        Path file = work.resolve("compression.db");
        try (Outpost outpost = open("compression.db", Durability.PROCESS_SAFE)) {
            WriteBatch batch = outpost.newBatch();
            for (int n = 0; n < 1000; n++) {
                batch.put("calls", "c" + n, SampleRecords.callLog(n));
            }
            batch.commit();
        }
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement statement = db.createStatement();
                java.sql.ResultSet rows = statement.executeQuery("SELECT SUM(length(data)), SUM(size) FROM ops")) {
            rows.next();
            return 100.0 * (1 - rows.getDouble(1) / rows.getDouble(2));
        }
    }

    private List<BenchResult> openAndDrain() throws Exception {
        String name = "pending-" + pending + ".db";
        say("outpost: queueing " + pending + " ops (batches of 1000) for the open and drain measurements");
        // A million queued ops take more room than the default quota allows.
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(work.resolve(name))
                .durability(Durability.PROCESS_SAFE).noStorageQuota().build())) {
            for (int first = 0; first < pending; first += 1000) {
                WriteBatch batch = outpost.newBatch();
                for (int n = first; n < Math.min(pending, first + 1000); n++) {
                    batch.put("notes", "n" + n, RECORD + n + "}");
                }
                batch.commit();
            }
        }
        List<BenchResult> results = new ArrayList<>();
        gc();
        long heapBefore = usedHeap();
        long start = System.nanoTime();
        Outpost opened = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(work.resolve(name))
                .durability(Durability.DURABLE).noStorageQuota().build());
        double openMillis = (System.nanoTime() - start) / 1e6;
        gc();
        long retained = Math.max(0, usedHeap() - heapBefore);
        results.add(new BenchResult("open with " + pending + " pending ops", "outpost", openMillis, "ms"));
        results.add(new BenchResult("heap retained after open with " + pending + " pending ops", "outpost",
                retained / 1e6, "MB"));
        // The same writes behind the backlog and into an empty store, in alternating rounds, so
        // that a disk whose speed drifts during the run weighs on both alike.
        results.addAll(besideAnEmptyStore(opened));
        long queued = pending + writtenBehind;
        opened.close();

        say("outpost: draining " + queued + " ops to a server that applies them all");
        gc();
        LiveHeapSampler sampler = new LiveHeapSampler();
        sampler.start();
        long drainStart = System.nanoTime();
        try (Outpost draining = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(work.resolve(name))
                .noStorageQuota().transport(new ApplyingServer()).build())) {
            SyncResult result = draining.sync();
            if (result.pending() != 0 || result.status() != SyncResult.Status.COMPLETED) {
                throw new IllegalStateException("the drain did not finish: " + result);
            }
        } finally {
            sampler.stop();
        }
        results.add(new BenchResult("drain of " + queued + " pending ops, batches of 100", "outpost",
                rate(queued, drainStart), "ops/s"));
        results.add(new BenchResult("peak live heap (after GC) while draining " + queued + " ops", "outpost",
                sampler.peak() / 1e6, "MB"));
        return results;
    }

    /**
     * Durable puts and batches of 100 into {@code behind} and into a new empty store, in
     * {@value #ROUNDS} alternating rounds each: enqueue must not slow with the backlog. Where
     * the system tells (Linux's {@code /proc/self/io}), also the bytes each put and each
     * batched op hands to the file system, which no other load on the machine changes.
     */
    private List<BenchResult> besideAnEmptyStore(Outpost behind) throws Exception {
        say("outpost: " + ops + " durable puts, then " + ops * 25 + " in batches of 100, behind " + pending
                + " pending ops and into an empty store, " + ROUNDS + " alternating rounds each");
        String backlog = "behind " + pending + " pending ops";
        String empty = "into an empty store, rounds alternated with those";
        Writes putsBehind = new Writes();
        Writes putsEmpty = new Writes();
        Writes batchesBehind = new Writes();
        Writes batchesEmpty = new Writes();
        try (Outpost beside = open("beside-backlog.db", Durability.DURABLE)) {
            int puts = Math.max(1, ops / ROUNDS);
            int batched = Math.max(100, ops * 25 / ROUNDS / 100 * 100);
            for (int round = 0; round < ROUNDS; round++) {
                boolean behindFirst = round % 2 == 0;
                (behindFirst ? putsBehind : putsEmpty).put(behindFirst ? behind : beside, puts);
                (behindFirst ? putsEmpty : putsBehind).put(behindFirst ? beside : behind, puts);
                (behindFirst ? batchesBehind : batchesEmpty).batches(behindFirst ? behind : beside, batched);
                (behindFirst ? batchesEmpty : batchesBehind).batches(behindFirst ? beside : behind, batched);
            }
        }
        writtenBehind = putsBehind.ops + batchesBehind.ops;
        List<BenchResult> results = new ArrayList<>();
        results.add(new BenchResult("durable enqueue (put), 1 writer, " + empty, "outpost", putsEmpty.rate(), "ops/s"));
        results.add(new BenchResult("durable enqueue (put), 1 writer, " + backlog, "outpost", putsBehind.rate(), "ops/s"));
        results.add(new BenchResult("durable enqueue, batches of 100, " + empty, "outpost", batchesEmpty.rate(), "ops/s"));
        results.add(new BenchResult("durable enqueue, batches of 100, " + backlog, "outpost", batchesBehind.rate(), "ops/s"));
        if (WrittenBytes.known()) {
            results.add(new BenchResult("bytes written per durable put, " + empty, "outpost", putsEmpty.bytesPerOp(), "B"));
            results.add(new BenchResult("bytes written per durable put, " + backlog, "outpost", putsBehind.bytesPerOp(), "B"));
            results.add(new BenchResult("bytes written per op in batches of 100, " + empty, "outpost",
                    batchesEmpty.bytesPerOp(), "B"));
            results.add(new BenchResult("bytes written per op in batches of 100, " + backlog, "outpost",
                    batchesBehind.bytesPerOp(), "B"));
        }
        return results;
    }

    /** Writes into one store, added up over rounds: ops, time and bytes handed to the file system. */
    private final class Writes {
        private long ops;
        private long nanos;
        private long bytes;

        void put(Outpost outpost, int count) throws OutpostException {
            long written = WrittenBytes.now();
            long start = System.nanoTime();
            for (int n = 0; n < count; n++) {
                outpost.put("notes", "w" + nextId++, RECORD + n + "}");
            }
            add(count, start, written);
        }

        void batches(Outpost outpost, int count) throws OutpostException {
            long written = WrittenBytes.now();
            long start = System.nanoTime();
            for (int first = 0; first < count; first += 100) {
                WriteBatch batch = outpost.newBatch();
                for (int n = first; n < Math.min(count, first + 100); n++) {
                    batch.put("notes", "w" + nextId++, RECORD + n + "}");
                }
                batch.commit();
            }
            add(count, start, written);
        }

        private void add(int count, long start, long written) {
            nanos += System.nanoTime() - start;
            bytes += WrittenBytes.now() - written;
            ops += count;
        }

        double rate() {
            return ops / (nanos / 1e9);
        }

        double bytesPerOp() {
            return (double) bytes / ops;
        }
    }

    /**
     * The bytes this process has handed to {@code write} calls so far, from Linux's
     * {@code /proc/self/io} ({@code wchar}); -1 where the system does not tell.
     */
    private static final class WrittenBytes {
        private static final Path FILE = Path.of("/proc/self/io");

        static boolean known() {
            return now() >= 0;
        }

        static long now() {
            try {
                for (String line : Files.readAllLines(FILE)) {
                    if (line.startsWith("wchar:")) {
                        return Long.parseLong(line.substring("wchar:".length()).trim());
                    }
                }
            } catch (IOException | RuntimeException e) {
                return -1;
            }
            return -1;
        }
    }

    private Outpost open(String file, Durability durability) throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(work.resolve(file)).durability(durability).build());
    }

    /** A server stand-in that applies every op at version 1 and has nothing to pull. */
    private static final class ApplyingServer implements Transport {
        @Override
        public PushResponse push(PushRequest request, String token) {
            List<OpResult> results = new ArrayList<>(request.ops().size());
            request.ops().forEach(op -> results.add(OpResult.applied(op.opId(), 1)));
            return new PushResponse(results);
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) {
            return new PullResponse(List.of(), "end", false);
        }
    }

    private void say(String line) {
        progress.println("  " + line);
        progress.flush();
    }




    /**
     * The most heap found in use right after a collection while it runs: what a workload keeps
     * alive, without the garbage a young generation holds between collections.
     */
    private static final class LiveHeapSampler {
        private final Thread thread = new Thread(this::sample, "live-heap-sampler");
        private volatile boolean running = true;
        private volatile long peak;

        void start() {
            thread.setDaemon(true);
            thread.start();
        }

        void stop() throws InterruptedException {
            running = false;
            thread.join();
            sampleOnce();
        }

        long peak() {
            return peak;
        }

        private void sample() {
            while (running) {
                sampleOnce();
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private void sampleOnce() {
            long live = 0;
            for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
                if (pool.getType() == MemoryType.HEAP && pool.getCollectionUsage() != null) {
                    live += pool.getCollectionUsage().getUsed();
                }
            }
            peak = Math.max(peak, live);
        }
    }

    /** Deletes the benchmark's files. */
    public static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
    }
}
