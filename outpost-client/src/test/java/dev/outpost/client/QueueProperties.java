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
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterProperty;
import net.jqwik.api.lifecycle.BeforeProperty;

/**
 * Properties of the op queue ({@code internal/OpQueue}) seen from outside: through the
 * {@link Outpost} facade, a real SQLite store file per try and a real server on a loopback port
 * (one per property; each try writes as a fresh user, so tries never see each other's records).
 * A {@link RecordingTransport} around the HTTP transport records every push attempt and can
 * fail chosen attempts with a 503, before or after the server took the request.
 */
class QueueProperties {
    private static final String NOTES = "notes";
    /** Comfortably longer than the longest retry wait of {@link #RETRY}. */
    private static final Duration PAST_ANY_RETRY = Duration.ofSeconds(17);
    private static final RetryPolicy RETRY = new RetryPolicy(50, Duration.ofSeconds(1), Duration.ofSeconds(16), 0);
    private static final Priority[] HIGHEST_FIRST = {Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.LOW};
    /** The default weights, indexed by {@link Priority#ordinal()}: LOW 1, NORMAL 2, HIGH 4, CRITICAL 8. */
    private static final int[] WEIGHTS = {1, 2, 4, 8};
    private static final int ALL_WEIGHTS = 15;

    private final AtomicInteger users = new AtomicInteger();
    private TestServer server;

    @BeforeProperty
    void startServer() {
        server = TestServer.start();
    }

    @AfterProperty
    void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    // ---- 1. per-record order ----------------------------------------------------------------

    /**
     * Whatever the mix of priorities, records (chains of up to 30 writes over 5 records), batch
     * sizes, syncs in between and failed pushes (a 503 before the server saw the push, or after
     * it applied it, or every op of the push rejected, which dead-letters them), the ops of each
     * record reach the server in the order they were written: no op is ever sent while an
     * earlier op of its record has not been confirmed by the server, unless that earlier op goes
     * before it in the same push; a dead op holds its record's later ops until the app replays
     * it (an op replayed under a new id counts as the op it was). Every write that changed the
     * record is sent exactly as its own op (coalescing is off), and in the end the server holds
     * what the device shows.
     */
    @Property(tries = 50)
    void perRecordOrderHoldsForAnyMixOfPrioritiesAndRecords(
            @ForAll("writesAndSyncs") List<Action> actions,
            @ForAll @IntRange(min = 1, max = 7) int batchSize,
            @ForAll("faultPlans") List<Fault> faults) throws Exception {
        try (Device device = new Device(false, batchSize, faults, RETRY)) {
            Map<String, List<OpType>> written = new HashMap<>();
            for (Action action : actions) {
                if (action instanceof Sync) {
                    device.outpost.sync();
                    continue;
                }
                boolean liveBefore = device.outpost.get(NOTES, action.id()).isPresent();
                int pendingBefore = device.outpost.pendingCount();
                device.apply(action);
                int queued = device.outpost.pendingCount() - pendingBefore;
                assertThat(queued).as("ops queued by %s without coalescing", action).isBetween(0, 1);
                if (queued == 1) {
                    written.computeIfAbsent(action.id(), id -> new ArrayList<>()).add(expectedType(action, liveBefore));
                }
            }
            device.syncReplayingUntilNothingPending();

            List<Attempt> attempts = device.attemptsAsWritten();
            assertNoOpOvertakesItsRecord(attempts, device.pullsAsWritten());
            Map<String, List<Operation>> firstSent = firstSentPerRecord(attempts);
            for (String id : union(written.keySet(), firstSent.keySet())) {
                List<Operation> sent = firstSent.getOrDefault(id, List.of());
                assertThat(sent).extracting(Operation::type)
                        .as("ops of %s in the order they first went out (%s), against the writes that changed it", id, sent)
                        .containsExactlyElementsOf(written.getOrDefault(id, List.of()));
                assertHlcsIncrease(id, sent);
            }
            QueueStats stats = device.outpost.queueStats();
            assertThat(stats.dead()).as("dead ops").isZero();
            assertThat(stats.conflicts()).as("conflicts of a device with itself").isZero();
            assertThat(device.localView()).as("the device's records against the server's").isEqualTo(serverView(device.user));
        }
    }

    // ---- 2. no priority starves ---------------------------------------------------------------

    /**
     * With ops on distinct records (no chains, so every op is ready) the queue shares the pushes
     * out by smooth weighted round robin (SWRR) over the priorities that still have ops, with
     * weights LOW 1, NORMAL 2, HIGH 4, CRITICAL 8 (W = 15), ties to the higher priority, and the
     * round robin carried from batch to batch. What that guarantees, and what is checked here on
     * the sequence of ops sent (all batches in push order):
     *
     * <ul>
     *   <li>Exactly the SWRR sequence: the reference model below, run on the same op counts.</li>
     *   <li>Fair share while nothing runs out: as long as every priority that had ops still has
     *       some (set S, weight W_S), every W_S consecutive ops hold exactly w_p ops of each p in
     *       S. With all four: every 15 consecutive ops are 8 CRITICAL, 4 HIGH, 2 NORMAL, 1 LOW
     *       (the period is C H C N C H C L C H C N C H C). So a batch of 15 or more drawn then
     *       holds every priority; a smaller one need not: the first batch of 4 is C H C N.</li>
     *   <li>No starvation: the first op of every priority with ops is among the first 15 ops
     *       sent (one round of the weights, in which LOW, weight 1 of 15, has one slot), so it is
     *       in one of the first ceil(15 / B) batches. A priority running out early reorders that
     *       round but never pushes a first turn out of it: enumerating the model over every count
     *       from 0 to 16 per priority (counts above 15 act like 15 for the first 15 ops), LOW's
     *       first op is never later than the 11th, NORMAL's the 5th, HIGH's the 2nd.</li>
     *   <li>Not claimed: one LOW op in every 15 after some priority has run out. SWRR keeps the
     *       emptied priority's current weight aside, and the model then has LOW gaps of up to 18
     *       ops (for example 15 CRITICAL, 6 HIGH, 3 NORMAL, 2 LOW); that is a longer wait, not
     *       starvation.</li>
     *   <li>Batches are full: every batch but the last holds B ops.</li>
     *   <li>Within a priority, ops go in the order they were written.</li>
     * </ul>
     */
    @Property(tries = 40)
    void noPriorityStarves(
            @ForAll @IntRange(min = 0, max = 25) int low,
            @ForAll @IntRange(min = 0, max = 25) int normal,
            @ForAll @IntRange(min = 0, max = 25) int high,
            @ForAll @IntRange(min = 0, max = 25) int critical,
            @ForAll @IntRange(min = 1, max = 16) int batchSize) throws Exception {
        Assume.that(low + normal + high + critical > 0);
        Map<Priority, Integer> counts = new EnumMap<>(Priority.class);
        counts.put(Priority.LOW, low);
        counts.put(Priority.NORMAL, normal);
        counts.put(Priority.HIGH, high);
        counts.put(Priority.CRITICAL, critical);
        // The order the queue gives its ops out in is seen here one request at a time: requests on
        // their way together may reach the server in any order among themselves.
        try (Device device = new Device(true, batchSize, List.of(), RETRY, 1)) {
            writeDistinctRecords(device, counts);
            assertThat(device.outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

            List<Attempt> attempts = device.transport.attempts();
            List<Operation> sent = attempts.stream().flatMap(attempt -> attempt.ops().stream()).toList();
            List<Priority> order = sent.stream().map(Operation::priority).toList();
            int total = low + normal + high + critical;
            assertThat(order).as("priorities of the ops sent, in push order").containsExactlyElementsOf(swrr(counts));

            for (int i = 0; i < attempts.size() - 1; i++) {
                assertThat(attempts.get(i).ops()).as("batch %d of %d ops", i, total).hasSize(batchSize);
            }
            assertThat(attempts).hasSize((total + batchSize - 1) / batchSize);

            Set<Priority> present = new HashSet<>();
            counts.forEach((priority, count) -> {
                if (count > 0) {
                    present.add(priority);
                }
            });
            int fixedPhase = firstRunOut(order, counts);
            int period = present.stream().mapToInt(p -> WEIGHTS[p.ordinal()]).sum();
            for (int start = 0; start + period <= fixedPhase; start++) {
                List<Priority> window = order.subList(start, start + period);
                for (Priority priority : present) {
                    assertThat(window.stream().filter(priority::equals).count())
                            .as("%s in the ops %d to %d, sent while all of %s still had ops: %s", priority, start,
                                    start + period - 1, present, window)
                            .isEqualTo(WEIGHTS[priority.ordinal()]);
                }
            }
            for (Priority priority : present) {
                int first = order.indexOf(priority);
                assertThat(first).as("position of the first %s op among %s", priority, order).isLessThan(ALL_WEIGHTS);
                assertThat(first / batchSize).as("batch of the first %s op", priority)
                        .isLessThan((ALL_WEIGHTS + batchSize - 1) / batchSize);
            }
            for (Priority priority : present) {
                List<String> hlcs = sent.stream().filter(op -> op.priority() == priority).map(Operation::hlc).toList();
                assertThat(hlcs).as("%s ops in the order they were written", priority).isSorted();
            }
        }
    }

    /**
     * With chains of writes on the same records (coalescing off, so each write that changes a
     * record is its own op, and it raises its record's earlier ops to its priority) and failed
     * pushes (a 503 before or after the server, which ends the sync, or every op rejected and
     * dead-lettered, replayed by the app after the sync), no priority starves: each priority
     * that a record's first op has when the device starts syncing has an op among the first 15
     * ops sent, over all the syncs it takes and counting failed pushes. Failures and answers only
     * take ops out of the draw or bring a record's next op or a retried op in, and none of that
     * takes a turn from a priority that still has ops. In the end every op has reached the
     * server and the server holds what the device shows.
     */
    @Property(tries = 40)
    void noPriorityStarvesAmidChainsAndFailures(
            @ForAll("chainedWrites") List<Put> writes,
            @ForAll @IntRange(min = 1, max = 16) int batchSize,
            @ForAll("faultPlans") List<Fault> faults) throws Exception {
        try (Device device = new Device(false, batchSize, faults, RETRY, 1)) {
            for (Put put : writes) {
                device.apply(put);
            }
            List<OpInfo> queued = device.outpost.ops(OpQuery.builder().states(OpState.PENDING).limit(1000).build());
            Map<String, Priority> headPriority = new HashMap<>();
            for (OpInfo op : queued) {
                headPriority.putIfAbsent(op.recordId(), op.priority());
            }

            device.syncReplayingUntilNothingPending();

            List<Attempt> attempts = device.transport.attempts();
            List<Priority> order = attempts.stream().flatMap(attempt -> attempt.ops().stream()).map(Operation::priority)
                    .toList();
            for (Priority priority : new HashSet<>(headPriority.values())) {
                assertThat(order.indexOf(priority))
                        .as("position of the first %s op among those sent %s; pushes: %s", priority, order, attempts)
                        .isBetween(0, ALL_WEIGHTS - 1);
            }
            Set<String> sent = new HashSet<>();
            device.attemptsAsWritten().forEach(attempt -> attempt.ops().forEach(op -> sent.add(op.opId())));
            assertThat(sent).as("ops that reached the server").containsAll(queued.stream().map(OpInfo::opId).toList());
            assertThat(device.outpost.queueStats().dead()).isZero();
            assertThat(device.localView()).as("the device's records against the server's").isEqualTo(serverView(device.user));
        }
    }

    // ---- 3. higher priorities first -----------------------------------------------------------

    /**
     * With only CRITICAL (weight 8) and LOW (weight 1) ops on distinct records and one op per
     * batch, SWRR over W = 9 gives CRITICAL 8 of every 9 batches and LOW the 5th of each 9:
     * C C C C L C C C C. So the first 9 batches are exactly 8 CRITICAL and 1 LOW, the LOW one
     * 5th; and while both have ops, after n batches LOW has had floor((n + 4) / 9) of them.
     */
    @Property(tries = 30)
    void higherPrioritiesGoFirstAcrossRecords(
            @ForAll @IntRange(min = 8, max = 30) int critical,
            @ForAll @IntRange(min = 1, max = 6) int low) throws Exception {
        Map<Priority, Integer> counts = new EnumMap<>(Priority.class);
        counts.put(Priority.CRITICAL, critical);
        counts.put(Priority.LOW, low);
        // One request at a time, as in noPriorityStarves.
        try (Device device = new Device(true, 1, List.of(), RETRY, 1)) {
            writeDistinctRecords(device, counts);
            assertThat(device.outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

            List<Priority> batches = device.transport.attempts().stream()
                    .map(attempt -> {
                        assertThat(attempt.ops()).hasSize(1);
                        return attempt.ops().get(0).priority();
                    })
                    .toList();
            assertThat(batches).hasSize(critical + low);
            List<Priority> firstNine = batches.subList(0, 9);
            assertThat(firstNine).as("the first 9 batches").containsExactly(Priority.CRITICAL, Priority.CRITICAL,
                    Priority.CRITICAL, Priority.CRITICAL, Priority.LOW, Priority.CRITICAL, Priority.CRITICAL,
                    Priority.CRITICAL, Priority.CRITICAL);
            int lowSoFar = 0;
            int criticalSoFar = 0;
            for (int n = 1; n <= batches.size(); n++) {
                if (batches.get(n - 1) == Priority.LOW) {
                    lowSoFar++;
                } else {
                    criticalSoFar++;
                }
                if (lowSoFar == low || criticalSoFar == critical) {
                    break; // one of them ran out; the other takes the rest
                }
                assertThat(lowSoFar).as("LOW batches among the first %d: %s", n, batches).isEqualTo((n + 4) / 9);
            }
        }
    }

    // ---- 4. coalescing changes nothing on the server -----------------------------------------

    /**
     * The same writes (puts, merge patches with nested objects and nulls, deletes) and syncs,
     * applied to one device with coalescing and one without (each its own user), leave the two
     * users' records on the server equal, each device showing its server's records, and the
     * coalescing device never sends more ops. Both devices show the same records after every
     * write, too.
     */
    @Property(tries = 40)
    void coalescingGivesTheSameServerResultAsNoCoalescing(
            @ForAll("writesAndSyncs") List<Action> actions,
            @ForAll @IntRange(min = 1, max = 7) int batchSize) throws Exception {
        assertSameServerResultWithAndWithoutCoalescing(actions, batchSize, false);
    }

    /**
     * As {@link #coalescingGivesTheSameServerResultAsNoCoalescing}, with a second device of each
     * user that, between the first device's writes, pulls, edits a record it holds and pushes
     * at once (the same edit for both users, as both second devices hold the same records: the
     * two servers are equal whenever neither first device is syncing). So a first device's
     * queued ops meet changes they were not written against, and conflicts, settled by the
     * default SERVER_WINS on server and device. Both first devices then meet the same conflicts,
     * and every device ends showing its server's records.
     */
    @Property(tries = 25)
    void coalescingGivesTheSameServerResultAsNoCoalescingWhileAnotherDeviceWrites(
            @ForAll("writesSyncsAndWritesElsewhere") List<Action> actions,
            @ForAll @IntRange(min = 1, max = 7) int batchSize) throws Exception {
        assertSameServerResultWithAndWithoutCoalescing(actions, batchSize, true);
    }

    private void assertSameServerResultWithAndWithoutCoalescing(List<Action> actions, int batchSize, boolean elsewhere)
            throws Exception {
        try (Device coalescing = new Device(true, batchSize, List.of(), RETRY);
                Device plain = new Device(false, batchSize, List.of(), RETRY);
                Device coalescingsOther = new Device(coalescing.user, true, batchSize, List.of(), RETRY, null);
                Device plainsOther = new Device(plain.user, true, batchSize, List.of(), RETRY, null)) {
            for (Action action : actions) {
                if (action instanceof Sync) {
                    assertThat(coalescing.outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
                    assertThat(plain.outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
                    continue;
                }
                if (action instanceof Elsewhere write) {
                    coalescingsOther.writeElsewhere(write);
                    plainsOther.writeElsewhere(write);
                    assertThat(coalescingsOther.localView()).as("the second devices after %s", write)
                            .isEqualTo(plainsOther.localView());
                    continue;
                }
                coalescing.apply(action);
                plain.apply(action);
                assertThat(coalescing.outpost.get(NOTES, action.id()).map(LocalRecord::data))
                        .as("%s as each device shows it after %s", action.id(), action)
                        .isEqualTo(plain.outpost.get(NOTES, action.id()).map(LocalRecord::data));
            }
            coalescing.syncUntilNothingPending();
            plain.syncUntilNothingPending();

            Map<String, ObjectNode> withCoalescing = serverView(coalescing.user);
            Map<String, ObjectNode> without = serverView(plain.user);
            assertThat(withCoalescing).as("the server's records written with coalescing, against without").isEqualTo(without);
            assertThat(coalescing.localView()).as("the coalescing device against its server").isEqualTo(withCoalescing);
            assertThat(plain.localView()).as("the other device against its server").isEqualTo(without);
            assertThat(coalescing.opsSent()).as("ops sent with coalescing").isLessThanOrEqualTo(plain.opsSent());
            if (elsewhere) {
                assertThat(coalescingsOther.outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
                assertThat(plainsOther.outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
                assertThat(coalescingsOther.localView()).as("the coalescing user's second device").isEqualTo(withCoalescing);
                assertThat(plainsOther.localView()).as("the other user's second device").isEqualTo(without);
                assertThat(coalescing.outpost.queueStats().conflicts()).as("conflicts met with coalescing, against without")
                        .isEqualTo(plain.outpost.queueStats().conflicts());
            }
            for (Device device : List.of(coalescing, plain)) {
                QueueStats stats = device.outpost.queueStats();
                assertThat(stats.dead() + (elsewhere ? 0 : stats.conflicts())).as("dead ops (and, alone, conflicts)").isZero();
            }
        }
    }

    // ---- 5. a priority upgrade keeps the record's order ---------------------------------------

    /**
     * A LOW write then a CRITICAL write of the same record, among other records' writes of any
     * priority: the CRITICAL write raises the LOW op to CRITICAL (it goes on the wire as
     * CRITICAL) but the LOW op still goes first and the CRITICAL one never overtakes it, even
     * when the LOW op was already in a push that failed before the upgrade.
     */
    @Property(tries = 40)
    void aPriorityUpgradeNeverReordersARecord(
            @ForAll("otherWrites") List<Put> before,
            @ForAll("otherWrites") List<Put> between,
            @ForAll("otherWrites") List<Put> after,
            @ForAll @IntRange(min = 1, max = 7) int batchSize,
            @ForAll boolean lowOpFailsOnceFirst,
            @ForAll("patches") ObjectNode patch) throws Exception {
        List<Fault> faults = lowOpFailsOnceFirst ? List.of(Fault.BEFORE_SERVER) : List.of();
        try (Device device = new Device(false, batchSize, faults, RETRY)) {
            for (Put put : before) {
                device.apply(put);
            }
            device.outpost.put(NOTES, "target", object("{\"v\":\"low\",\"keep\":{\"k\":1}}"), Priority.LOW);
            boolean lowOpInFailedPush = false;
            if (lowOpFailsOnceFirst) {
                device.outpost.sync();
                lowOpInFailedPush = device.transport.attempts().stream()
                        .anyMatch(attempt -> attempt.ops().stream().anyMatch(op -> op.recordId().equals("target")));
            }
            for (Put put : between) {
                device.apply(put);
            }
            // A push sent alongside the failed one may have been applied with its answer set
            // aside; the same sync's pull then shows the device so, and the LOW op is done.
            boolean lowOpPending = !device.outpost.ops(OpQuery.builder().record(NOTES, "target")
                    .states(OpState.PENDING).build()).isEmpty();
            ObjectNode critical = patch.deepCopy().put("v", "critical");
            device.outpost.update(NOTES, "target", critical, Priority.CRITICAL);
            for (Put put : after) {
                device.apply(put);
            }
            device.syncUntilNothingPending();

            List<Attempt> attempts = device.transport.attempts();
            assertNoOpOvertakesItsRecord(attempts, device.transport.pulls());
            List<Operation> target = firstSentPerRecord(attempts).get("target");
            assertThat(target).extracting(Operation::type).as("the target's ops in the order they first went out")
                    .containsExactly(OpType.CREATE, OpType.UPDATE);
            assertHlcsIncrease("target", target);
            String lowOpId = target.get(0).opId();
            Operation lowOpLastSent = attempts.stream().flatMap(attempt -> attempt.ops().stream())
                    .filter(op -> op.opId().equals(lowOpId)).reduce((first, second) -> second).orElseThrow();
            if (lowOpPending) {
                assertThat(lowOpLastSent.priority()).as("priority of the LOW op once a CRITICAL op of its record was written"
                        + (lowOpInFailedPush ? " (its first push failed)" : "")).isEqualTo(Priority.CRITICAL);
            } else {
                assertThat(device.outpost.ops(OpQuery.builder().states(OpState.APPLIED).build()))
                        .extracting(OpInfo::opId).as("the LOW op, applied before the CRITICAL one was written").contains(lowOpId);
            }
            assertThat(target.get(1).priority()).isEqualTo(Priority.CRITICAL);
            assertThat(serverView(device.user).get("target")).as("the target on the server")
                    .isEqualTo(device.outpost.get(NOTES, "target").orElseThrow().data());
        }
    }

    // ---- 6. a stuck record holds up no other record --------------------------------------------

    /**
     * The class javadoc of the queue: "ops of different records never wait for each other". A
     * push fails (503) and its ops are set to retry later (or, with one attempt allowed, are
     * dead-lettered); more writes follow, some on those records; then, without waiting out any
     * retry, a sync completes. Every record none of whose ops was in the failed push must then
     * be synced: its ops were ready and owed nothing to the stuck records.
     */
    @Property(tries = 40)
    void aStuckRecordHoldsUpNoOtherRecord(
            @ForAll("writes") List<Action> first,
            @ForAll("writes") List<Action> then,
            @ForAll @IntRange(min = 1, max = 5) int batchSize,
            @ForAll boolean deadLetter) throws Exception {
        RetryPolicy retry = deadLetter ? new RetryPolicy(0, Duration.ofSeconds(1), Duration.ofSeconds(16), 0) : RETRY;
        try (Device device = new Device(false, batchSize, List.of(Fault.BEFORE_SERVER), retry)) {
            for (Action action : first) {
                device.apply(action);
            }
            device.outpost.sync();
            device.transport.stopFaults();
            Set<String> stuck = new HashSet<>();
            device.transport.attempts().forEach(attempt -> attempt.ops().forEach(op -> stuck.add(op.recordId())));
            for (Action action : then) {
                device.apply(action);
            }
            SyncResult result = device.outpost.sync();

            assertThat(result.status()).as("a sync with nothing failing: %s", result).isEqualTo(SyncResult.Status.COMPLETED);
            Map<String, SyncState> states = new TreeMap<>();
            for (LocalRecord record : device.outpost.list(NOTES)) {
                states.put(record.id(), record.state());
            }
            Map<String, SyncState> others = new TreeMap<>(states);
            others.keySet().removeAll(stuck);
            assertThat(others).as("records with no op in the failed push %s (all records: %s; pushes: %s)",
                    stuck, states, device.transport.attempts()).doesNotContainValue(SyncState.PENDING);
            Map<String, ObjectNode> onServer = serverView(device.user);
            Map<String, ObjectNode> local = device.localView();
            for (String id : union(onServer.keySet(), local.keySet())) {
                if (!stuck.contains(id)) {
                    assertThat(onServer.get(id)).as("%s on the server", id).isEqualTo(local.get(id));
                }
            }
        }
    }

    // ---- generators -------------------------------------------------------------------------

    @Provide
    Arbitrary<List<Action>> writesAndSyncs() {
        return Arbitraries.frequencyOf(
                        Tuple.<Integer, Arbitrary<? extends Action>>of(4, puts()),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(4, updates()),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(1, deletes()),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(1, Arbitraries.just(new Sync())))
                .list().ofMinSize(1).ofMaxSize(30);
    }

    /**
     * Writes of two records only, so that a record often gets an edit, another device's write
     * and a second edit in a row, between syncs.
     */
    @Provide
    Arbitrary<List<Action>> writesSyncsAndWritesElsewhere() {
        Arbitrary<String> ids = Arbitraries.of("r1", "r2");
        Arbitrary<Priority> priorities = Arbitraries.of(Priority.class);
        return Arbitraries.frequencyOf(
                        Tuple.<Integer, Arbitrary<? extends Action>>of(3, Combinators.combine(ids, object(2), priorities)
                                .as(Put::new)),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(5, Combinators.combine(ids, object(2), priorities)
                                .as(Update::new)),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(1, Combinators.combine(ids, priorities)
                                .as(Delete::new)),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(1, Arbitraries.just(new Sync())),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(3,
                                Combinators.combine(ids, object(2)).as(Elsewhere::new)))
                .list().ofMinSize(1).ofMaxSize(30);
    }

    @Provide
    Arbitrary<List<Action>> writes() {
        return Arbitraries.frequencyOf(
                        Tuple.<Integer, Arbitrary<? extends Action>>of(4, puts()),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(4, updates()),
                        Tuple.<Integer, Arbitrary<? extends Action>>of(1, deletes()))
                .list().ofMaxSize(20);
    }

    /** Puts on up to 12 records, so some records get chains of several ops. */
    @Provide
    Arbitrary<List<Put>> chainedWrites() {
        return Combinators.combine(Arbitraries.integers().between(1, 12).map(i -> "c" + i), object(1),
                Arbitraries.of(Priority.class)).as(Put::new).list().ofMinSize(1).ofMaxSize(40);
    }

    @Provide
    Arbitrary<List<Put>> otherWrites() {
        return puts().list().ofMaxSize(8);
    }

    @Provide
    Arbitrary<List<Fault>> faultPlans() {
        return Arbitraries.frequency(
                        Tuple.of(5, Fault.NONE),
                        Tuple.of(1, Fault.BEFORE_SERVER),
                        Tuple.of(1, Fault.AFTER_SERVER),
                        Tuple.of(1, Fault.REJECTED))
                .list().ofMaxSize(12);
    }

    @Provide
    Arbitrary<ObjectNode> patches() {
        return object(2);
    }

    private static Arbitrary<String> ids() {
        return Arbitraries.integers().between(1, 5).map(i -> "r" + i);
    }

    private static Arbitrary<Put> puts() {
        return Combinators.combine(ids(), object(2), Arbitraries.of(Priority.class)).as(Put::new);
    }

    private static Arbitrary<Update> updates() {
        return Combinators.combine(ids(), object(2), Arbitraries.of(Priority.class)).as(Update::new);
    }

    private static Arbitrary<Delete> deletes() {
        return Combinators.combine(ids(), Arbitraries.of(Priority.class)).as(Delete::new);
    }

    /** A JSON object of up to three fields, nesting {@code depth} more levels; fields may be null. */
    private static Arbitrary<ObjectNode> object(int depth) {
        return Arbitraries.maps(Arbitraries.of("a", "b", "c"), value(depth)).ofMaxSize(3).map(fields -> {
            ObjectNode node = JsonNodeFactory.instance.objectNode();
            new TreeMap<>(fields).forEach(node::set);
            return node;
        });
    }

    private static Arbitrary<JsonNode> value(int depth) {
        List<Arbitrary<? extends JsonNode>> choices = new ArrayList<>();
        choices.add(Arbitraries.integers().between(0, 2).map(IntNode::valueOf));
        choices.add(Arbitraries.of("x", "y").map(TextNode::valueOf));
        choices.add(Arbitraries.just(NullNode.getInstance()));
        if (depth > 0) {
            choices.add(object(depth - 1));
        }
        return Arbitraries.oneOf(choices);
    }

    // ---- actions ----------------------------------------------------------------------------

    /** One step of a generated run. */
    sealed interface Action permits Put, Update, Delete, Sync, Elsewhere {
        default String id() {
            return null;
        }
    }

    record Put(String id, ObjectNode data, Priority priority) implements Action {
        @Override
        public String toString() {
            return "put " + id + " " + data + " " + priority;
        }
    }

    record Update(String id, ObjectNode patch, Priority priority) implements Action {
        @Override
        public String toString() {
            return "update " + id + " " + patch + " " + priority;
        }
    }

    record Delete(String id, Priority priority) implements Action {
        @Override
        public String toString() {
            return "delete " + id + " " + priority;
        }
    }

    /** A second device of the user pulls, applies {@code patch} to the record if it holds it, and pushes. */
    record Elsewhere(String id, ObjectNode patch) implements Action {
        @Override
        public String toString() {
            return "elsewhere " + id + " " + patch;
        }
    }

    record Sync() implements Action {
        @Override
        public String toString() {
            return "sync";
        }
    }

    private static OpType expectedType(Action write, boolean liveBefore) {
        if (write instanceof Put) {
            return liveBefore ? OpType.UPDATE : OpType.CREATE;
        }
        if (write instanceof Update) {
            return OpType.UPDATE;
        }
        if (write instanceof Delete) {
            return OpType.DELETE;
        }
        throw new IllegalArgumentException("a sync queues no op");
    }

    // ---- checks -----------------------------------------------------------------------------

    /**
     * No op goes out in any push attempt while an earlier op of its record (one with a smaller
     * HLC, which a device issues in write order) has not yet been confirmed, unless that earlier
     * op precedes it in the same push. An op is confirmed by a push the server answered, or by a
     * pull that returned the change the op made (its answer was lost, but the server applied it).
     */
    private static void assertNoOpOvertakesItsRecord(List<Attempt> attempts, List<Pull> pulls) {
        Map<String, Map<String, Operation>> opsPerRecord = new HashMap<>();
        for (Attempt attempt : attempts) {
            for (Operation op : attempt.ops()) {
                Operation known = opsPerRecord.computeIfAbsent(op.recordId(), id -> new HashMap<>()).putIfAbsent(op.opId(), op);
                if (known != null) {
                    assertThat(known.hlc()).as("hlc of op %s when sent again", op.opId()).isEqualTo(op.hlc());
                    assertThat(known.type()).as("type of op %s when sent again", op.opId()).isEqualTo(op.type());
                }
            }
        }
        Set<String> confirmed = new HashSet<>();
        for (int a = 0; a < attempts.size(); a++) {
            for (Pull pull : pulls) {
                if (pull.afterPushes() <= a) {
                    confirmed.addAll(pull.originOpIds());
                }
            }
            Attempt attempt = attempts.get(a);
            Set<String> earlierInPush = new HashSet<>();
            for (Operation op : attempt.ops()) {
                for (Operation other : opsPerRecord.get(op.recordId()).values()) {
                    if (other.hlc().compareTo(op.hlc()) < 0 && !confirmed.contains(other.opId())
                            && !earlierInPush.contains(other.opId())) {
                        fail("push %d sent %s %s of %s (hlc %s) while the earlier %s (hlc %s) was neither confirmed "
                                        + "nor ahead of it in that push; pushes: %s", a, op.type(), op.opId(), op.recordId(),
                                op.hlc(), other.type(), other.hlc(), attempts);
                    }
                }
                earlierInPush.add(op.opId());
            }
            if (attempt.fault() == Fault.NONE) {
                confirmed.addAll(earlierInPush);
            }
        }
    }

    private static Map<String, List<Operation>> firstSentPerRecord(List<Attempt> attempts) {
        Map<String, List<Operation>> perRecord = new LinkedHashMap<>();
        Set<String> seen = new HashSet<>();
        for (Attempt attempt : attempts) {
            for (Operation op : attempt.ops()) {
                if (seen.add(op.opId())) {
                    perRecord.computeIfAbsent(op.recordId(), id -> new ArrayList<>()).add(op);
                }
            }
        }
        return perRecord;
    }

    private static void assertHlcsIncrease(String id, List<Operation> ops) {
        for (int i = 1; i < ops.size(); i++) {
            assertThat(ops.get(i).hlc()).as("hlc of op %d of %s, sent after %s", i, id, ops.get(i - 1))
                    .isGreaterThan(ops.get(i - 1).hlc());
        }
    }

    /** The index of the first op after which some priority had no ops left (the list's size if none ran out before the end). */
    private static int firstRunOut(List<Priority> order, Map<Priority, Integer> counts) {
        Map<Priority, Integer> left = new EnumMap<>(counts);
        for (int i = 0; i < order.size(); i++) {
            if (left.merge(order.get(i), -1, Integer::sum) == 0) {
                return i + 1;
            }
        }
        return order.size();
    }

    /**
     * The reference model: smooth weighted round robin (as in nginx) over the priorities with
     * ops left, weights 1, 2, 4, 8, each turn to the highest current weight with ties to the
     * higher priority; a priority with no ops left takes no part and keeps its current weight.
     */
    static List<Priority> swrr(Map<Priority, Integer> counts) {
        Map<Priority, Integer> left = new EnumMap<>(counts);
        long[] current = new long[4];
        List<Priority> order = new ArrayList<>();
        while (left.values().stream().anyMatch(n -> n > 0)) {
            long total = 0;
            Priority best = null;
            for (Priority priority : HIGHEST_FIRST) {
                if (left.getOrDefault(priority, 0) == 0) {
                    continue;
                }
                current[priority.ordinal()] += WEIGHTS[priority.ordinal()];
                total += WEIGHTS[priority.ordinal()];
                if (best == null || current[priority.ordinal()] > current[best.ordinal()]) {
                    best = priority;
                }
            }
            current[best.ordinal()] -= total;
            left.merge(best, -1, Integer::sum);
            order.add(best);
        }
        return order;
    }

    private static void writeDistinctRecords(Device device, Map<Priority, Integer> counts) throws OutpostException {
        Map<Priority, Integer> left = new EnumMap<>(counts);
        int n = 0;
        while (left.values().stream().anyMatch(c -> c > 0)) {
            for (Priority priority : Priority.values()) {
                if (left.getOrDefault(priority, 0) > 0) {
                    left.merge(priority, -1, Integer::sum);
                    device.outpost.put(NOTES, "d" + n, object("{\"n\":" + n + "}"), priority);
                    n++;
                }
            }
        }
    }

    private static <T> Set<T> union(Set<T> a, Set<T> b) {
        Set<T> all = new HashSet<>(a);
        all.addAll(b);
        return all;
    }

    private static ObjectNode object(String json) {
        return dev.outpost.protocol.Wire.object(json);
    }

    /** A user's records on the server: every change pulled from the start, folded per record. */
    private Map<String, ObjectNode> serverView(String user) throws OutpostException {
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        Map<String, ObjectNode> view = new HashMap<>();
        String cursor = null;
        PullResponse page;
        do {
            page = http.pull(cursor, 1000, server.token(user));
            for (Change change : page.changes()) {
                assertThat(change.collection()).isEqualTo(NOTES);
                if (change.deleted()) {
                    view.remove(change.recordId());
                } else {
                    view.put(change.recordId(), change.data());
                }
            }
            cursor = page.cursor();
        } while (page.hasMore());
        return view;
    }

    // ---- parts ------------------------------------------------------------------------------

    /** What the recording transport does to one push attempt. */
    enum Fault {
        /** Passes it on. */
        NONE,
        /** Answers 503 without passing it on. */
        BEFORE_SERVER,
        /** Passes it on, the server applies it, then answers 503 instead of the server's answer. */
        AFTER_SERVER,
        /**
         * Answers every op REJECTED (a validation error) without passing it on, so the device
         * dead-letters them; a push holding an op the server was passed before is passed on
         * instead, as the server answers that op DUPLICATE.
         */
        REJECTED
    }

    /** One push attempt: the ops in the order sent, and what the transport did with it. */
    record Attempt(List<Operation> ops, Fault fault) {
        @Override
        public String toString() {
            StringBuilder text = new StringBuilder(fault == Fault.NONE ? "[" : fault + "[");
            for (Operation op : ops) {
                text.append(' ').append(op.recordId()).append(':').append(op.type()).append('/').append(op.priority())
                        .append('@').append(op.hlc(), 0, Math.min(19, op.hlc().length()));
            }
            return text.append(" ]").toString();
        }
    }

    /** One pull: how many push attempts came before it, and the op ids of the changes it returned. */
    record Pull(int afterPushes, Set<String> originOpIds) {
    }

    /** The HTTP transport, recording every push and failing the attempts its plan names. */
    static final class RecordingTransport implements Transport {
        private final Transport http;
        private List<Fault> plan;
        private final List<Attempt> attempts = new ArrayList<>();
        private final List<Pull> pulls = new ArrayList<>();
        /** The ids of the ops passed on to the server. */
        private final Set<String> passedOn = new HashSet<>();

        RecordingTransport(Transport http, List<Fault> plan) {
            this.http = http;
            this.plan = List.copyOf(plan);
        }

        @Override
        public synchronized PushResponse push(PushRequest request, String token) throws OutpostException {
            int index = attempts.size();
            Fault fault = index < plan.size() ? plan.get(index) : Fault.NONE;
            if (fault == Fault.REJECTED && request.ops().stream().anyMatch(op -> passedOn.contains(op.opId()))) {
                // The server answers an op it has seen with that op's first outcome (DUPLICATE):
                // a validation error can only meet an op the first time the server sees it.
                fault = Fault.NONE;
            }
            attempts.add(new Attempt(request.ops(), fault));
            if (fault == Fault.BEFORE_SERVER) {
                throw new OutpostException(OutpostException.Category.SERVER, "HTTP_503",
                        "injected: push " + index + " failed before reaching the server");
            }
            if (fault == Fault.REJECTED) {
                return new PushResponse(request.ops().stream()
                        .map(op -> OpResult.rejected(op.opId(), "INJECTED_REJECTION", "injected: push " + index + " rejected"))
                        .toList());
            }
            request.ops().forEach(op -> passedOn.add(op.opId()));
            PushResponse response = http.push(request, token);
            if (fault == Fault.AFTER_SERVER) {
                throw new OutpostException(OutpostException.Category.SERVER, "HTTP_503",
                        "injected: the server applied push " + index + " but its answer was replaced by a 503");
            }
            return response;
        }

        @Override
        public synchronized PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            PullResponse response = http.pull(cursor, limit, token);
            Set<String> origins = new HashSet<>();
            response.changes().forEach(change -> origins.add(change.origin().opId()));
            pulls.add(new Pull(attempts.size(), origins));
            return response;
        }

        synchronized List<Pull> pulls() {
            return List.copyOf(pulls);
        }

        /** Passes every later push on. */
        synchronized void stopFaults() {
            plan = List.of();
        }

        synchronized List<Attempt> attempts() {
            return List.copyOf(attempts);
        }
    }

    /** One device of a try: a fresh user, store file, fake clock and recording transport. */
    private final class Device implements AutoCloseable {
        final String user;
        final FakeClock clock = new FakeClock();
        final RecordingTransport transport;
        final Outpost outpost;
        private final Path dir;

        Device(boolean coalescing, int batchSize, List<Fault> faults, RetryPolicy retry) throws OutpostException {
            this(coalescing, batchSize, faults, retry, null);
        }

        /** A device sending {@code pushesInFlight} requests at once; null for the client's default. */
        Device(boolean coalescing, int batchSize, List<Fault> faults, RetryPolicy retry, Integer pushesInFlight)
                throws OutpostException {
            this("u" + users.incrementAndGet(), coalescing, batchSize, faults, retry, pushesInFlight);
        }

        /** A device of {@code user}, who may have others. */
        Device(String user, boolean coalescing, int batchSize, List<Fault> faults, RetryPolicy retry,
                Integer pushesInFlight) throws OutpostException {
            this.user = user;
            try {
                dir = Files.createTempDirectory("outpost-queue-");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            transport = new RecordingTransport(Transport.http(URI.create(server.url()), Duration.ofSeconds(5)), faults);
            OutpostConfig.Builder config = OutpostConfig.builder();
            if (pushesInFlight != null) {
                config.pushesInFlight(pushesInFlight);
            }
            outpost = Outpost.open(config.syncPolicy(SyncPolicy.MANUAL)
                    .storeFile(dir.resolve("device.db"))
                    .transport(transport)
                    .tokenProvider(TokenProvider.fixed(server.token(user)))
                    .clock(clock)
                    .coalescing(coalescing)
                    .pushBatchSize(batchSize)
                    .retryPolicy(retry)
                    .random(new SplittableRandom(7))
                    .durability(Durability.PROCESS_SAFE)
                    .build());
        }

        /** Applies a write; an update of a record the device does not have is refused, as documented. */
        void apply(Action action) throws OutpostException {
            if (action instanceof Put put) {
                outpost.put(NOTES, put.id(), put.data().deepCopy(), put.priority());
            } else if (action instanceof Update update) {
                boolean live = outpost.get(NOTES, update.id()).isPresent();
                try {
                    outpost.update(NOTES, update.id(), update.patch().deepCopy(), update.priority());
                    assertThat(live).as("%s succeeded on a record the device does not have", update).isTrue();
                } catch (OutpostException e) {
                    assertThat(live).as("%s refused (%s) on a live record", update, e).isFalse();
                    assertThat(e.code()).isEqualTo("RECORD_NOT_FOUND");
                }
            } else if (action instanceof Delete delete) {
                outpost.delete(NOTES, delete.id(), delete.priority());
            } else {
                outpost.sync();
            }
        }

        /** Pulls, applies the write if the device holds the record, and pushes it. */
        void writeElsewhere(Elsewhere write) throws OutpostException {
            assertThat(outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
            if (outpost.get(NOTES, write.id()).isPresent()) {
                outpost.update(NOTES, write.id(), write.patch().deepCopy(), Priority.NORMAL);
                syncUntilNothingPending();
            }
        }

        /** Syncs, letting the clock pass every retry wait, until no op is pending. */
        void syncUntilNothingPending() throws OutpostException {
            for (int round = 0; round < 100; round++) {
                SyncResult result = outpost.sync();
                if (result.status() == SyncResult.Status.COMPLETED && result.pending() == 0) {
                    return;
                }
                clock.advance(PAST_ANY_RETRY);
            }
            fail("ops still pending after 100 syncs: %s; pushes: %s", outpost.queueStats(), transport.attempts());
        }

        /** The app's replays: the id each dead op was replayed under, to the id it was written with. */
        private final Map<String, String> replayedAs = new HashMap<>();

        /**
         * As {@link #syncUntilNothingPending}, replaying every dead op after each sync (as the app
         * does once it has fixed what was wrong), until nothing is pending or dead.
         */
        void syncReplayingUntilNothingPending() throws OutpostException {
            for (int round = 0; round < 100; round++) {
                SyncResult result = outpost.sync();
                List<DeadLetter> dead = outpost.deadLetters();
                if (result.status() == SyncResult.Status.COMPLETED && result.pending() == 0 && dead.isEmpty()) {
                    return;
                }
                for (DeadLetter letter : dead) {
                    String replayed = outpost.replay(letter.opId());
                    replayedAs.put(replayed, writtenAs(letter.opId()));
                }
                clock.advance(PAST_ANY_RETRY);
            }
            fail("ops still pending after 100 syncs: %s; pushes: %s", outpost.queueStats(), transport.attempts());
        }

        /** The id an op was written with, through any replays under new ids. */
        String writtenAs(String opId) {
            String id = opId;
            while (replayedAs.containsKey(id) && !replayedAs.get(id).equals(id)) {
                id = replayedAs.get(id);
            }
            return id;
        }

        /** The push attempts, each op under the id it was written with. */
        List<Attempt> attemptsAsWritten() {
            return transport.attempts().stream().map(attempt -> new Attempt(attempt.ops().stream()
                    .map(op -> new Operation(writtenAs(op.opId()), op.collection(), op.recordId(), op.type(), op.baseVersion(),
                            op.data(), op.hlc(), op.priority(), op.scope()))
                    .toList(), attempt.fault())).toList();
        }

        /** The pulls, each change's origin op under the id it was written with. */
        List<Pull> pullsAsWritten() {
            return transport.pulls().stream().map(pull -> {
                Set<String> origins = new HashSet<>();
                pull.originOpIds().forEach(id -> origins.add(writtenAs(id)));
                return new Pull(pull.afterPushes(), origins);
            }).toList();
        }

        Map<String, ObjectNode> localView() throws OutpostException {
            Map<String, ObjectNode> view = new HashMap<>();
            for (LocalRecord record : outpost.list(NOTES)) {
                view.put(record.id(), record.data());
            }
            return view;
        }

        /** Distinct ops the server was sent. */
        long opsSent() {
            return transport.attempts().stream().flatMap(attempt -> attempt.ops().stream()).map(Operation::opId)
                    .distinct().count();
        }

        @Override
        public void close() {
            outpost.close();
            TestServer.deleteTree(dir);
        }
    }
}
