package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.Operation;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.io.RandomAccessFile;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failure modes a review of the queue found, each once a way to lose, double-apply or strand a
 * write: request-level refusals, look-alike sealed values, answers lost until an op died, a
 * single op that makes the server fail, stale follow-on edits, and a store restored from a
 * backup answering DUPLICATE.
 */
class QueueFailureModesTest {
    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();
    private TestServer server;
    private Faulty transport;

    @BeforeEach
    void start() {
        server = TestServer.start();
        transport = new Faulty(Transport.http(URI.create(server.url()), Duration.ofSeconds(5)));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** The real HTTP transport, failing pushes that match a rule, before or after the server saw them. */
    static final class Faulty implements Transport {
        private final Transport http;
        volatile Predicate<PushRequest> failBefore = request -> false;
        volatile Predicate<PushRequest> failAfter = request -> false;
        /** Whether pulls fail too, with the same failure, so that no pull shows what the server has. */
        volatile boolean failPulls;
        volatile OutpostException failure = new OutpostException(OutpostException.Category.SERVER, "HTTP_503", "injected");
        final List<PushRequest> sent = new ArrayList<>();

        Faulty(Transport http) {
            this.http = http;
        }

        @Override
        public synchronized PushResponse push(PushRequest request, String token) throws OutpostException {
            sent.add(request);
            if (failBefore.test(request)) {
                throw failure;
            }
            PushResponse response = http.push(request, token);
            if (failAfter.test(request)) {
                throw failure;
            }
            return response;
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            if (failPulls) {
                throw failure;
            }
            return http.pull(cursor, limit, token);
        }
    }

    private Outpost device(String name, OutpostConfig.Builder extra) throws OutpostException {
        return Outpost.open(extra.storeFile(dir.resolve(name + ".db")).transport(transport).clock(clock)
                .random(new SplittableRandom(3)).retryPolicy(new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofSeconds(16), 0))
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
    }

    /** Syncs, letting each retry fall due, until an op is dead-lettered. */
    private void syncUntilDead(Outpost phone) throws OutpostException {
        for (int round = 0; round < 10 && phone.deadLetters().isEmpty(); round++) {
            phone.sync();
            clock.advance(Duration.ofSeconds(20));
        }
    }

    private static boolean carries(PushRequest request, String recordId) {
        return request.ops().stream().anyMatch(op -> op.recordId().equals(recordId));
    }

    @Test
    void aRefusalOfTheWholeRequestDeadLettersNothingAndCountsNoAttempt() throws Exception {
        transport.failure = new OutpostException(OutpostException.Category.VALIDATION, "DEVICE_NOT_OWNED", "device bound elsewhere");
        transport.failBefore = request -> true;
        try (Outpost phone = device("phone", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL))) {
            for (int i = 0; i < 8; i++) {
                phone.put("notes", "n" + i, "{}");
            }
            SyncResult result = phone.sync();
            assertThat(result.status()).isEqualTo(SyncResult.Status.FAILED);
            assertThat(result.dead()).isZero();
            assertThat(phone.deadLetters()).isEmpty();
            assertThat(phone.pendingCount()).isEqualTo(8);
            assertThat(phone.ops(OpQuery.builder().build())).allSatisfy(op -> assertThat(op.attempts()).isZero());
        }
    }

    @Test
    void anOpThatMakesTheServerFailEndsUpAloneAndTheOthersGetThrough() throws Exception {
        transport.failBefore = request -> carries(request, "n0");
        try (Outpost phone = device("phone", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL))) {
            for (int i = 0; i < 5; i++) {
                phone.put("notes", "n" + i, "{}");
            }
            for (int round = 0; round < 40 && phone.pendingCount() > 0; round++) {
                phone.sync();
                clock.advance(Duration.ofSeconds(20));
            }
            assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/n2", "notes/n3", "notes/n4");
            assertThat(phone.deadLetters()).extracting(DeadLetter::recordId).containsExactly("n0");
            assertThat(phone.deadLetters().get(0).attempts()).as("its first attempt and 5 retries").isEqualTo(6);
        }
    }

    @Test
    void anOpAppliedWhoseAnswersWereLostUntilItDiedIsRecognisedWhenItsChangeIsPulled() throws Exception {
        // A sync pulls after a failed push, and that pull would show the server has the op.
        transport.failAfter = request -> carries(request, "m1");
        transport.failPulls = true;
        try (Outpost phone = device("phone", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL))) {
            phone.put("notes", "m1", "{\"t\":\"x\"}");
            syncUntilDead(phone);
            assertThat(phone.deadLetters()).hasSize(1);
            String opId = phone.deadLetters().get(0).opId();

            transport.failAfter = request -> false;
            transport.failPulls = false;
            phone.sync();
            assertThat(phone.deadLetters()).as("the pull showed the server has it").isEmpty();
            assertThat(phone.ops(OpQuery.builder().states(OpState.APPLIED).build()))
                    .extracting(OpInfo::opId).containsExactly(opId);
            assertThat(server.changes("ann")).hasSize(1);
            assertThat(phone.get("notes", "m1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        }
    }

    @Test
    void anOpAppliedWhoseAnswerWasLostIsRecognisedByThePullOfTheSameSync() throws Exception {
        transport.failAfter = request -> carries(request, "m1");
        try (Outpost phone = device("phone", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL))) {
            phone.put("notes", "m1", "{\"t\":\"x\"}");

            SyncResult result = phone.sync();

            assertThat(result.status()).as("the push failed").isEqualTo(SyncResult.Status.FAILED);
            assertThat(phone.pendingCount()).as("the pull showed the server has it").isZero();
            assertThat(phone.ops(OpQuery.builder().states(OpState.APPLIED).build())).hasSize(1);
            assertThat(phone.get("notes", "m1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
            clock.advance(Duration.ofSeconds(20));
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(transport.sent).as("so it is not sent again").hasSize(1);
            assertThat(phone.get("notes", "m1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        }
    }

    @Test
    void aReplayOfAnOpTheServerNeverAnsweredKeepsItsIdSoItIsNotAppliedTwice() throws Exception {
        // A sync pulls after a failed push, and that pull would show the server has the op.
        transport.failAfter = request -> carries(request, "m1");
        transport.failPulls = true;
        try (Outpost phone = device("phone", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL))) {
            phone.put("notes", "m1", "{\"t\":\"x\"}");
            syncUntilDead(phone);
            String opId = phone.deadLetters().get(0).opId();
            transport.failAfter = request -> false;
            transport.failPulls = false;

            assertThat(phone.replay(opId)).isEqualTo(opId);
            phone.sync();
            assertThat(server.changes("ann")).as("applied once").hasSize(1);
            assertThat(phone.pendingCount()).isZero();
            assertThat(phone.deadLetters()).isEmpty();
        }
    }

    @Test
    void anEditWrittenBehindAnotherOpGoesWithTheVersionThatOpMadeSoAStaleEditConflicts() throws Exception {
        try (Outpost phone = device("phone", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).coalescing(false));
                Outpost laptop = device("laptop", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL))) {
            phone.put("notes", "n1", "{\"t\":\"first\"}");
            phone.update("notes", "n1", "{\"t\":\"mine\"}");
            transport.failBefore = request -> request.ops().stream().anyMatch(op -> op.type() == dev.outpost.protocol.OpType.UPDATE
                    && request.deviceId().equals(phone.deviceId()));
            phone.sync();
            assertThat(server.changes("ann")).as("the create went, the edit failed").hasSize(1);

            transport.failBefore = request -> false;
            laptop.sync();
            laptop.update("notes", "n1", "{\"t\":\"theirs\"}");
            laptop.sync();
            phone.sync();
            clock.advance(Duration.ofSeconds(20));
            SyncResult result = phone.sync();

            Operation edit = transport.sent.get(transport.sent.size() - 1).ops().get(0);
            assertThat(edit.baseVersion()).as("the version the create made").isEqualTo(1L);
            assertThat(result.conflicts()).isEqualTo(1);
            assertThat(server.records("ann").get("notes/n1").get("t").asText()).isEqualTo("theirs");
            assertThat(phone.get("notes", "n1").orElseThrow().data().get("t").asText()).isEqualTo("theirs");
        }
    }

    @Test
    void aValueThatOnlyLooksSealedIsDataAndNeverStopsThePull() throws Exception {
        String lookalike = "{\"$outpost_sealed\":\"v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}";
        String broken = "{\"$outpost_sealed\":\"v1:!!not base64!!\"}";
        try (Outpost writer = device("writer", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL));
                Outpost reader = device("reader", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).sensitiveFields("calls", "number"))) {
            writer.put("calls", "c1", "{\"note\":" + lookalike + ",\"number\":" + broken + "}");
            writer.put("calls", "c2", "{\"note\":\"after\"}");
            writer.sync();

            SyncResult result = reader.sync();
            assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(reader.get("calls", "c1").orElseThrow().data()).isEqualTo(
                    Wire.object("{\"note\":" + lookalike + ",\"number\":" + broken + "}"));
            assertThat(reader.get("calls", "c2")).isPresent();
        }
    }

    @Test
    void aStoreRestoredFromABackupConvergesWhenItsOpIsAnsweredDuplicate() throws Exception {
        Path file = dir.resolve("restored.db");
        OutpostConfig.Builder config = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL);
        try (Outpost phone = device("restored", config)) {
            phone.put("notes", "n1", "{\"a\":1}");
            phone.backup();
            phone.update("notes", "n1", "{\"b\":2}");
            phone.sync();
        }
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() / 2);
        }
        try (Outpost phone = device("restored", OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL))) {
            assertThat(phone.openReport().mode()).isEqualTo(OpenReport.Mode.RECOVERED_FROM_BACKUP);
            phone.sync();
            phone.sync();
            assertThat(phone.get("notes", "n1").orElseThrow().data()).isEqualTo(server.records("ann").get("notes/n1"));
            assertThat(phone.get("notes", "n1").orElseThrow().data()).isEqualTo(Wire.object("{\"a\":1,\"b\":2}"));
        }
    }
}
