package dev.outpost.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.LocalRecord;
import dev.outpost.client.Outpost;
import dev.outpost.client.OutpostConfig;
import dev.outpost.client.OutpostException;
import dev.outpost.client.QueueStats;
import dev.outpost.client.RetryPolicy;
import dev.outpost.client.SyncPolicy;
import dev.outpost.client.SyncResult;
import dev.outpost.client.TokenProvider;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.TcpFaultProxy;
import dev.outpost.testing.TestServer;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

/**
 * {@code outpost demo}: devices write offline, sync over a faulty network, and must converge
 * with nothing lost and nothing applied twice. Exits 0 only if they do.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Simulated devices write while offline, then sync through a network that drops connections and "
                + "loses answers, then through a good one. Checks that every device ends with the server's records, "
                + "with nothing lost or applied twice.", "Exit code 0 if all converged, 1 if not."})
final class DemoCommand implements Callable<Integer> {
    private static final String USER = "demo";
    private static final String COLLECTION = "notes";
    private static final int SHARED = 5;
    private static final int FLAKY_ROUNDS = 6;
    private static final int WRITES_PER_ROUND = 3;
    /**
     * The retry schedule of the demo's devices: a push whose connection broke after it went out
     * is the server's failure and waits out a backoff, here short so the demo runs in seconds.
     */
    private static final RetryPolicy QUICK_RETRIES = new RetryPolicy(5, Duration.ofMillis(100), Duration.ofSeconds(1), 0.2);
    /** The most rounds of syncs the stable network gets for every queue to drain. */
    private static final int STABLE_ROUNDS = 30;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--devices", defaultValue = "3", description = "simulated devices, 1 to 20 (default: ${DEFAULT-VALUE})")
    int deviceCount;

    @Option(names = "--writes", defaultValue = "25", description = "writes per device while offline, 1 to 10000 (default: ${DEFAULT-VALUE})")
    int writes;

    @Option(names = "--fault-rate", defaultValue = "0.4",
            description = "share of connections the faulty network breaks, 0 to 0.9 (default: ${DEFAULT-VALUE})")
    double faultRate;

    @Option(names = "--seed", defaultValue = "7", description = "seed of the random writes and faults (default: ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--keep", description = "keep the demo's files and print where they are")
    boolean keep;

    private final PrintStream out = System.out;

    @Override
    public Integer call() throws Exception {
        checkOptions();
        Path work = Files.createTempDirectory("outpost-demo-");
        try (TestServer server = TestServer.startIn(work.resolve("server"));
                TcpFaultProxy network = TcpFaultProxy.start("127.0.0.1", server.port())) {
            return run(server, network, work);
        } finally {
            if (keep) {
                out.println("Files kept in " + work);
            } else {
                TestServer.deleteTree(work);
            }
        }
    }

    private void checkOptions() {
        if (deviceCount < 1 || deviceCount > 20) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--devices must be from 1 to 20 (got " + deviceCount + ")");
        }
        if (writes < 1 || writes > 10_000) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--writes must be from 1 to 10000 (got " + writes + ")");
        }
        if (!(faultRate >= 0 && faultRate <= 0.9)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--fault-rate must be from 0 to 0.9 (got " + faultRate + ")");
        }
    }

    private int run(TestServer server, TcpFaultProxy network, Path work) throws Exception {
        out.printf("Outpost demo: %d devices of user '%s', a server at %s, reached through a faulty network at %s%n",
                deviceCount, USER, server.url(), network.url());
        String token = server.token(USER);
        List<Device> devices = new ArrayList<>();
        try {
            for (int i = 1; i <= deviceCount; i++) {
                devices.add(new Device("device-" + i, Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                        .storeFile(work.resolve("device-" + i + ".db"))
                        .serverUrl(network.url())
                        .tokenProvider(TokenProvider.fixed(token))
                        .requestTimeout(Duration.ofSeconds(5))
                        .retryPolicy(QUICK_RETRIES)
                        .build())));
            }
            Random random = new Random(seed);

            out.println();
            out.printf("1. Online: %s creates %d shared notes; every device syncs.%n", devices.get(0).name, SHARED);
            for (int i = 1; i <= SHARED; i++) {
                devices.get(0).outpost.put(COLLECTION, "shared-" + i, Map.of("title", "shared note " + i, "edits", 0));
            }
            for (Device device : devices) {
                report(device, device.outpost.sync());
            }

            out.println();
            out.printf("2. Offline: the network is down; each device makes %d changes and tries to sync.%n", writes);
            network.set(TcpFaultProxy.Fault.RESET);
            for (Device device : devices) {
                device.writeRandomly(random, writes);
                report(device, device.outpost.sync());
            }

            out.println();
            out.printf("3. Flaky: %.0f%% of connections are reset or lose their answer; in each of %d rounds every device"
                    + " makes %d more changes, then all sync at once.%n", faultRate * 100, FLAKY_ROUNDS, WRITES_PER_ROUND);
            network.randomFaults(faultRate, seed);
            ExecutorService pool = Executors.newFixedThreadPool(deviceCount);
            try {
                for (int round = 1; round <= FLAKY_ROUNDS; round++) {
                    List<Future<SyncResult>> results = new ArrayList<>();
                    for (Device device : devices) {
                        device.writeRandomly(random, WRITES_PER_ROUND);
                    }
                    for (Device device : devices) {
                        results.add(pool.submit(device.outpost::sync));
                    }
                    out.printf("   round %d:%n", round);
                    for (int i = 0; i < devices.size(); i++) {
                        report(devices.get(i), results.get(i).get());
                    }
                }
            } finally {
                pool.shutdownNow();
            }

            out.println();
            out.println("4. Stable: the network is good again; every device syncs until its queue is empty (pushes that"
                    + " failed wait out their retry backoff), then once more to pull the others' last changes.");
            network.set(TcpFaultProxy.Fault.NONE);
            for (int round = 0; round < STABLE_ROUNDS; round++) {
                for (Device device : devices) {
                    SyncResult result = device.outpost.sync();
                    report(device, result);
                }
                if (devices.stream().allMatch(device -> device.pending() == 0)) {
                    break;
                }
                waitForRetries(devices);
            }
            for (Device device : devices) {
                report(device, device.outpost.sync());
            }

            out.println();
            out.println("5. Check: every device against the server.");
            return check(server, network, devices);
        } finally {
            for (Device device : devices) {
                device.outpost.close();
            }
        }
    }

    private int check(TestServer server, TcpFaultProxy network, List<Device> devices) throws OutpostException {
        List<Change> log = server.changes(USER);
        Map<String, ObjectNode> serverView = new HashMap<>();
        Map<String, Integer> appliedByDevice = new HashMap<>();
        Set<String> seenOps = new HashSet<>();
        int appliedTwice = 0;
        for (Change change : log) {
            if (change.deleted()) {
                serverView.remove(change.recordId());
            } else {
                serverView.put(change.recordId(), change.data());
            }
            if (!seenOps.add(change.origin().deviceId() + "/" + change.origin().opId())) {
                appliedTwice++;
            }
            appliedByDevice.merge(change.origin().deviceId(), 1, Integer::sum);
        }

        boolean converged = true;
        int written = 0;
        int conflicts = 0;
        int lost = 0;
        for (Device device : devices) {
            QueueStats stats = device.outpost.queueStats();
            Map<String, ObjectNode> local = new HashMap<>();
            for (LocalRecord record : device.outpost.list(COLLECTION)) {
                local.put(record.id(), record.data());
            }
            int applied = appliedByDevice.getOrDefault(device.outpost.deviceId(), 0);
            written += stats.total();
            conflicts += stats.conflicts();
            boolean same = local.equals(serverView);
            boolean accounted = stats.pending() == 0 && stats.dead() == 0 && stats.applied() == applied;
            if (stats.applied() != applied) {
                lost += Math.abs(stats.applied() - applied);
            }
            out.printf("   %-9s %3d notes, %s; %d ops written: %d applied, %d conflicts settled server-wins, %d pending, %d dead%n",
                    device.name, local.size(), same ? "same as the server" : "DIFFERENT from the server",
                    stats.total(), stats.applied(), stats.conflicts(), stats.pending(), stats.dead());
            if (!same) {
                describeDifference(local, serverView);
            }
            if (stats.applied() != applied) {
                out.printf("     the device counts %d applied ops but the server's log has %d from it%n", stats.applied(), applied);
            }
            converged &= same && accounted;
        }
        converged &= appliedTwice == 0;

        out.println();
        out.printf("Summary: %d devices wrote %d ops. The network dropped %d requests and lost the answer to %d more,"
                        + " which were sent again. %d conflicts were settled (server wins, recorded). %d ops lost, %d applied twice."
                        + " The server holds %d notes after %d changes.%n",
                devices.size(), written, network.faults(TcpFaultProxy.Fault.RESET),
                network.faults(TcpFaultProxy.Fault.CUT_RESPONSE), conflicts, lost, appliedTwice,
                serverView.size(), log.size());
        out.println(converged
                ? "CONVERGED: every device equals the server, nothing lost, nothing applied twice."
                : "NOT CONVERGED: see the differences above.");
        return converged ? 0 : 1;
    }

    private void describeDifference(Map<String, ObjectNode> local, Map<String, ObjectNode> server) {
        Set<String> ids = new TreeSet<>(local.keySet());
        ids.addAll(server.keySet());
        int shown = 0;
        for (String id : ids) {
            if (!java.util.Objects.equals(local.get(id), server.get(id)) && shown++ < 5) {
                out.printf("     %s: device %s, server %s%n", id, local.get(id), server.get(id));
            }
        }
    }

    /** Sleeps until the earliest op of any device is due again, at most a second. */
    private static void waitForRetries(List<Device> devices) throws OutpostException, InterruptedException {
        Instant due = null;
        for (Device device : devices) {
            Instant next = device.outpost.queueStats().nextAttemptAt();
            if (next != null && (due == null || next.isBefore(due))) {
                due = next;
            }
        }
        long millis = due == null ? 0 : Duration.between(Instant.now(), due).toMillis();
        Thread.sleep(Math.max(10, Math.min(millis + 10, 1_000)));
    }

    private void report(Device device, SyncResult result) {
        String detail = switch (result.status()) {
            case COMPLETED -> (result.pushed() == 0 ? "nothing to push"
                    : String.format("pushed %d (%d applied, %d conflicts)", result.pushed(), result.applied(), result.conflicts()))
                    + ", pulled " + result.pulled();
            case OFFLINE -> (result.pushed() > 0 ? result.pushed() + " pushed, then " : "")
                    + "the network failed: changes stay queued";
            case FAILED -> "failed: " + result.message();
            case DEFERRED -> "waiting: " + result.message();
        };
        out.printf("   %-9s %-9s %s; %d waiting%n", device.name, result.status(), detail, result.pending());
    }

    private static final class Device {
        final String name;
        final Outpost outpost;
        int created;

        Device(String name, Outpost outpost) {
            this.name = name;
            this.outpost = outpost;
        }

        int pending() {
            try {
                return outpost.pendingCount();
            } catch (OutpostException e) {
                throw new IllegalStateException("the demo's store failed: " + e.getMessage(), e);
            }
        }

        void writeRandomly(Random random, int count) throws OutpostException {
            for (int i = 0; i < count; i++) {
                List<LocalRecord> notes = outpost.list(COLLECTION);
                List<LocalRecord> own = notes.stream().filter(n -> n.id().startsWith(name + "-")).toList();
                int roll = random.nextInt(10);
                if (roll < 4 || own.isEmpty()) {
                    created++;
                    outpost.put(COLLECTION, name + "-" + created, Map.of("title", "note " + created + " of " + name, "edits", 0));
                } else if (roll < 7) {
                    String id = "shared-" + (1 + random.nextInt(SHARED));
                    outpost.update(COLLECTION, id, Wire.object("{\"title\":\"edited on " + name + "\",\"edits\":" + i + "}"));
                } else if (roll < 9) {
                    LocalRecord note = own.get(random.nextInt(own.size()));
                    outpost.update(COLLECTION, note.id(), Wire.object("{\"edits\":" + (note.data().path("edits").asInt() + 1) + "}"));
                } else {
                    outpost.delete(COLLECTION, own.get(random.nextInt(own.size())).id());
                }
            }
        }
    }
}
