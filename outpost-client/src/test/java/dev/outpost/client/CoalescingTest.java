package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Coalescing merges writes in the queue itself: an unsent UPDATE followed by an UPDATE of the
 * same record is one op, and an unsent CREATE followed by a DELETE is none. Counted through the
 * inspection API and seen on the wire; an op the server may hold (sent, in flight, failed after
 * sending), a dead op and another record's op are never merged into.
 * ({@code QueueProperties.coalescingGivesTheSameServerResultAsNoCoalescing} shows the server's
 * result is the same either way.)
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
        Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve("device-" + opened.size() + ".db")).transport(transport)
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).coalescing(coalescing).clock(clock).build());
        opened.add(outpost);
        return outpost;
    }

    private static List<OpInfo> pendingOps(Outpost outpost) throws OutpostException {
        return outpost.ops(OpQuery.builder().states(OpState.PENDING).build());
    }

    @Test
    void anUnsentUpdateFollowedByAnUpdateOfTheSameRecordIsQueuedAsOneOp() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "n1", "{\"title\":\"draft\",\"body\":\"x\"}");
        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

        phone.update("notes", "n1", "{\"title\":\"second\"}");
        phone.update("notes", "n1", "{\"body\":null,\"tag\":\"t\"}");

        List<OpInfo> pending = pendingOps(phone);
        assertThat(pending).as("two updates of n1, queued").hasSize(1);
        assertThat(pending.get(0).type()).isEqualTo(OpType.UPDATE);
        assertThat(phone.queueStats().pending()).isEqualTo(1);
        assertThat(phone.queueStats().total()).as("the create and the one merged update").isEqualTo(2);

        transport.clear();
        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(transport.opsSent()).as("ops on the wire").hasSize(1);
        Operation sent = transport.opsSent().get(0);
        assertThat(sent.type()).isEqualTo(OpType.UPDATE);
        assertThat(sent.data()).isEqualTo(Wire.object("{\"title\":\"second\",\"body\":null,\"tag\":\"t\"}"));
        assertThat(server.records("ann").get("notes/n1")).isEqualTo(Wire.object("{\"title\":\"second\",\"tag\":\"t\"}"));
    }

    @Test
    void anUnsentCreateFollowedByUpdatesIsOneCreateOfTheLastState() throws Exception {
        Outpost phone = open(true);
        phone.put("notes", "n1", "{\"a\":1}");
        phone.update("notes", "n1", "{\"b\":2}");
        phone.put("notes", "n1", "{\"a\":3}");

        List<OpInfo> pending = pendingOps(phone);
        assertThat(pending).extracting(OpInfo::type).containsExactly(OpType.CREATE);
        phone.sync();
        assertThat(transport.opsSent()).extracting(Operation::type).containsExactly(OpType.CREATE);
        assertThat(transport.opsSent().get(0).data()).isEqualTo(Wire.object("{\"a\":3}"));
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
                .containsExactly("notes/n1:CREATE", "notes/n2:CREATE");
        phone.sync();
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
