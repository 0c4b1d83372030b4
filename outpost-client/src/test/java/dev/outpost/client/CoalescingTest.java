package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.server.OutpostServer;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Coalescing merges writes in the queue itself: the UPDATEs of a record after its first open
 * op are one op, and an unsent CREATE followed by a DELETE is none. Counted through the
 * inspection API and seen on the wire; a record's first op (it carries the version it was
 * written against), an op the server may hold (sent, in flight, failed after sending), a dead op
 * and another record's op are never merged into, and another device's write between two edits
 * leaves the server with what sending each edit alone leaves.
 * ({@code QueueProperties.coalescingGivesTheSameServerResultAsNoCoalescing} and
 * {@code ...WhileAnotherDeviceWrites} show the server's result is the same either way.)
 */
class CoalescingTest {
    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();
    private TestServer server;
    private RecordingTransport transport;
    private final List<Outpost> opened = new ArrayList<>();

    @BeforeEach
    void start() {
        server = TestServer.start();
        transport = new RecordingTransport(Transport.http(URI.create(server.url()), Duration.ofSeconds(10)));
    }

    @AfterEach
    void stop() {
        opened.forEach(Outpost::close);
        server.close();
    }

    private Outpost open(boolean coalescing) throws OutpostException {
        return open(coalescing, "ann");
    }

    private Outpost open(boolean coalescing, String user) throws OutpostException {
        Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve("device-" + opened.size() + ".db")).transport(transport)
                .tokenProvider(TokenProvider.fixed(server.token(user))).coalescing(coalescing).clock(clock).build());
        opened.add(outpost);
        return outpost;
    }

    /** Replaces the server with one configured by {@code configure}. */
    private void restartServer(UnaryOperator<OutpostServer.Builder> configure) {
        server.close();
        server = TestServer.start(configure);
        transport = new RecordingTransport(Transport.http(URI.create(server.url()), Duration.ofSeconds(10)));
    }

    private static void syncUntilNothingPending(Outpost device) throws OutpostException {
        for (int round = 0; round < 10 && device.pendingCount() > 0; round++) {
            assertThat(device.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        }
        assertThat(device.pendingCount()).isZero();
    }

    /**
     * Two devices of {@code user} and a record both hold: the phone, offline, writes
     * {@code firstEdit}; the laptop then writes {@code laptopEdit} and syncs; the phone then
     * writes {@code secondEdit}, 5 s after each write before it, and syncs. Returns the server's
     * record, after checking both devices show it.
     */
    private ObjectNode anotherDeviceWritesBetweenTwoEdits(boolean coalescing, String user, String collection, String initial,
            String firstEdit, String laptopEdit, String secondEdit) throws Exception {
        Outpost phone = open(coalescing, user);
        Outpost laptop = open(true, user);
        phone.put(collection, "r1", initial);
        syncUntilNothingPending(phone);
        laptop.sync();
        phone.update(collection, "r1", firstEdit);
        clock.advance(Duration.ofSeconds(5));
        laptop.update(collection, "r1", laptopEdit);
        syncUntilNothingPending(laptop);
        clock.advance(Duration.ofSeconds(5));
        phone.update(collection, "r1", secondEdit);
        syncUntilNothingPending(phone);
        laptop.sync();
        ObjectNode onServer = server.records(user).get(collection + "/r1");
        assertThat(phone.get(collection, "r1").orElseThrow().data()).as("the phone").isEqualTo(onServer);
        assertThat(laptop.get(collection, "r1").orElseThrow().data()).as("the laptop").isEqualTo(onServer);
        return onServer;
    }

    /**
     * Server and device settle conflicts in {@code notes} SERVER_WINS. The phone's first edit (of
     * f) conflicts with the laptop's and is dropped; its second edit (of g) conflicts with
     * nothing, and stays, with coalescing as without: the first edit of a synced record carries
     * the version it was made against and is never folded into, so its conflict is judged alone.
     */
    @Test
    void aConflictOnTheFirstEditDoesNotThrowAwayALaterEditOfAnotherField() throws Exception {
        String initial = "{\"f\":\"start\",\"g\":\"start\"}";
        ObjectNode expected = Wire.object("{\"f\":\"laptop\",\"g\":\"phone\"}");
        assertThat(anotherDeviceWritesBetweenTwoEdits(true, "ann", "notes", initial, "{\"f\":\"phone\"}",
                "{\"f\":\"laptop\"}", "{\"g\":\"phone\"}")).as("with coalescing").isEqualTo(expected);
        assertThat(anotherDeviceWritesBetweenTwoEdits(false, "bob", "notes", initial, "{\"f\":\"phone\"}",
                "{\"f\":\"laptop\"}", "{\"g\":\"phone\"}")).as("without coalescing").isEqualTo(expected);
    }

    /**
     * The server settles {@code posts} LAST_WRITE_WINS, the device LAST_MODIFIED_WINS (its
     * default for posts). The phone sets the title, the laptop sets it 5 s later, the phone sets
     * the body 5 s after that. The laptop's title is the later one and wins, with coalescing as
     * without: the phone's first edit keeps its own clock, and does not go out with its second
     * edit's later one.
     */
    @Test
    void anOlderEditDoesNotWinLastWriteWinsWithALaterEditsClock() throws Exception {
        restartServer(builder -> builder.conflictPolicy("posts", ConflictPolicy.LAST_WRITE_WINS));
        String initial = "{\"title\":\"start\",\"body\":\"start\"}";
        ObjectNode expected = Wire.object("{\"title\":\"B\",\"body\":\"phone\"}");
        assertThat(anotherDeviceWritesBetweenTwoEdits(true, "ann", "posts", initial, "{\"title\":\"A\"}",
                "{\"title\":\"B\"}", "{\"body\":\"phone\"}")).as("with coalescing").isEqualTo(expected);
        assertThat(anotherDeviceWritesBetweenTwoEdits(false, "bob", "posts", initial, "{\"title\":\"A\"}",
                "{\"title\":\"B\"}", "{\"body\":\"phone\"}")).as("without coalescing").isEqualTo(expected);
    }

    private static List<OpInfo> pendingOps(Outpost outpost) throws OutpostException {
        return outpost.ops(OpQuery.builder().states(OpState.PENDING).build());
    }

    @Test
    void theUpdatesOfARecordAfterItsFirstUnsentOneAreQueuedAsOneOp() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "n1", "{\"title\":\"draft\",\"body\":\"x\"}");
        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

        phone.update("notes", "n1", "{\"title\":\"second\"}");
        phone.update("notes", "n1", "{\"body\":null,\"tag\":\"t\"}");
        phone.update("notes", "n1", "{\"tag\":\"u\",\"extra\":1}");

        List<OpInfo> pending = pendingOps(phone);
        assertThat(pending).as("the first update of n1, then the other two as one").hasSize(2);
        assertThat(pending).extracting(OpInfo::type).containsExactly(OpType.UPDATE, OpType.UPDATE);
        assertThat(phone.queueStats().pending()).isEqualTo(2);
        assertThat(phone.queueStats().total()).as("the create, the first update and the merged one").isEqualTo(3);

        transport.clear();
        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(transport.opsSent()).as("ops on the wire").hasSize(2);
        assertThat(transport.opsSent().get(0).data()).as("the first update, as written")
                .isEqualTo(Wire.object("{\"title\":\"second\"}"));
        Operation merged = transport.opsSent().get(1);
        assertThat(merged.type()).isEqualTo(OpType.UPDATE);
        assertThat(merged.data()).isEqualTo(Wire.object("{\"body\":null,\"tag\":\"u\",\"extra\":1}"));
        assertThat(server.records("ann").get("notes/n1"))
                .isEqualTo(Wire.object("{\"title\":\"second\",\"tag\":\"u\",\"extra\":1}"));
    }

    @Test
    void anUnsentCreateStaysItsOwnOpAndTheUpdatesAfterItAreOne() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "n1", "{\"a\":1}");
        phone.update("notes", "n1", "{\"b\":2}");
        phone.put("notes", "n1", "{\"a\":3}");

        List<OpInfo> pending = pendingOps(phone);
        assertThat(pending).extracting(OpInfo::type).containsExactly(OpType.CREATE, OpType.UPDATE);
        phone.sync();
        assertThat(transport.opsSent()).extracting(Operation::type).containsExactly(OpType.CREATE, OpType.UPDATE);
        assertThat(transport.opsSent().get(0).data()).isEqualTo(Wire.object("{\"a\":1}"));
        assertThat(server.records("ann").get("notes/n1")).isEqualTo(Wire.object("{\"a\":3}"));
    }

    @Test
    void aCreateThenADeleteOfANeverSentRecordLeavesNoOpAndTheServerNeverSeesTheRecord() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "keep", "{\"a\":1}");
        phone.put("notes", "gone", "{\"a\":1}");
        phone.update("notes", "gone", "{\"b\":2}");
        assertThat(phone.delete("notes", "gone")).isTrue();

        assertThat(phone.ops(OpQuery.builder().record("notes", "gone").build())).as("ops of the cancelled record").isEmpty();
        assertThat(pendingOps(phone)).extracting(OpInfo::recordId).containsExactly("keep");
        assertThat(phone.queueStats().total()).isEqualTo(1);
        assertThat(phone.get("notes", "gone")).isEmpty();

        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(transport.opsSent()).extracting(Operation::recordId).containsExactly("keep");
        assertThat(server.changes("ann")).extracting(change -> change.recordId()).doesNotContain("gone");
        assertThat(server.records("ann")).containsOnlyKeys("notes/keep");
    }

    /**
     * The phone deletes r1; the laptop then edits it; the phone creates r1 again and deletes it
     * once more. The create waits behind the first delete, so it is not a new record's create:
     * the server still holds r1 (the first delete meets the laptop's edit and loses, SERVER_WINS),
     * and only the last delete removes it there. It is not cancelled against the create.
     */
    @Test
    void aDeleteOfARecreatedRecordIsNotCancelledWhileAnEarlierOpOfTheRecordWaits() throws Exception {
        for (boolean coalescing : new boolean[] {true, false}) {
            String user = coalescing ? "ann" : "bob";
            Outpost phone = open(coalescing, user);
            Outpost laptop = open(true, user);
            phone.put("notes", "r1", "{\"a\":1}");
            syncUntilNothingPending(phone);
            laptop.sync();
            assertThat(phone.delete("notes", "r1")).isTrue();
            laptop.update("notes", "r1", "{\"b\":2}");
            syncUntilNothingPending(laptop);
            phone.put("notes", "r1", "{\"a\":3}");
            assertThat(phone.delete("notes", "r1")).isTrue();
            assertThat(pendingOps(phone)).as("with coalescing %s", coalescing).extracting(OpInfo::type)
                    .containsExactly(OpType.DELETE, OpType.CREATE, OpType.DELETE);
            syncUntilNothingPending(phone);
            laptop.sync();
            assertThat(server.records(user)).as("with coalescing %s", coalescing).doesNotContainKey("notes/r1");
            assertThat(phone.get("notes", "r1")).isEmpty();
            assertThat(laptop.get("notes", "r1")).isEmpty();
        }
    }

    @Test
    void withCoalescingOffEveryWriteStaysItsOwnOpAndGoesToTheServer() throws Exception {
        Outpost phone = open(false);
        phone.put("notes", "n1", "{\"a\":1}");
        phone.sync();
        phone.update("notes", "n1", "{\"b\":2}");
        phone.update("notes", "n1", "{\"c\":3}");
        phone.put("notes", "gone", "{\"a\":1}");
        phone.delete("notes", "gone");

        assertThat(pendingOps(phone)).extracting(op -> op.recordId() + ":" + op.type())
                .containsExactly("n1:UPDATE", "n1:UPDATE", "gone:CREATE", "gone:DELETE");
        assertThat(phone.queueStats().pending()).isEqualTo(4);

        transport.clear();
        while (phone.pendingCount() > 0) {
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        }
        assertThat(transport.opsSent()).extracting(op -> op.recordId() + ":" + op.type())
                .containsExactlyInAnyOrder("n1:UPDATE", "n1:UPDATE", "gone:CREATE", "gone:DELETE");
        assertThat(server.changes("ann")).extracting(change -> change.recordId()).contains("gone");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
        assertThat(server.records("ann").get("notes/n1")).isEqualTo(Wire.object("{\"a\":1,\"b\":2,\"c\":3}"));
    }

    @Test
    void anOpInFlightIsNotMergedIntoAndItsRecordsLaterWritesFollowIt() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "n1", "{\"a\":1}");
        phone.put("notes", "n2", "{\"a\":1}");
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        transport.holdNextPush(entered, release);
        CompletableFuture<SyncResult> sync = phone.syncNow();
        assertThat(entered.await(30, TimeUnit.SECONDS)).as("the push is on its way").isTrue();

        phone.update("notes", "n1", "{\"b\":2}");
        assertThat(phone.delete("notes", "n2")).isTrue();
        assertThat(pendingOps(phone)).as("the sent creates and the later writes")
                .extracting(op -> op.recordId() + ":" + op.type())
                .containsExactly("n1:CREATE", "n2:CREATE", "n1:UPDATE", "n2:DELETE");

        release.countDown();
        assertThat(sync.get(30, TimeUnit.SECONDS).status()).isEqualTo(SyncResult.Status.COMPLETED);
        while (phone.pendingCount() > 0) {
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        }
        assertThat(transport.opsSent()).extracting(op -> op.recordId() + ":" + op.type())
                .containsExactlyInAnyOrder("n1:CREATE", "n2:CREATE", "n1:UPDATE", "n2:DELETE");
        assertThat(transport.opsSent().get(0).data()).as("the create as it was sent").isEqualTo(Wire.object("{\"a\":1}"));
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
        assertThat(server.records("ann").get("notes/n1")).isEqualTo(Wire.object("{\"a\":1,\"b\":2}"));
    }

    @Test
    void anOpWhoseAnswerWasLostIsNotMergedIntoAsTheServerMayHoldIt() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "n1", "{\"a\":1}");
        phone.put("notes", "n2", "{\"a\":1}");
        transport.loseNextAnswer();
        // A sync pulls after a failed push, and that pull would show the device what the server holds.
        transport.failNextPull();
        assertThat(phone.sync().status()).isNotEqualTo(SyncResult.Status.COMPLETED);
        assertThat(server.records("ann")).as("the server applied the push").containsKeys("notes/n1", "notes/n2");

        phone.update("notes", "n1", "{\"b\":2}");
        assertThat(phone.delete("notes", "n2")).isTrue();
        assertThat(pendingOps(phone)).extracting(op -> op.recordId() + ":" + op.type())
                .containsExactly("n1:CREATE", "n2:CREATE", "n1:UPDATE", "n2:DELETE");

        for (int round = 0; round < 20 && phone.pendingCount() > 0; round++) {
            clock.advance(Duration.ofSeconds(20));
            phone.sync();
        }
        assertThat(phone.pendingCount()).isZero();
        assertThat(server.records("ann")).as("n2 was created on the server, so its delete had to go there")
                .containsOnlyKeys("notes/n1");
        assertThat(server.records("ann").get("notes/n1")).isEqualTo(Wire.object("{\"a\":1,\"b\":2}"));
        assertThat(phone.queueStats().dead() + phone.queueStats().conflicts()).isZero();
    }

    @Test
    void aDeadOpIsNotMergedIntoAndTheWriteWaitsBehindIt() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "big", "{\"blob\":\"" + "x".repeat(300 * 1024) + "\"}");
        phone.sync();
        assertThat(phone.deadLetters()).hasSize(1);
        String dead = phone.deadLetters().get(0).opId();

        phone.update("notes", "big", "{\"blob\":\"small now\"}");
        List<OpInfo> ops = phone.ops(OpQuery.builder().record("notes", "big").build());
        assertThat(ops).extracting(OpInfo::state).containsExactly(OpState.DEAD, OpState.PENDING);
        assertThat(ops.get(1).waitingFor()).isEqualTo(dead);
        assertThat(phone.deadLetters().get(0).data().get("blob").asText()).as("the dead op's payload is untouched")
                .hasSize(300 * 1024);
    }

    @Test
    void aWriteOfAnotherRecordIsNeverMergedIn() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "n1", "{\"a\":1}");
        phone.put("notes", "n2", "{\"a\":1}");
        phone.put("tasks", "n1", "{\"a\":1}");
        phone.update("notes", "n2", "{\"b\":2}");
        phone.delete("tasks", "n1");

        assertThat(pendingOps(phone)).extracting(op -> op.collection() + "/" + op.recordId() + ":" + op.type())
                .containsExactly("notes/n1:CREATE", "notes/n2:CREATE", "notes/n2:UPDATE");
        syncUntilNothingPending(phone);
        assertThat(server.records("ann").get("notes/n1")).isEqualTo(Wire.object("{\"a\":1}"));
        assertThat(server.records("ann").get("notes/n2")).isEqualTo(Wire.object("{\"a\":1,\"b\":2}"));
        assertThat(server.records("ann")).doesNotContainKey("tasks/n1");
    }

    /** The HTTP transport, recording each op sent; it can hold a push, or lose a push's answer after the server applied it. */
    static final class RecordingTransport implements Transport {
        private final Transport http;
        private final List<Operation> sent = new ArrayList<>();
        private CountDownLatch entered;
        private CountDownLatch release;
        private boolean loseAnswer;
        private boolean failPull;

        RecordingTransport(Transport http) {
            this.http = http;
        }

        @Override
        public PushResponse push(PushRequest request, String token) throws OutpostException {
            CountDownLatch hold;
            CountDownLatch go;
            boolean lose;
            synchronized (this) {
                sent.addAll(request.ops());
                hold = entered;
                go = release;
                lose = loseAnswer;
                entered = null;
                release = null;
                loseAnswer = false;
            }
            if (hold != null) {
                hold.countDown();
                try {
                    go.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            PushResponse response = http.push(request, token);
            if (lose) {
                throw new OutpostException(OutpostException.Category.SERVER, "HTTP_503", "injected: the answer was lost");
            }
            return response;
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            boolean fail;
            synchronized (this) {
                fail = failPull;
                failPull = false;
            }
            if (fail) {
                throw new OutpostException(OutpostException.Category.SERVER, "HTTP_503", "injected: the pull failed");
            }
            return http.pull(cursor, limit, token);
        }

        /** Fails the next pull, so that it does not show the device what the server holds. */
        synchronized void failNextPull() {
            failPull = true;
        }

        synchronized void holdNextPush(CountDownLatch entered, CountDownLatch release) {
            this.entered = entered;
            this.release = release;
        }

        synchronized void loseNextAnswer() {
            loseAnswer = true;
        }

        synchronized List<Operation> opsSent() {
            return List.copyOf(sent);
        }

        synchronized void clear() {
            sent.clear();
        }
    }
}
