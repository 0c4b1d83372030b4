package dev.outpost.cli;

import dev.outpost.bench.BenchResult;
import dev.outpost.bench.QueueBench;
import dev.outpost.bench.ServerBench;
import dev.outpost.bench.SyncBench;
import dev.outpost.protocol.Wire;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code outpost bench}: the benchmark suites, with peers side by side in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run benchmark suites, Outpost and the peers a user would pick instead side by side.",
                "Suites: queue (the client's durable op queue against Square Tape, SQLite and raw fsync);",
                "server (push and pull over HTTP on SQLite and PostgreSQL with 1, 16 and 256 devices, beside each "
                        + "database's own durable commit rates);",
                "sync (end to end through the client: one device pushes its queued ops to a local server, a new device "
                        + "pulls them, on SQLite and PostgreSQL); all (every suite)."})
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "0..1", defaultValue = "queue", paramLabel = "SUITE",
            description = "queue, server, sync or all (default: ${DEFAULT-VALUE})")
    String suite;

    @Option(names = "--json", description = "print an array of {name, system, value, unit} objects")
    boolean json;

    @Option(names = "--ops", defaultValue = "2000", description = "queue: operations per single-commit measurement (default: ${DEFAULT-VALUE})")
    int ops;

    @Option(names = "--pending", defaultValue = "1000000",
            description = "queue: queued ops for the open and drain measurements (default: ${DEFAULT-VALUE})")
    int pending;

    @Option(names = "--server-ops", defaultValue = "100000", paramLabel = "OPS",
            description = "server: ops pushed per store and device count, rounded up to whole batches per device "
                    + "(default: ${DEFAULT-VALUE})")
    int serverOps;

    @Option(names = "--server-batch", defaultValue = "100", paramLabel = "OPS",
            description = "server: ops per push request, from 1 to 1000 (default: ${DEFAULT-VALUE})")
    int serverBatch;

    @Option(names = "--server-devices", split = ",", defaultValue = "1,16,256", paramLabel = "N",
            description = "server: the numbers of concurrent devices to run, each from 1 to 1024 (default: ${DEFAULT-VALUE})")
    List<Integer> serverDevices;

    @Option(names = "--server-stores", split = ",", defaultValue = "sqlite,postgresql", paramLabel = "STORE",
            description = "server: the databases to run the server on, sqlite and/or postgresql (default: ${DEFAULT-VALUE})")
    List<String> serverStores;

    @Option(names = "--sync-ops", defaultValue = "100000", paramLabel = "OPS",
            description = "sync: ops one device queues and pushes and a new device pulls, per store and size pair "
                    + "(default: ${DEFAULT-VALUE})")
    int syncOps;

    @Option(names = "--sync-stores", split = ",", defaultValue = "sqlite,postgresql", paramLabel = "STORE",
            description = "sync: the databases to run the server on, sqlite and/or postgresql (default: ${DEFAULT-VALUE})")
    List<String> syncStores;

    @Option(names = "--dir", description = "where to put the benchmark's files (default: a temporary directory, deleted after)")
    Path dir;

    @Override
    public Integer call() throws Exception {
        if (!List.of("queue", "server", "sync", "all").contains(suite)) {
            throw usage("unknown suite '" + suite + "'; the suites are: queue, server, sync, all");
        }
        if (ops < 100 || ops > 1_000_000) {
            throw usage("--ops must be from 100 to 1000000 (got " + ops + ")");
        }
        if (pending < 1000 || pending > 10_000_000) {
            throw usage("--pending must be from 1000 to 10000000 (got " + pending + ")");
        }
        if (serverOps < 100 || serverOps > 10_000_000) {
            throw usage("--server-ops must be from 100 to 10000000 (got " + serverOps + ")");
        }
        if (serverBatch < 1 || serverBatch > ServerBench.MAX_BATCH) {
            throw usage("--server-batch must be from 1 to " + ServerBench.MAX_BATCH + " (got " + serverBatch + ")");
        }
        for (int devices : serverDevices) {
            if (devices < 1 || devices > ServerBench.MAX_DEVICES) {
                throw usage("--server-devices must each be from 1 to " + ServerBench.MAX_DEVICES + " (got " + devices + ")");
            }
        }
        if (syncOps < 100 || syncOps > 10_000_000) {
            throw usage("--sync-ops must be from 100 to 10000000 (got " + syncOps + ")");
        }
        List<ServerBench.Store> stores = stores("--server-stores", serverStores);
        List<ServerBench.Store> syncStoreList = stores("--sync-stores", syncStores);
        PrintStream out = System.out;
        PrintStream progress = json ? System.err : System.out;
        Path work = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("outpost-bench-");
        String machine = Runtime.getRuntime().availableProcessors() + " cores, Java " + Runtime.version() + ", files in " + work;
        List<BenchResult> results = new ArrayList<>();
        try {
            if (suite.equals("queue") || suite.equals("all")) {
                progress.println("queue suite (" + machine + ")");
                results.addAll(new QueueBench(work, ops, pending, progress).run());
            }
            if (suite.equals("server") || suite.equals("all")) {
                progress.println("server suite (" + machine + ")");
                results.addAll(new ServerBench(work, serverOps, serverBatch, serverDevices, stores, progress).run());
            }
            if (suite.equals("sync") || suite.equals("all")) {
                progress.println("sync suite (" + machine + ")");
                results.addAll(new SyncBench(work, syncOps, syncStoreList, progress).run());
            }
        } finally {
            if (dir == null) {
                QueueBench.deleteTree(work);
            }
        }
        if (json) {
            out.println(Wire.write(results));
        } else {
            out.println();
            for (BenchResult result : results) {
                out.printf(Locale.ROOT, "%-62s %-18s %14.1f %s%n", result.name(), result.system(), result.value(), result.unit());
            }
        }
        return 0;
    }

    /** The stores a list option names, each once, in order; a usage error naming the option for any other name. */
    private List<ServerBench.Store> stores(String option, List<String> names) {
        List<ServerBench.Store> stores = new ArrayList<>();
        for (String name : names) {
            ServerBench.Store store = ServerBench.Store.of(name.trim());
            if (store == null) {
                throw usage(option + " must each be sqlite or postgresql (got '" + name + "')");
            }
            if (!stores.contains(store)) {
                stores.add(store);
            }
        }
        return stores;
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(spec.commandLine(), message);
    }
}
