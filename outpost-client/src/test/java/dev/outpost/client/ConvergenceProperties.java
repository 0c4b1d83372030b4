package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AddLifecycleHook;
import net.jqwik.api.lifecycle.AroundPropertyHook;
import net.jqwik.api.lifecycle.PropertyExecutionResult;
import net.jqwik.api.lifecycle.PropertyExecutor;
import net.jqwik.api.lifecycle.PropertyLifecycleContext;
import net.jqwik.api.statistics.Statistics;

/**
 * Convergence (promise 5) and nothing silently dropped (promise 3), end to end: three devices
 * of one user over a real server, each with its own SQLite store file and clock (skewed by a few
 * seconds), put, update and delete three overlapping records (fields a, b, c), also while a
 * sync pushes or pulls, going offline and online, syncing one at a time or all at once,
 * restarting, and having pushes cut (before the server, or after it applied them: the answer
 * lost or replaced by a 503), under every pair of server and device conflict policies, a custom
 * {@link ConflictResolver} among the device's (the server's MANUAL leaves its review
 * conflicts open: the server's record stands, which is what the devices must end with). When
 * writes stop, every device goes online, the app settles what waits for it (PROMPT_USER
 * conflicts and those the resolver left or failed on, at random: the server's record, its own change, or a merge; dead letters
 * replayed), and every device syncs, in order, twice around. Then:
 *
 * <ul>
 *   <li>every device's live records equal the server's (same ids, same data, same versions),
 *       none pending, none in conflict, nothing in the dead-letter queue;</li>
 *   <li>a record only one device changed is on the server as that device last wrote it;</li>
 *   <li>the server applied no op twice (each op id is the origin of at most one change);</li>
 *   <li>every write a device acknowledged is accounted for by the op that carries it (its own,
 *       or the earlier unsent op of its record it was folded into): that op's change is in the
 *       server's log, or the op ended in a conflict the device recorded (and settled by its
 *       policy or the app) or that the server answered CONFLICT, or it was cancelled before it
 *       was ever sent by the same device's later delete of the record (CREATE then DELETE of a
 *       record the server, as the device knows it, does not have live); no op listed by {@link Outpost#ops} is left that claims
 *       APPLIED without its change in the server's log.</li>
 * </ul>
 *
 * <p>A fresh server (with the try's server policy for {@code notes}) and fresh store files per
 * try. The tries are set by {@code @Property}; {@code -Doutpost.convergence.tries=N} runs more.
 */
class ConvergenceProperties {
    private static final String NOTES = "notes";
    private static final List<String> RECORDS = List.of("n1", "n2", "n3");
    private static final int DEVICES = 3;
    private static final String USER = "ann";
    /** Rounds of "settle what waits for the app, then two rounds of syncs" allowed under PROMPT_USER. */
    private static final int MAX_SETTLE_ROUNDS = 6;

    // ---- the property -----------------------------------------------------------------------

    @Property(tries = 25)
    @AddLifecycleHook(TriesFromSystemProperty.class)
    void everyDeviceEndsWithTheServersRecordsAndEveryAcknowledgedWriteIsAccountedFor(
            @ForAll ConflictPolicy serverPolicy,
            @ForAll("deviceRules") DeviceRule devicePolicy,
            @ForAll @IntRange(min = 1, max = 3) int pushBatchSize,
            @ForAll("skews") List<Integer> clockSkewSeconds,
            @ForAll("runs") List<Step> steps,
            @ForAll long appChoices) throws Exception {
        check(serverPolicy, devicePolicy, pushBatchSize, clockSkewSeconds, steps, appChoices);
    }

    // ---- the nastiest sequences, under every pair of policies ---------------------------------

    /**
     * A delete on one device against an update on another, both from the same version, in both
     * arrival orders (the update reaches a deleted record; the delete arrives with a stale base),
     * plus a delete then re-create on a third device against an update, with one device
     * offline so its ops were marked sent and are not folded.
     */
    @Example
    void deleteOnOneDeviceAgainstAnUpdateOnAnotherUnderEveryPairOfPolicies() throws Exception {
        List<Step> steps = List.of(
                put(0, "n1", "{\"a\":1,\"b\":1}"), put(0, "n2", "{\"a\":1,\"b\":1}"), put(0, "n3", "{\"a\":1}"),
                new Sync(0), new Sync(1), new Sync(2),
                // n1: the delete arrives first, then the update of the deleted record
                delete(0, "n1"), update(1, "n1", "{\"a\":2}"), update(2, "n1", "{\"b\":null,\"c\":\"x\"}"),
                // n2: the update arrives first, then the delete with a stale base
                update(1, "n2", "{\"b\":2}"), delete(0, "n2"),
                // n3: device 2 deletes and re-creates while offline (two ops, the first marked sent)
                new Offline(2), delete(2, "n3"), new Sync(2), put(2, "n3", "{\"c\":3}"), update(0, "n3", "{\"a\":2}"),
                new Sync(0), new Sync(1), new Online(2), new Sync(2), new Sync(1), new Sync(0));
        for (ConflictPolicy serverPolicy : ConflictPolicy.values()) {
            for (DeviceRule devicePolicy : DeviceRule.all()) {
                check(serverPolicy, devicePolicy, 100, List.of(0, 0, 0), steps, 7);
            }
        }
    }

    /**
     * Two devices create the same record, one of them offline (its CREATE marked sent, its
     * later update a separate op); a third creates and deletes a record it never sent (the ops
     * cancel out) and loses the answer to a push whose op conflicted, so it hears DUPLICATE on
     * the retry; clocks disagree by seconds.
     */
    @Example
    void concurrentCreatesCancelledCreatesAndLostAnswersUnderEveryPairOfPolicies() throws Exception {
        List<Step> steps = List.of(
                new Offline(0), put(0, "n1", "{\"a\":1}"), new Sync(0), update(0, "n1", "{\"b\":1}"),
                put(1, "n1", "{\"a\":2,\"c\":2}"), new Sync(1),
                put(2, "n2", "{\"a\":3}"), update(2, "n2", "{\"b\":3}"), delete(2, "n2"),
                new Sync(2), update(2, "n1", "{\"c\":\"y\"}"), update(1, "n1", "{\"c\":\"x\"}"), new Sync(1),
                new Cut(2, 0, CutMode.ANSWER_LOST), new Sync(2), put(2, "n2", "{\"a\":4}"), new Sync(2),
                new Online(0), new Sync(0), delete(1, "n1"), new Sync(1), new Resolve(2), new Sync(2));
        for (ConflictPolicy serverPolicy : ConflictPolicy.values()) {
            for (DeviceRule devicePolicy : DeviceRule.all()) {
                check(serverPolicy, devicePolicy, 1, List.of(2, -2, 0), steps, 11);
            }
        }
    }

    /**
     * Whether a push's answer got lost must not decide who wins a conflict. The server keeps
     * its record (SERVER_WINS) and answers the laptop's stale update CONFLICT; the laptop's
     * policy is CLIENT_WINS, so its change goes again and wins. If that CONFLICT answer is lost
     * and the laptop sends the op again, the server answers DUPLICATE with the first outcome;
     * the laptop must settle it as it settles the CONFLICT answer (by its policy, recorded and
     * told to its listener), not drop its change without a conflict on record.
     */
    @Example
    void aLostConflictAnswerIsSettledByTheDevicesPolicyAsAnyOther() throws Exception {
        for (boolean loseTheAnswer : new boolean[] {false, true}) {
            List<Step> steps = new ArrayList<>(List.of(
                    put(0, "n1", "{\"a\":0}"), new Sync(0), new Sync(1),
                    update(0, "n1", "{\"a\":1}"), new Sync(0),
                    update(1, "n1", "{\"a\":2}")));
            if (loseTheAnswer) {
                steps.add(new Cut(1, 0, CutMode.ANSWER_LOST));
                steps.add(new Sync(1));
            }
            steps.add(new Sync(1));
            try (World world = new World(ConflictPolicy.SERVER_WINS, DeviceRule.of(ClientConflictPolicy.CLIENT_WINS), 100,
                    List.of(0, 0, 0), 1)) {
                world.run(steps);
                world.settleAndSyncAround();
                world.assertConverged();
                world.assertEveryAcknowledgedWriteIsAccountedFor();
                Device laptop = world.devices.get(1);
                assertThat(laptop.heard).as("conflicts the laptop recorded and told (answer lost: %s)%n%s", loseTheAnswer,
                        world.trace()).hasSize(1);
                assertThat(world.server.records(USER).get(NOTES + "/n1"))
                        .as("n1 on the server once the laptop's CLIENT_WINS settled it (answer lost: %s)%n%s", loseTheAnswer,
                                world.trace())
                        .isEqualTo(Wire.object("{\"a\":2}"));
            }
        }
    }

    /**
     * A device creates a record it does not know of, and before that CREATE is sent it learns
     * that the server has the record (live): here the write is made while a sync pulls (as a
     * write from the app's UI thread lands while the background sync runs), so the pulled
     * record goes under the pending CREATE. Deleting the record then must not simply take the
     * CREATE back (which is right only over a record the server does not have): the device
     * would show the record deleted with nothing left to send, while the server keeps it.
     * Under every pair of policies; then the same with the CREATE held back by a conflict that
     * waits for the app instead of a write during a sync.
     */
    @Example
    void deletingARecordWhoseCreateWasOverlaidByAPulledRecordIsNotLost() throws Exception {
        List<Step> steps = List.of(
                put(1, "n1", "{\"a\":1}"), new Sync(1),
                new MidSync(2, put(2, "n1", "{\"b\":2}"), Phase.PULL), new Sync(2),
                delete(2, "n1"), new Sync(2));
        for (ConflictPolicy serverPolicy : ConflictPolicy.values()) {
            for (DeviceRule devicePolicy : DeviceRule.all()) {
                check(serverPolicy, devicePolicy, 100, List.of(0, 0, 0), steps, 3);
            }
        }
        // The same without a write during a sync: the CREATE waits behind a conflict left for
        // the app (PROMPT_USER) while a pull brings the record, re-created elsewhere, under it.
        List<Step> behindAConflict = List.of(
                put(0, "n1", "{\"a\":1}"), new Sync(0), new Sync(1),
                delete(0, "n1"), new Sync(0),
                update(1, "n1", "{\"b\":1}"), new Sync(1),
                put(1, "n1", "{\"c\":1}"),
                put(0, "n1", "{\"a\":2}"), new Sync(0),
                new Sync(1), delete(1, "n1"), new Sync(1));
        for (ConflictPolicy serverPolicy : ConflictPolicy.values()) {
            check(serverPolicy, ClientConflictPolicy.PROMPT_USER, 100, List.of(0, 0, 0), behindAConflict, 3);
        }
    }

    // ---- one run ----------------------------------------------------------------------------

    private static void check(ConflictPolicy serverPolicy, ClientConflictPolicy devicePolicy, int batchSize,
            List<Integer> skews, List<Step> steps, long appChoices) throws Exception {
        check(serverPolicy, DeviceRule.of(devicePolicy), batchSize, skews, steps, appChoices);
    }

    /**
     * How the devices settle a conflict: a built-in policy, or the app's own resolver
     * ({@link #RESOLVER}) registered for the collection, which decides instead.
     */
    record DeviceRule(ClientConflictPolicy policy, boolean customResolver) {
        static DeviceRule of(ClientConflictPolicy policy) {
            return new DeviceRule(policy, false);
        }

        /** Every built-in policy, and the custom resolver. */
        static List<DeviceRule> all() {
            List<DeviceRule> all = new ArrayList<>();
            for (ClientConflictPolicy policy : ClientConflictPolicy.values()) {
                all.add(of(policy));
            }
            all.add(new DeviceRule(ClientConflictPolicy.SERVER_WINS, true));
            return all;
        }

        /** Whether a conflict may wait for the app: under PROMPT_USER, or when the resolver defers or fails. */
        boolean mayWaitForTheApp() {
            return customResolver || policy == ClientConflictPolicy.PROMPT_USER;
        }

        @Override
        public String toString() {
            return customResolver ? "a custom resolver" : policy.name();
        }
    }

    /**
     * An app's own resolver, as an app might write one: a record the device deleted goes as the
     * server has it, a record the server deleted comes back, and otherwise the device's fields go
     * on top of the server's record; a conflict over a record whose field {@code b} is "x" on
     * the server it leaves for the user, and one where it is "y" it fails on (throws), both of
     * which then wait for the app.
     */
    static final ConflictResolver RESOLVER = conflict -> {
        ObjectNode remote = conflict.remote();
        String b = remote == null || !remote.hasNonNull("b") ? "" : remote.get("b").asText();
        if (b.equals("x")) {
            return Resolution.later();
        }
        if (b.equals("y")) {
            throw new IllegalStateException("the resolver cannot decide over b = y");
        }
        if (conflict.local() == null) {
            return Resolution.useServer();
        }
        if (remote == null || conflict.remoteDeleted()) {
            return Resolution.useLocal();
        }
        ObjectNode merged = remote.deepCopy();
        conflict.local().fields().forEachRemaining(field -> merged.set(field.getKey(), field.getValue()));
        return Resolution.merged(merged);
    };

    private static void check(ConflictPolicy serverPolicy, DeviceRule devicePolicy, int batchSize,
            List<Integer> skews, List<Step> steps, long appChoices) throws Exception {
        try (World world = new World(serverPolicy, devicePolicy, batchSize, skews, appChoices)) {
            world.run(steps);
            world.settleAndSyncAround();
            world.assertConverged();
            world.assertEveryAcknowledgedWriteIsAccountedFor();
        }
    }

    /** One try: a server, three devices, and what the test saw them do. */
    private static final class World implements AutoCloseable {
        final ConflictPolicy serverPolicy;
        final DeviceRule devicePolicy;
        final int batchSize;
        final Path dir;
        final TestServer server;
        final List<Device> devices = new ArrayList<>();
        final Random app;
        /** What happened, for failure messages; written from the syncing threads too (writes made mid-sync). */
        final List<String> trace = java.util.Collections.synchronizedList(new ArrayList<>());

        World(ConflictPolicy serverPolicy, DeviceRule devicePolicy, int batchSize, List<Integer> skews,
                long appChoices) throws OutpostException {
            this.serverPolicy = serverPolicy;
            this.devicePolicy = devicePolicy;
            this.batchSize = batchSize;
            this.app = new Random(appChoices);
            try {
                dir = Files.createTempDirectory("outpost-convergence-");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            server = TestServer.start(builder -> builder.conflictPolicy(NOTES, serverPolicy));
            trace.add("server " + serverPolicy + ", devices " + devicePolicy + ", push batches of " + batchSize + ", clock skews "
                    + skews + " s");
            try {
                for (int i = 0; i < DEVICES; i++) {
                    devices.add(new Device(i, skews.get(i), this));
                }
            } catch (OutpostException | RuntimeException e) {
                close();
                throw e;
            }
        }

        void run(List<Step> steps) throws OutpostException {
            int index = 0;
            for (Step step : steps) {
                index++;
                devices.forEach(device -> device.clock.advance(Duration.ofSeconds(1)));
                Device device = devices.get(step.device());
                int line = trace.size();
                trace.add(index + ". " + step + " -> (failed here)");
                String outcome;
                if (step instanceof Write write) {
                    outcome = device.write(write, index);
                } else if (step instanceof Sync) {
                    outcome = device.sync(false);
                } else if (step instanceof SyncAll) {
                    outcome = syncAllAtOnce();
                } else if (step instanceof MidSync midSync) {
                    device.writeMidSync(midSync, index);
                    outcome = "armed";
                } else if (step instanceof Offline) {
                    device.transport.online = false;
                    outcome = "offline";
                } else if (step instanceof Online) {
                    device.transport.online = true;
                    outcome = "online";
                } else if (step instanceof Cut cut) {
                    device.transport.arm(cut.passes(), cut.mode());
                    outcome = "armed";
                } else if (step instanceof Restart) {
                    device.restart();
                    outcome = "reopened";
                } else {
                    outcome = device.resolveOpenConflicts(false);
                }
                trace.set(line, index + ". " + step + " -> " + outcome);
            }
        }

        /** Every device syncs at the same time, so the server takes their pushes concurrently. */
        String syncAllAtOnce() {
            List<Integer> cutsBefore = new ArrayList<>();
            List<CompletableFuture<SyncResult>> running = new ArrayList<>();
            for (Device device : devices) {
                cutsBefore.add(device.transport.cuts);
                running.add(device.outpost.syncNow());
            }
            List<String> outcomes = new ArrayList<>();
            for (Device device : devices) {
                outcomes.add("d" + device.index + " " + device.checked(running.get(device.index).join(),
                        cutsBefore.get(device.index), false));
            }
            return String.join("; ", outcomes);
        }

        /**
         * Everyone online, nothing lost any more; the app settles the conflicts that wait for it;
         * each device syncs, in order, twice around: the first round pushes everything (a change
         * a device's policy sends again goes in the same sync) and pulls what the earlier devices
         * pushed, the second pulls what the later ones pushed. Under PROMPT_USER the first round
         * can raise new conflicts (a device's change against one pushed just before it in that
         * round), which the app then settles and which need two more rounds; after a few such
         * rounds the app keeps the server's record, which queues nothing, so it ends.
         */
        void settleAndSyncAround() throws OutpostException {
            for (Device device : devices) {
                device.transport.online = true;
                device.transport.disarm();
                device.transport.atNext(null, null);
            }
            trace.add("-- all online, no more writes; settle and sync around");
            for (int settle = 1; ; settle++) {
                for (Device device : devices) {
                    trace.add("  d" + device.index + " settles: " + device.resolveOpenConflicts(settle > MAX_SETTLE_ROUNDS / 2)
                            + "; replays: " + device.replayDeadLetters());
                }
                for (int round = 1; round <= 2; round++) {
                    // Past any retry wait a 503 left (16 s at most, plus jitter).
                    devices.forEach(device -> device.clock.advance(Duration.ofSeconds(20)));
                    for (Device device : devices) {
                        trace.add("  round " + round + ": d" + device.index + " sync -> " + device.sync(true));
                    }
                }
                int open = 0;
                for (Device device : devices) {
                    open += device.outpost.conflicts().size();
                }
                if (open == 0) {
                    return;
                }
                if (!devicePolicy.mayWaitForTheApp()) {
                    fail("%d conflict(s) wait for the app after two rounds of syncs, although the devices' policy %s "
                            + "settles every conflict itself%n%s", open, devicePolicy, trace());
                }
                if (settle == MAX_SETTLE_ROUNDS) {
                    fail("%d conflict(s) still wait for the app after %d rounds of settling and syncing%n%s", open, settle,
                            trace());
                }
            }
        }

        void assertConverged() throws OutpostException {
            Map<String, ObjectNode> onServer = server.records(USER);
            List<Change> log = server.changes(USER);
            Map<String, Long> versions = new HashMap<>();
            Map<Change.Origin, Integer> origins = new HashMap<>();
            for (Change change : log) {
                versions.put(change.collection() + "/" + change.recordId(), change.version());
                if (change.origin() != null) {
                    origins.merge(change.origin(), 1, Integer::sum);
                }
            }
            origins.forEach((origin, count) -> assertThat(count)
                    .as("changes in the server's log made by op %s of device %s (exactly once)%n%s", origin.opId(),
                            origin.deviceId(), trace())
                    .isEqualTo(1));
            for (Device device : devices) {
                String who = "d" + device.index;
                assertThat(device.outpost.pendingCount()).as("%s: ops still pending%n%s", who, trace()).isZero();
                assertThat(device.outpost.conflicts()).as("%s: conflicts waiting for the app%n%s", who, trace()).isEmpty();
                assertThat(device.outpost.deadLetters())
                        .as("%s: dead letters after the app replayed those there were%n%s", who, trace())
                        .isEmpty();
                Map<String, ObjectNode> local = new TreeMap<>();
                for (LocalRecord record : device.outpost.list(NOTES)) {
                    local.put(NOTES + "/" + record.id(), record.data());
                    assertThat(record.state()).as("%s: state of %s%n%s", who, record.id(), trace()).isEqualTo(SyncState.SYNCED);
                    assertThat(record.version()).as("%s: version of %s against the server's%n%s", who, record.id(), trace())
                            .isEqualTo(versions.get(NOTES + "/" + record.id()));
                }
                assertThat(local).as("%s: live records against the server's%n%s", who, trace()).isEqualTo(new TreeMap<>(onServer));
                for (String record : RECORDS) {
                    assertThat(device.outpost.get(NOTES, record).map(LocalRecord::data).orElse(null))
                            .as("%s: get(%s) against list()%n%s", who, record, trace()).isEqualTo(local.get(NOTES + "/" + record));
                }
            }
            // A record only one device changed sees no conflict: the server ends with it as that device last wrote it.
            for (String record : RECORDS) {
                List<Device> writers = devices.stream().filter(device -> device.lastWritten.containsKey(record)).toList();
                if (writers.size() == 1) {
                    Device writer = writers.get(0);
                    assertThat(onServer.get(NOTES + "/" + record))
                            .as("%s, changed by d%d alone, on the server against what d%d last wrote%n%s", record,
                                    writer.index, writer.index, trace())
                            .isEqualTo(writer.lastWritten.get(record));
                }
            }
        }

        void assertEveryAcknowledgedWriteIsAccountedFor() throws OutpostException {
            Set<Change.Origin> origins = new HashSet<>();
            for (Change change : server.changes(USER)) {
                if (change.origin() != null) {
                    origins.add(change.origin());
                }
            }
            for (Device device : devices) {
                String who = "d" + device.index;
                Map<String, OpInfo> ops = device.allOps();
                // No op claims APPLIED without its change in the server's log.
                for (OpInfo op : ops.values()) {
                    if (op.state() == OpState.APPLIED) {
                        assertThat(origins).as("%s: op %s (%s of %s) is APPLIED on the device; the server's log must have "
                                        + "its change%n%s", who, op.opId(), op.type(), op.recordId(), trace())
                                .contains(new Change.Origin(device.outpost.deviceId(), op.opId()));
                    }
                }
                for (Acked write : device.acked) {
                    String how = device.accountFor(write, ops, origins);
                    Statistics.label("acknowledged writes").collect(how == null ? "NOT ACCOUNTED FOR" : how);
                    if (write.midSync() != null) {
                        Statistics.label("acknowledged writes made during a sync's " + write.midSync().name().toLowerCase())
                                .collect(how == null ? "NOT ACCOUNTED FOR" : how);
                    }
                    if (how == null) {
                        fail("%s: the acknowledged write #%d (%s), carried by op %s, is not accounted for: its change is not "
                                        + "in the server's log, no conflict was recorded for it, it is not dead-lettered and "
                                        + "was not cancelled by the device's own delete; op now: %s; conflicts heard: %s%n%s",
                                who, write.step(), write.write(), write.opId(), ops.get(write.opId()), device.heard, trace());
                    }
                }
            }
        }

        String trace() {
            StringBuilder text = new StringBuilder("run:");
            for (String line : List.copyOf(trace)) {
                text.append(System.lineSeparator()).append("  ").append(line);
            }
            return text.toString();
        }

        @Override
        public void close() {
            for (Device device : devices) {
                try {
                    if (device.outpost != null) {
                        device.outpost.close();
                    }
                } catch (RuntimeException e) {
                    // closing the others matters more
                }
            }
            server.close();
            TestServer.deleteTree(dir);
        }
    }

    // ---- one device -------------------------------------------------------------------------

    /**
     * A write the device acknowledged: the call returned. {@code opId} is null when it queued
     * nothing; {@code midSync} says when a write made during a sync ran (null: between syncs).
     */
    record Acked(int step, Write write, String opId, How how, Phase midSync) {
    }

    /** What an acknowledged write did to the queue. */
    enum How {
        /** It changed nothing (same data, or a delete of a record the device did not have): no op. */
        NO_CHANGE,
        /** It went into an op: its own, new one, or the record's last unsent op. */
        QUEUED,
        /** A delete that cancelled the record's unsent CREATE (and the unsent updates after it). */
        CANCELLED_A_CREATE
    }

    /** A conflict the device told its listener of, and how it was settled. */
    record Heard(String opId, String recordId, Resolution.Kind settledBy) {
        @Override
        public String toString() {
            return recordId + ":" + opId + "=" + settledBy;
        }
    }

    private static final class Device {
        final int index;
        final World world;
        final FakeClock clock;
        final SwitchableTransport transport;
        Outpost outpost;
        final List<Acked> acked = new ArrayList<>();
        final List<Heard> heard = new CopyOnWriteArrayList<>();
        /** Op ids a write of this device cancelled (removed from the queue before they were sent), and by which step. */
        final Map<String, Integer> cancelled = new HashMap<>();
        /** Each record as the device showed it after its last acknowledged write that changed it (null: absent). */
        final Map<String, ObjectNode> lastWritten = new HashMap<>();
        /** The ops being pushed while a write made mid-sync runs (none otherwise). */
        Set<String> inFlight = Set.of();
        /** The phase of the sync a write made mid-sync runs in (null otherwise). */
        Phase midSyncPhase;
        /** What failed in a write made mid-sync, on the syncing thread; thrown after the sync. */
        Throwable midSyncFailure;
        /** Ops that were dead-lettered, and why; the app replayed them. */
        final Map<String, String> dead = new HashMap<>();

        Device(int index, int skewSeconds, World world) throws OutpostException {
            this.index = index;
            this.world = world;
            this.clock = new FakeClock(Instant.parse("2026-01-01T00:00:00Z").plusSeconds(skewSeconds));
            this.transport = new SwitchableTransport(Transport.http(URI.create(world.server.url()), Duration.ofSeconds(5)));
            this.outpost = open();
        }

        private Outpost open() throws OutpostException {
            OutpostConfig.Builder config = OutpostConfig.builder()
                    .syncPolicy(SyncPolicy.MANUAL)
                    .storeFile(world.dir.resolve("device-" + index + ".db"))
                    .transport(transport)
                    .tokenProvider(TokenProvider.fixed(world.server.token(USER)))
                    .clock(clock)
                    .durability(Durability.PROCESS_SAFE)
                    .pushBatchSize(world.batchSize)
                    .pullPageSize(world.batchSize)
                    .random(new SplittableRandom(index))
                    .conflictPolicy(NOTES, world.devicePolicy.policy())
                    .listener(new OutpostListener() {
                        @Override
                        public void conflictDetected(Conflict conflict, Resolution settledBy) {
                            heard.add(new Heard(conflict.opId(), conflict.recordId(), settledBy.kind()));
                        }
                    });
            if (world.devicePolicy.customResolver()) {
                config.conflictResolver(NOTES, RESOLVER);
            }
            return Outpost.open(config.build());
        }

        /** The app stops and starts again on the same store file. */
        void restart() throws OutpostException {
            outpost.close();
            outpost = null;
            outpost = open();
        }

        /** Applies a write, checks what it did to the local view and the queue, and remembers it if acknowledged. */
        String write(Write write, int step) throws OutpostException {
            Optional<LocalRecord> shown = outpost.get(NOTES, write.record());
            Optional<ObjectNode> before = shown.map(LocalRecord::data);
            List<OpInfo> opsBefore = recordOps(write.record());
            ObjectNode expected;
            switch (write.kind()) {
                case PUT -> {
                    outpost.put(NOTES, write.record(), write.data().deepCopy());
                    expected = JsonMergePatch.withoutNulls(write.data());
                }
                case UPDATE -> {
                    if (before.isEmpty()) {
                        try {
                            outpost.update(NOTES, write.record(), write.data().deepCopy());
                            fail("d%d: update of %s, which it does not have, succeeded%n%s", index, write.record(),
                                    world.trace());
                        } catch (OutpostException e) {
                            assertThat(e.code()).isEqualTo("RECORD_NOT_FOUND");
                        }
                        return "refused: RECORD_NOT_FOUND (not acknowledged)";
                    }
                    outpost.update(NOTES, write.record(), write.data().deepCopy());
                    expected = JsonMergePatch.withoutNulls(JsonMergePatch.apply(before.get().deepCopy(), write.data()));
                }
                case DELETE -> {
                    boolean existed = outpost.delete(NOTES, write.record());
                    assertThat(existed).as("d%d: delete of %s said whether it existed", index, write.record())
                            .isEqualTo(before.isPresent());
                    expected = null;
                }
                default -> throw new IllegalStateException();
            }
            Optional<ObjectNode> after = outpost.get(NOTES, write.record()).map(LocalRecord::data);
            assertThat(after.orElse(null)).as("d%d: %s as the device shows it after %s%n%s", index, write.record(), write,
                    world.trace()).isEqualTo(expected);

            List<OpInfo> opsAfter = recordOps(write.record());
            Set<String> idsBefore = ids(opsBefore);
            Set<String> idsAfter = ids(opsAfter);
            Set<String> vanished = new HashSet<>(idsBefore);
            vanished.removeAll(idsAfter);
            Set<String> appeared = new HashSet<>(idsAfter);
            appeared.removeAll(idsBefore);
            assertThat(appeared).as("d%d: ops queued by %s", index, write).hasSizeLessThanOrEqualTo(1);
            if (!vanished.isEmpty()) {
                // Only a delete may take ops back: the record's unsent CREATE and the unsent
                // UPDATEs after it.
                assertThat(write.kind()).as("d%d: %s removed ops %s from the queue%n%s", index, write, vanished, world.trace())
                        .isEqualTo(Kind.DELETE);
                assertThat(appeared).as("d%d: %s cancelled %s and queued", index, write, vanished).isEmpty();
                boolean first = true;
                for (OpInfo op : opsBefore) {
                    if (vanished.contains(op.opId())) {
                        assertThat(op.type()).as("d%d: the op %s cancelled%n%s", index, write, world.trace())
                                .isEqualTo(first ? dev.outpost.protocol.OpType.CREATE : dev.outpost.protocol.OpType.UPDATE);
                        cancelled.put(op.opId(), step);
                        first = false;
                    }
                }
                // With no op of the record left, what the device shows (absent) must be the server's
                // record as the device knows it: the CREATE must have been made over a record the
                // server does not have or has deleted. Over a live one the delete must go to the server.
                long known = shown.map(LocalRecord::version).orElse(0L);
                boolean opsLeft = opsAfter.stream().anyMatch(op -> op.state() == OpState.PENDING || op.state() == OpState.DEAD);
                if (!opsLeft && known > 0) {
                    Change underneath = world.server.changes(USER).stream()
                            .filter(change -> change.recordId().equals(write.record()) && change.version() == known)
                            .findFirst().orElseThrow();
                    assertThat(underneath.deleted())
                            .as("d%d: %s cancelled the unsent CREATE %s and left no op, so the device shows %s deleted; but "
                                            + "the server's record under that CREATE, version %d as the device knows it, is "
                                            + "live (%s): the delete never reaches the server and the device no longer shows "
                                            + "the server's record%n%s", index, write, vanished, write.record(), known,
                                    underneath.data(), world.trace())
                            .isTrue();
                }
                acked.add(new Acked(step, write, null, How.CANCELLED_A_CREATE, midSyncPhase));
                lastWritten.put(write.record(), null);
                return "cancelled the unsent CREATE " + vanished;
            }
            if (Objects.equals(before.orElse(null), after.orElse(null))) {
                assertThat(appeared).as("d%d: %s changed nothing yet queued", index, write).isEmpty();
                acked.add(new Acked(step, write, null, How.NO_CHANGE, midSyncPhase));
                return "no change";
            }
            OpInfo carrier = opsAfter.get(opsAfter.size() - 1);
            assertThat(carrier.state()).as("d%d: the op carrying %s%n%s", index, write, world.trace()).isEqualTo(OpState.PENDING);
            if (appeared.isEmpty()) {
                assertThat(inFlight).as("d%d: %s was folded into op %s while that op was being pushed%n%s", index, write,
                        carrier.opId(), world.trace()).doesNotContain(carrier.opId());
            } else {
                assertThat(appeared).as("d%d: the op queued by %s is the record's last", index, write).containsExactly(carrier.opId());
            }
            acked.add(new Acked(step, write, carrier.opId(), How.QUEUED, midSyncPhase));
            lastWritten.put(write.record(), after.orElse(null));
            return (appeared.isEmpty() ? "folded into " : "queued ") + carrier.type() + " " + carrier.opId();
        }

        String sync(boolean mustComplete) throws OutpostException {
            int cutsBefore = transport.cuts;
            return checked(outpost.sync(), cutsBefore, mustComplete);
        }

        /** Arms a write the app makes while the next sync pushes (before the push goes) or pulls. */
        void writeMidSync(MidSync step, int index) {
            transport.atNext(step.phase(), inFlight -> {
                this.inFlight = inFlight;
                this.midSyncPhase = step.phase();
                try {
                    world.trace.add("   (" + step.phase().name().toLowerCase() + " of d" + this.index + ", step " + index
                            + ") " + step.write() + " -> " + write(step.write(), index));
                } catch (Throwable e) {
                    midSyncFailure = e;
                } finally {
                    this.inFlight = Set.of();
                    this.midSyncPhase = null;
                }
            });
        }

        /** Checks how a sync that began with {@code cutsBefore} cuts ended, and says what it did. */
        String checked(SyncResult result, int cutsBefore, boolean mustComplete) {
            if (midSyncFailure != null) {
                Throwable failure = midSyncFailure;
                midSyncFailure = null;
                throw new AssertionError("d" + index + ": a write made mid-sync failed: " + failure + "\n" + world.trace(),
                        failure);
            }
            boolean cut = transport.cuts != cutsBefore;
            if (mustComplete || (transport.online && !cut)) {
                assertThat(result.status()).as("d%d: sync with the server reachable: %s%n%s", index, result, world.trace())
                        .isEqualTo(SyncResult.Status.COMPLETED);
            } else {
                assertThat(result.status()).as("d%d: sync with the server unreachable or cut: %s%n%s", index, result,
                        world.trace()).isEqualTo(!transport.online || transport.lastCut.network
                                ? SyncResult.Status.OFFLINE : SyncResult.Status.FAILED);
            }
            return result.status() + " " + result.pushed() + " pushed (" + result.applied() + " applied, " + result.merged()
                    + " merged, " + result.conflicts() + " conflicts, " + result.dead() + " dead), " + result.pulled()
                    + " pulled, " + result.pending() + " pending";
        }

        /**
         * The app puts every dead letter back in the queue (a 503 on an op sent alone, five
         * times, kills it; being offline never does), remembering why it died.
         */
        String replayDeadLetters() throws OutpostException {
            List<String> done = new ArrayList<>();
            for (DeadLetter letter : outpost.deadLetters()) {
                dead.put(letter.opId(), letter.reason());
                String id = outpost.replay(letter.opId());
                done.add(letter.recordId() + ":" + letter.opId() + (id.equals(letter.opId()) ? "" : " as " + id)
                        + " (" + letter.reason() + ")");
            }
            return done.isEmpty() ? "nothing dead" : String.join(", ", done);
        }

        /**
         * The app settles every conflict that waits for it: keeps the server's record, forces its
         * own change, or writes a merge of both, at random; with {@code serverOnly}, always the
         * server's record.
         */
        String resolveOpenConflicts(boolean serverOnly) throws OutpostException {
            List<String> done = new ArrayList<>();
            for (Conflict conflict : outpost.conflicts()) {
                int choice = serverOnly ? 0 : world.app.nextInt(3);
                Resolution resolution = switch (choice) {
                    case 0 -> Resolution.useServer();
                    case 1 -> Resolution.useLocal();
                    default -> {
                        ObjectNode merged = conflict.remote() != null ? conflict.remote().deepCopy()
                                : conflict.local() != null ? conflict.local().deepCopy()
                                : JsonNodeFactory.instance.objectNode();
                        if (conflict.local() != null) {
                            conflict.local().fields().forEachRemaining(field -> merged.set(field.getKey(), field.getValue()));
                        }
                        merged.put("c", world.app.nextInt(4));
                        yield Resolution.merged(merged);
                    }
                };
                outpost.resolveConflict(conflict.id(), resolution);
                heard.add(new Heard(conflict.opId(), conflict.recordId(), resolution.kind()));
                done.add(conflict.recordId() + ":" + conflict.opId() + " " + resolution);
            }
            return done.isEmpty() ? "nothing waits" : String.join(", ", done);
        }

        /**
         * How an acknowledged write is accounted for, or null if it is not: the change of the op
         * that carries it is in the server's log; or that op ended in a conflict the device
         * recorded (and its policy or the app settled) or the server answered CONFLICT (its
         * record kept, the answer stored with the op); or it was dead-lettered with a reason; or
         * the device's own later delete cancelled it before it was sent.
         */
        String accountFor(Acked write, Map<String, OpInfo> ops, Set<Change.Origin> origins) {
            if (write.how() == How.NO_CHANGE) {
                return "changed nothing, queued nothing";
            }
            if (write.how() == How.CANCELLED_A_CREATE) {
                return "a delete that cancelled the record's unsent create";
            }
            String opId = write.opId();
            if (cancelled.containsKey(opId)) {
                return "cancelled before it was sent by the device's own delete";
            }
            if (origins.contains(new Change.Origin(outpost.deviceId(), opId))) {
                return "applied (its change is in the server's log)";
            }
            Heard last = null;
            for (Heard each : heard) {
                if (each.opId().equals(opId)) {
                    last = each;
                }
            }
            if (last != null) {
                return "conflict recorded on the device, settled " + last.settledBy();
            }
            OpInfo op = ops.get(opId);
            if (op != null && op.state() == OpState.CONFLICT) {
                return "answered CONFLICT, the server's record kept (no conflict recorded on the device)";
            }
            String reason = dead.get(opId);
            if (reason != null && !reason.isBlank()) {
                return "dead-lettered with a reason (the app replayed it)";
            }
            return null;
        }

        List<OpInfo> recordOps(String record) throws OutpostException {
            return outpost.ops(OpQuery.builder().record(NOTES, record).limit(1000).build());
        }

        Map<String, OpInfo> allOps() throws OutpostException {
            Map<String, OpInfo> all = new LinkedHashMap<>();
            for (int offset = 0; ; offset += 1000) {
                List<OpInfo> page = outpost.ops(OpQuery.builder().offset(offset).limit(1000).build());
                page.forEach(op -> all.put(op.opId(), op));
                if (page.size() < 1000) {
                    return all;
                }
            }
        }

        private static Set<String> ids(List<OpInfo> ops) {
            Set<String> ids = new HashSet<>();
            ops.forEach(op -> ids.add(op.opId()));
            return ids;
        }
    }

    /** How a push fails when a {@link Cut} strikes. */
    enum CutMode {
        /** The connection breaks before the push reaches the server (NETWORK). */
        NETWORK_BEFORE_SERVER(true),
        /** The server takes and applies the push; the connection breaks before its answer arrives (NETWORK). */
        ANSWER_LOST(true),
        /** The server (or a proxy in front of it) answers 503 without taking the push. */
        HTTP_503_BEFORE_SERVER(false),
        /** The server applies the push, then the answer is replaced by a 503. */
        HTTP_503_AFTER_APPLY(false);

        final boolean network;

        CutMode(boolean network) {
            this.network = network;
        }
    }

    /**
     * The HTTP transport behind a switch. Offline, push and pull fail as an unreachable server
     * makes them fail (NETWORK, nothing sent). Armed with a cut, it lets a number of pushes
     * through, then fails the next push as the {@link CutMode} says.
     */
    static final class SwitchableTransport implements Transport {
        private final Transport http;
        volatile boolean online = true;
        /** Pushes to let through before the cut; -1: no cut armed. */
        volatile int passesBeforeCut = -1;
        volatile CutMode mode = CutMode.NETWORK_BEFORE_SERVER;
        volatile CutMode lastCut;
        volatile int cuts;
        /** A write the app makes while a sync talks to the server, at its next push or pull; null: none. */
        volatile Phase hookPhase;
        volatile java.util.function.Consumer<Set<String>> hook;

        void atNext(Phase phase, java.util.function.Consumer<Set<String>> write) {
            hookPhase = phase;
            hook = write;
        }

        /** Runs the armed write if this call is the phase it waits for; {@code inFlight}: the op ids being pushed. */
        private void fire(Phase phase, Set<String> inFlight) {
            java.util.function.Consumer<Set<String>> write = hook;
            if (write != null && hookPhase == phase) {
                hook = null;
                write.accept(inFlight);
            }
        }

        SwitchableTransport(Transport http) {
            this.http = http;
        }

        void arm(int passes, CutMode mode) {
            this.passesBeforeCut = passes;
            this.mode = mode;
        }

        void disarm() {
            passesBeforeCut = -1;
        }

        @Override
        public PushResponse push(PushRequest request, String token) throws OutpostException {
            Set<String> inFlight = new HashSet<>();
            request.ops().forEach(op -> inFlight.add(op.opId()));
            fire(Phase.PUSH, inFlight);
            if (!online) {
                throw offline();
            }
            if (passesBeforeCut == 0) {
                passesBeforeCut = -1;
                cuts++;
                lastCut = mode;
                if (mode == CutMode.ANSWER_LOST || mode == CutMode.HTTP_503_AFTER_APPLY) {
                    http.push(request, token);
                }
                if (mode.network) {
                    throw new OutpostException(OutpostException.Category.NETWORK, "CONNECTION_RESET", "injected: " + mode);
                }
                throw new OutpostException(OutpostException.Category.SERVER, "HTTP_503", "injected: " + mode);
            }
            if (passesBeforeCut > 0) {
                passesBeforeCut--;
            }
            return http.push(request, token);
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            fire(Phase.PULL, Set.of());
            if (!online) {
                throw offline();
            }
            return http.pull(cursor, limit, token);
        }

        private static OutpostException offline() {
            return new OutpostException(OutpostException.Category.NETWORK, "UNREACHABLE", "offline");
        }
    }

    /** Lets {@code -Doutpost.convergence.tries=N} run more (or fewer) tries than the annotation says. */
    static final class TriesFromSystemProperty implements AroundPropertyHook {
        @Override
        public PropertyExecutionResult aroundProperty(PropertyLifecycleContext context, PropertyExecutor property) {
            Integer tries = Integer.getInteger("outpost.convergence.tries");
            if (tries != null) {
                context.attributes().setTries(tries);
            }
            return property.execute();
        }
    }

    // ---- steps ------------------------------------------------------------------------------

    /** One step of a run, on one device. */
    sealed interface Step permits Write, MidSync, Sync, SyncAll, Offline, Online, Cut, Restart, Resolve {
        int device();
    }

    enum Kind { PUT, UPDATE, DELETE }

    /** A put (the whole record), an update (a merge patch) or a delete of one record. */
    record Write(int device, Kind kind, String record, ObjectNode data) implements Step {
        @Override
        public String toString() {
            return "d" + device + " " + kind.name().toLowerCase() + " " + record + (data == null ? "" : " " + data);
        }
    }

    /** When a sync talks to the server: before a push goes, or before a pull page is asked for. */
    enum Phase { PUSH, PULL }

    /**
     * A write the app makes while the device's next sync runs: on the syncing thread, just
     * before that sync's next push goes (its ops already marked sent) or before it asks for a
     * pull page, with no lock of the store held, as a write from another thread could land.
     */
    record MidSync(int device, Write write, Phase phase) implements Step {
        @Override
        public String toString() {
            return write + ", during d" + device + "'s next " + phase.name().toLowerCase();
        }
    }

    record Sync(int device) implements Step {
        @Override
        public String toString() {
            return "d" + device + " sync";
        }
    }

    /** Every device syncs at once (the step's device is only where it is listed). */
    record SyncAll(int device) implements Step {
        @Override
        public String toString() {
            return "all devices sync at once";
        }
    }

    record Offline(int device) implements Step {
        @Override
        public String toString() {
            return "d" + device + " goes offline";
        }
    }

    record Online(int device) implements Step {
        @Override
        public String toString() {
            return "d" + device + " goes online";
        }
    }

    /** The device's network lets {@code passes} more pushes through, then fails the next as {@code mode} says. */
    record Cut(int device, int passes, CutMode mode) implements Step {
        @Override
        public String toString() {
            return "d" + device + " lets " + passes + " more push(es) through, then " + mode;
        }
    }

    /** The app stops and starts again on the same store file. */
    record Restart(int device) implements Step {
        @Override
        public String toString() {
            return "d" + device + " restarts";
        }
    }

    /** The app settles the conflicts that wait for it on this device (PROMPT_USER). */
    record Resolve(int device) implements Step {
        @Override
        public String toString() {
            return "d" + device + " app settles its conflicts";
        }
    }

    private static Write put(int device, String record, String json) {
        return new Write(device, Kind.PUT, record, Wire.object(json));
    }

    private static Write update(int device, String record, String json) {
        return new Write(device, Kind.UPDATE, record, Wire.object(json));
    }

    private static Write delete(int device, String record) {
        return new Write(device, Kind.DELETE, record, null);
    }

    // ---- generators -------------------------------------------------------------------------

    @Provide
    Arbitrary<DeviceRule> deviceRules() {
        return Arbitraries.of(DeviceRule.all());
    }

    @Provide
    Arbitrary<List<Integer>> skews() {
        return Arbitraries.integers().between(-3, 3).list().ofSize(DEVICES);
    }

    @Provide
    Arbitrary<List<Step>> runs() {
        Arbitrary<Integer> device = Arbitraries.integers().between(0, DEVICES - 1);
        // Skewed towards n1, so that most runs have a record every device writes.
        Arbitrary<String> record = Arbitraries.frequency(Tuple.of(3, RECORDS.get(0)), Tuple.of(2, RECORDS.get(1)),
                Tuple.of(1, RECORDS.get(2)));
        Arbitrary<Write> puts = Combinators.combine(device, record, fields(1, false)).as((d, r, data) -> new Write(d, Kind.PUT, r, data));
        Arbitrary<Write> updates = Combinators.combine(device, record, fields(1, true))
                .as((d, r, data) -> new Write(d, Kind.UPDATE, r, data));
        Arbitrary<Write> deletes = Combinators.combine(device, record).as((d, r) -> new Write(d, Kind.DELETE, r, null));
        Arbitrary<Write> writes = Arbitraries.frequencyOf(Tuple.of(2, puts), Tuple.of(2, updates), Tuple.of(1, deletes));
        return Arbitraries.frequencyOf(
                        Tuple.<Integer, Arbitrary<? extends Step>>of(8, puts),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(8, updates),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(4, deletes),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(3, Combinators.combine(writes, Arbitraries.of(Phase.class))
                                .as((write, phase) -> new MidSync(write.device(), write, phase))),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(8, device.map(Sync::new)),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(2, Arbitraries.just(new SyncAll(0))),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(3, device.map(Offline::new)),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(3, device.map(Online::new)),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(3, Combinators.combine(device,
                                Arbitraries.integers().between(0, 2), Arbitraries.of(CutMode.class)).as(Cut::new)),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(1, device.map(Restart::new)),
                        Tuple.<Integer, Arbitrary<? extends Step>>of(2, device.map(Resolve::new)))
                .list().ofMinSize(10).ofMaxSize(40);
    }

    /** A record of one to three of the fields a, b, c (small ints or strings); a patch may also remove fields (null). */
    private static Arbitrary<ObjectNode> fields(int min, boolean patch) {
        List<Arbitrary<? extends JsonNode>> values = new ArrayList<>();
        values.add(Arbitraries.integers().between(0, 3).map(IntNode::valueOf));
        values.add(Arbitraries.of("x", "y").map(TextNode::valueOf));
        if (patch) {
            values.add(Arbitraries.just(NullNode.getInstance()));
        }
        return Arbitraries.maps(Arbitraries.of("a", "b", "c"), Arbitraries.oneOf(values)).ofMinSize(min).ofMaxSize(3)
                .map(map -> {
                    ObjectNode node = JsonNodeFactory.instance.objectNode();
                    new TreeMap<>(map).forEach(node::set);
                    return node;
                });
    }
}
