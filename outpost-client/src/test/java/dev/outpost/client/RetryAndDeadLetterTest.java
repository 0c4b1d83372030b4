package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.OutpostException.Category;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The op queue's failure rules (see {@code SyncEngine}): retry backoff with jitter and
 * Retry-After, offline syncs that count no attempt, the pause on a refused token, halving of
 * refused batches, dead letters with replay and discard, and the schema migration of a queue
 * written by version 1. A real server on loopback and real SQLite files; the only fakes are the
 * clock and a transport that can be told to fail or to corrupt an op before it goes out.
 */
class RetryAndDeadLetterTest {
    /** No jitter, so every wait is exact: 1, 2, 4, 8 s, dead after the 5th failed attempt. */
    private static final RetryPolicy EXACT = new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofSeconds(16), 0);
    private static final String USER = "ann";

    @TempDir
    Path dir;

    private TestServer server;
    private FakeClock clock;
    private ScriptedTransport transport;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void startServer() {
        server = TestServer.start();
        clock = new FakeClock();
        transport = new ScriptedTransport(Transport.http(URI.create(server.url()), Duration.ofSeconds(5)));
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable closeable : open) {
            closeable.close();
        }
        server.close();
    }

    // ---- set-up -----------------------------------------------------------------------------

    private OutpostConfig.Builder config(String name) {
        return OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve(name + ".db"))
                .transport(transport)
                .tokenProvider(TokenProvider.fixed(server.token(USER)))
                .clock(clock)
                .random(new SplittableRandom(1))
                .retryPolicy(EXACT);
    }

    private Outpost open(OutpostConfig.Builder builder) throws OutpostException {
        Outpost outpost = Outpost.open(builder.build());
        open.add(outpost);
        return outpost;
    }

    private Outpost device() throws OutpostException {
        return open(config("phone"));
    }

    private static OutpostException http503(Duration retryAfter) {
        return new OutpostException(Category.SERVER, "HTTP_503", "push answered HTTP 503", null, retryAfter);
    }

    private static OutpostException payloadTooLarge() {
        return new OutpostException(Category.VALIDATION, "PAYLOAD_TOO_LARGE", "push answered HTTP 413 PAYLOAD_TOO_LARGE");
    }

    /** Everything the server holds for the user, read through a fresh pull from the start. */
    private Map<String, ObjectNode> serverView() {
        return server.records(USER);
    }

    private List<Change> serverLog() {
        return server.changes(USER);
    }

    private static ObjectNode json(String text) {
        return Wire.object(text);
    }

    /** The instant the retry policy should schedule: now plus {@code wait}. */
    private Instant in(Duration wait) {
        return clock.instant().plus(wait);
    }

    // ---- 1. backoff schedule ------------------------------------------------------------------

    @Test
    void aFailingServerIsRetriedAfterOneTwoFourEightSixteenSecondsThenTheOpIsDeadLettered() throws Exception {
        Outpost phone = device();
        phone.put("notes", "n1", "{\"title\":\"retry me\"}");
        transport.failEveryPush(() -> http503(null));

        SyncResult first = phone.sync();
        assertThat(first.status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(first.failure()).isEqualTo(Category.SERVER);
        assertThat(first.dead()).isZero();
        assertThat(transport.pushCalls()).isEqualTo(1);

        long[] waits = {1, 2, 4, 8, 16};
        for (int i = 0; i < waits.length; i++) {
            Duration wait = Duration.ofSeconds(waits[i]);
            Instant due = in(wait);
            QueueStats stats = phone.queueStats();
            assertThat(stats.nextAttemptAt()).as("due after failed attempt %d", i + 1).isEqualTo(due);
            assertThat(stats.pending()).isEqualTo(1);

            clock.advance(wait.minusMillis(1));
            int callsBefore = transport.pushCalls();
            SyncResult early = phone.sync();
            assertThat(transport.pushCalls()).as("pushes a millisecond before the op is due").isEqualTo(callsBefore);
            assertThat(early.pushed()).isZero();
            assertThat(early.pending()).isEqualTo(1);
            assertThat(phone.queueStats().nextAttemptAt()).isEqualTo(due);

            clock.advance(Duration.ofMillis(1));
            SyncResult retried = phone.sync();
            assertThat(transport.pushCalls()).isEqualTo(callsBefore + 1);
            assertThat(retried.status()).isEqualTo(SyncResult.Status.FAILED);
            if (i < waits.length - 1) {
                assertThat(retried.dead()).isZero();
            } else {
                assertThat(retried.dead()).as("the 6th failed attempt").isEqualTo(1);
                assertThat(retried.pending()).isZero();
            }
        }

        List<DeadLetter> dead = phone.deadLetters();
        assertThat(dead).hasSize(1);
        DeadLetter letter = dead.get(0);
        assertThat(letter.recordId()).isEqualTo("n1");
        assertThat(letter.type()).isEqualTo(OpType.CREATE);
        assertThat(letter.data()).isEqualTo(json("{\"title\":\"retry me\"}"));
        assertThat(letter.attempts()).isEqualTo(6);
        assertThat(letter.reason()).contains("HTTP_503");
        assertThat(letter.diedAt()).isEqualTo(clock.instant());
        QueueStats stats = phone.queueStats();
        assertThat(stats.dead()).isEqualTo(1);
        assertThat(stats.pending()).isZero();
        assertThat(stats.nextAttemptAt()).isNull();
        assertThat(transport.forwardedOps()).isEmpty();
    }

    @Test
    void theAnswersOfPushesOnTheirWayWhenAnEarlierOneFailsAreKeptAndTheirOpsNotSentAgain() throws Exception {
        Outpost phone = open(config("phone").pushBatchSize(1).pushesInFlight(2));
        phone.put("notes", "n1", "{\"title\":\"fails\"}");
        phone.put("notes", "n2", "{\"title\":\"gets through\"}");
        transport.refuseWhen(push -> push.ops().get(0).recordId().equals("n1") ? http503(null) : null);

        SyncResult first = phone.sync();

        assertThat(first.status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(transport.attemptedSizes()).as("both pushes went out together").hasSize(2);
        assertThat(first.applied()).as("n2's answer, which came while n1's push failed").isEqualTo(1);
        assertThat(serverView()).containsOnlyKeys("notes/n2");
        assertThat(phone.ops(OpQuery.builder().states(OpState.PENDING).build())).extracting(OpInfo::recordId)
                .containsExactly("n1");

        transport.refuseWhen(push -> null);
        clock.advance(Duration.ofSeconds(1));
        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(transport.forwardedOps()).extracting(Operation::recordId).as("n2 went to the server once")
                .containsExactly("n2", "n1");
        assertThat(serverView()).containsOnlyKeys("notes/n1", "notes/n2");
    }

    // ---- 2. jitter ------------------------------------------------------------------------------

    @Test
    void jitterShortensEachWaitByAtMostItsShare() throws Exception {
        RetryPolicy jittered = new RetryPolicy(10, Duration.ofSeconds(1), Duration.ofSeconds(16), 0.2);
        Outpost phone = open(config("phone").retryPolicy(jittered));
        phone.put("notes", "n1", "{}");
        transport.failEveryPush(() -> http503(null));

        boolean anyCut = false;
        for (int attempt = 1; attempt <= jittered.maxRetries(); attempt++) {
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.FAILED);
            Instant due = phone.queueStats().nextAttemptAt();
            Duration wait = Duration.between(clock.instant(), due);
            Duration base = jittered.baseDelay(attempt);
            assertThat(wait).as("wait after failed attempt %d", attempt)
                    .isBetween(Duration.ofMillis(base.toMillis() * 8 / 10), base);
            anyCut |= wait.compareTo(base) < 0;
            clock.advance(wait);
        }
        assertThat(anyCut).as("jitter cut at least one wait").isTrue();
    }

    // ---- 3. Retry-After -------------------------------------------------------------------------

    @Test
    void aRetryAfterLongerThanTheBackoffIsHonoured() throws Exception {
        Outpost phone = device();
        phone.put("notes", "n1", "{\"title\":\"later\"}");
        transport.failNextPushes(1, () -> http503(Duration.ofSeconds(30)));

        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.FAILED);
        Instant due = in(Duration.ofSeconds(30));
        assertThat(phone.queueStats().nextAttemptAt()).isEqualTo(due);

        clock.advance(Duration.ofSeconds(1));
        phone.sync();
        clock.set(due.minusMillis(1));
        phone.sync();
        assertThat(transport.pushCalls()).as("no push before the server's Retry-After").isEqualTo(1);
        assertThat(phone.pendingCount()).isEqualTo(1);

        clock.set(due);
        SyncResult result = phone.sync();
        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(1);
        assertThat(serverView()).containsEntry("notes/n1", json("{\"title\":\"later\"}"));
    }

    @Test
    void aRetryAfterShorterThanTheBackoffDoesNotShortenIt() throws Exception {
        Outpost phone = open(config("phone").retryPolicy(
                new RetryPolicy(5, Duration.ofSeconds(10), Duration.ofSeconds(60), 0)));
        phone.put("notes", "n1", "{}");
        transport.failNextPushes(1, () -> http503(Duration.ofSeconds(2)));

        phone.sync();

        assertThat(phone.queueStats().nextAttemptAt()).isEqualTo(in(Duration.ofSeconds(10)));
    }

    @Test
    void aRetryAfterHoldsThePushesOfEveryOpEvenAfterARestartWhilePullsGoOn() throws Exception {
        Path file = dir.resolve("phone.db");
        Outpost laptop = open(config("laptop").transport(Transport.http(URI.create(server.url()), Duration.ofSeconds(5))));
        Instant due = in(Duration.ofSeconds(120));
        try (Outpost phone = Outpost.open(config("phone").build())) {
            phone.put("notes", "n1", "{\"title\":\"throttled\"}");
            transport.failNextPushes(1, () -> http503(Duration.ofSeconds(120)));
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.FAILED);

            clock.advance(Duration.ofSeconds(1));
            phone.put("notes", "n2", "{\"title\":\"written after the 503\"}");
            SyncResult held = phone.sync();
            assertThat(held.pushed()).isZero();
            assertThat(held.message()).contains("Retry-After");
            assertThat(phone.queueStats().nextAttemptAt()).as("no op goes before the server's time").isEqualTo(due);
        }
        assertThat(transport.pushCalls()).as("the op written after the 503 was not sent either").isEqualTo(1);

        laptop.put("notes", "l1", "{\"title\":\"from the laptop\"}");
        assertThat(laptop.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        Outpost reopened = open(config("phone").storeFile(file));
        clock.set(due.minusMillis(1));
        SyncResult afterRestart = reopened.sync();
        assertThat(transport.pushCalls()).as("no push before the Retry-After, after a restart").isEqualTo(1);
        assertThat(afterRestart.pulled()).as("pulls go on meanwhile").isEqualTo(1);
        assertThat(reopened.get("notes", "l1")).isPresent();

        clock.set(due);
        SyncResult result = reopened.sync();
        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(2);
        assertThat(serverView()).containsKeys("notes/n1", "notes/n2");
    }

    @Test
    void aLaterRetryAfterExtendsTheHoldAndAnEarlierOneDoesNotShortenIt() throws Exception {
        Outpost phone = device();
        phone.put("notes", "n1", "{}");
        transport.failNextPushes(1, () -> http503(Duration.ofSeconds(60)));
        phone.sync();
        Instant due = in(Duration.ofSeconds(60));
        assertThat(phone.queueStats().nextAttemptAt()).isEqualTo(due);

        clock.set(due);
        transport.failNextPushes(1, () -> http503(Duration.ofSeconds(300)));
        phone.sync();
        Instant later = in(Duration.ofSeconds(300));
        assertThat(phone.queueStats().nextAttemptAt()).isEqualTo(later);

        clock.set(later);
        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(transport.pushCalls()).isEqualTo(3);
    }

    @Test
    void aPushThatFailsOnTheServerStillPullsOthersChanges() throws Exception {
        Outpost laptop = open(config("laptop").transport(Transport.http(URI.create(server.url()), Duration.ofSeconds(5))));
        laptop.put("notes", "l1", "{\"title\":\"from the laptop\"}");
        laptop.sync();
        Outpost phone = device();
        phone.put("notes", "n1", "{}");
        transport.failEveryPush(() -> http503(null));

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(result.failure()).isEqualTo(Category.SERVER);
        assertThat(result.message()).contains("HTTP 503");
        assertThat(result.pulled()).isEqualTo(1);
        assertThat(phone.get("notes", "l1")).isPresent();
        assertThat(phone.pendingCount()).isEqualTo(1);
    }

    // ---- 4. offline -----------------------------------------------------------------------------

    @Test
    void beingOfflineIsNeverCountedAsAnAttempt() throws Exception {
        // No retry allowed: if any offline sync counted, the op would be dead-lettered.
        Outpost phone = open(config("phone").retryPolicy(new RetryPolicy(0, Duration.ofSeconds(1), Duration.ofSeconds(1), 0)));
        phone.put("notes", "n1", "{\"title\":\"patient\"}");
        server.stop();

        for (int i = 0; i < 20; i++) {
            SyncResult result = phone.sync();
            assertThat(result.status()).isEqualTo(SyncResult.Status.OFFLINE);
            assertThat(result.failure()).isEqualTo(Category.NETWORK);
            assertThat(result.pending()).isEqualTo(1);
            assertThat(result.dead()).isZero();
            clock.advance(Duration.ofMinutes(1));
        }
        assertThat(transport.pushCalls()).isEqualTo(20);
        QueueStats stats = phone.queueStats();
        assertThat(stats.pending()).isEqualTo(1);
        assertThat(stats.dead()).isZero();
        assertThat(stats.nextAttemptAt()).as("no backoff after being offline").isNull();
        assertThat(phone.deadLetters()).isEmpty();

        server.restart();
        SyncResult result = phone.sync();
        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(1);
        assertThat(phone.pendingCount()).isZero();
        assertThat(serverView()).containsEntry("notes/n1", json("{\"title\":\"patient\"}"));
    }

    @Test
    void aScriptedNetworkFailureLeavesTheOpDueAtOnce() throws Exception {
        Outpost phone = device();
        phone.put("notes", "n1", "{}");
        transport.failNextPushes(20, () -> new OutpostException(Category.NETWORK, "UNREACHABLE", "no route to host"));

        for (int i = 0; i < 20; i++) {
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.OFFLINE);
        }
        assertThat(phone.queueStats().nextAttemptAt()).isNull();
        // The first counted failure waits the first step of the schedule: no attempt was counted before.
        transport.failNextPushes(1, () -> http503(null));
        phone.sync();
        assertThat(phone.queueStats().nextAttemptAt()).isEqualTo(in(Duration.ofSeconds(1)));

        clock.advance(Duration.ofSeconds(1));
        assertThat(phone.sync().applied()).isEqualTo(1);
    }

    // ---- 5. restart -----------------------------------------------------------------------------

    @Test
    void aRestartResumesTheRetrySchedule() throws Exception {
        Path file = dir.resolve("phone.db");
        Instant due;
        try (Outpost phone = Outpost.open(config("phone").build())) {
            phone.put("notes", "n1", "{\"title\":\"survives\"}");
            transport.failNextPushes(1, () -> http503(null));
            phone.sync();
            due = phone.queueStats().nextAttemptAt();
            assertThat(due).isEqualTo(in(Duration.ofSeconds(1)));
        }

        Outpost reopened = open(config("phone").storeFile(file));
        assertThat(reopened.queueStats().nextAttemptAt()).isEqualTo(due);
        assertThat(reopened.pendingCount()).isEqualTo(1);
        clock.set(due.minusMillis(1));
        reopened.sync();
        assertThat(transport.pushCalls()).as("no push before the op is due, after a restart").isEqualTo(1);

        clock.set(due);
        SyncResult result = reopened.sync();
        assertThat(result.applied()).isEqualTo(1);
        assertThat(serverView()).containsEntry("notes/n1", json("{\"title\":\"survives\"}"));
    }

    // ---- 6. auth --------------------------------------------------------------------------------

    @Test
    void aRefusedTokenPausesTheQueueUntilTheProviderGivesANewOne() throws Exception {
        AtomicReference<String> current = new AtomicReference<>("bad");
        Outpost phone = open(config("phone").tokenProvider(rejected -> current.get()));
        phone.put("notes", "n1", "{\"title\":\"auth\"}");

        SyncResult refused = phone.sync();
        assertThat(refused.status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(refused.failure()).isEqualTo(Category.AUTH);
        assertThat(refused.pending()).isEqualTo(1);
        int pushes = transport.pushCalls();
        int pulls = transport.pullCalls();
        assertThat(pushes).isEqualTo(1);

        SyncResult paused = phone.sync();
        assertThat(paused.status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(paused.failure()).isEqualTo(Category.AUTH);
        assertThat(paused.pending()).isEqualTo(1);
        assertThat(transport.pushCalls()).as("pushes while paused on the refused token").isEqualTo(pushes);
        assertThat(transport.pullCalls()).as("pulls while paused on the refused token").isEqualTo(pulls);
        assertThat(phone.queueStats().nextAttemptAt()).as("a refused token is not a retry").isNull();

        current.set(server.token(USER));
        SyncResult resumed = phone.sync();
        assertThat(resumed.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(resumed.applied()).isEqualTo(1);
        assertThat(serverView()).containsEntry("notes/n1", json("{\"title\":\"auth\"}"));
    }

    @Test
    void theStatusLineSaysSignInIsNeededAfterARestartWhileTheQueueIsPausedOnARefusedToken() throws Exception {
        OutpostConfig.Builder config = config("phone").tokenProvider(rejected -> "bad");
        try (Outpost phone = Outpost.open(config.build())) {
            phone.put("notes", "n1", "{}");
            assertThat(phone.sync().failure()).isEqualTo(Category.AUTH);
            assertThat(phone.statusLine()).isEqualTo("Sign-in needed: 1 change waiting");
        }

        try (Outpost phone = Outpost.open(config.build())) {
            assertThat(phone.lastSync()).as("no sync yet in this process").isEmpty();
            assertThat(phone.statusLine()).isEqualTo("Sign-in needed: 1 change waiting");
        }
    }

    @Test
    void aRefusedTokenIsReplacedByAFreshOneWithinTheSameSync() throws Exception {
        String good = server.token(USER);
        List<String> asked = new CopyOnWriteArrayList<>();
        Outpost phone = open(config("phone").tokenProvider(rejected -> {
            asked.add(String.valueOf(rejected));
            return rejected == null ? "bad" : good;
        }));
        phone.put("notes", "n1", "{}");

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(1);
        assertThat(asked).containsExactly("null", "bad");
        assertThat(transport.pushCalls()).as("the refused push and its retry with the fresh token").isEqualTo(2);
        assertThat(serverView()).containsKey("notes/n1");
    }

    @Test
    void requestsOnTheirWayTogetherWhenTheTokenIsRefusedAskTheProviderOnceAndAllGetThrough() throws Exception {
        String good = server.token(USER);
        List<String> asked = new CopyOnWriteArrayList<>();
        Outpost phone = open(config("phone").pushBatchSize(2).pushesInFlight(4).tokenProvider(rejected -> {
            asked.add(String.valueOf(rejected));
            return rejected == null ? "bad" : good;
        }));
        for (int i = 0; i < 8; i++) {
            phone.put("items", "i" + i, "{\"n\":" + i + "}");
        }

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(8);
        assertThat(asked).as("the provider, asked for a token and then for one in place of the refused one")
                .containsExactly("null", "bad");
        assertThat(serverView()).hasSize(8);
    }

    // ---- 7. whole-batch refusal -----------------------------------------------------------------

    @Test
    void aRefusedBatchIsHalvedUntilTheServerTakesItAndEveryOpGetsThrough() throws Exception {
        Outpost phone = device();
        for (int i = 0; i < 10; i++) {
            phone.put("items", "i" + i, "{\"n\":" + i + "}");
        }
        transport.refuseWhen(push -> push.ops().size() > 3 ? payloadTooLarge() : null);

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(10);
        assertThat(result.dead()).isZero();
        assertThat(result.pending()).isZero();
        assertThat(transport.attemptedSizes()).startsWith(10, 5);
        assertThat(transport.forwarded()).allSatisfy(push -> assertThat(push.ops().size()).isLessThanOrEqualTo(3));
        // Once the server takes the smaller batches, several travel at once and may reach it in
        // either order: these are ops of different records. Each reaches it once.
        assertThat(transport.forwardedOps()).extracting(Operation::recordId)
                .containsExactlyInAnyOrder("i0", "i1", "i2", "i3", "i4", "i5", "i6", "i7", "i8", "i9");
        Map<String, ObjectNode> server = serverView();
        assertThat(server).hasSize(10);
        assertThat(server.get("items/i7")).isEqualTo(json("{\"n\":7}"));
        assertThat(phone.deadLetters()).isEmpty();
    }

    @Test
    void anOpRefusedWholeOnItsOwnIsDeadLetteredWithTheServersCode() throws Exception {
        Outpost phone = device();
        phone.put("notes", "huge", "{\"body\":\"imagine megabytes\"}");
        phone.put("notes", "small", "{\"body\":\"fine\"}");
        transport.refuseWhen(push -> push.ops().stream().anyMatch(op -> op.recordId().equals("huge")) ? payloadTooLarge() : null);

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.dead()).isEqualTo(1);
        assertThat(result.applied()).isEqualTo(1);
        assertThat(result.pending()).isZero();
        List<DeadLetter> dead = phone.deadLetters();
        assertThat(dead).hasSize(1);
        assertThat(dead.get(0).recordId()).isEqualTo("huge");
        assertThat(dead.get(0).reason()).contains("PAYLOAD_TOO_LARGE");
        assertThat(dead.get(0).attempts()).isEqualTo(1);
        assertThat(serverView()).containsOnlyKeys("notes/small");
    }

    // ---- 8. a poison op -------------------------------------------------------------------------

    /**
     * Record notes/p is on the server; its next UPDATE ({"v":1}) is corrupted on the way out so
     * the real server rejects it (INVALID_OP), and a later UPDATE ({"w":2}) waits behind it.
     *
     * @return the dead op's id
     */
    private String poisonedRecord(Outpost phone) throws Exception {
        phone.put("notes", "p", "{\"title\":\"p\"}");
        assertThat(phone.sync().applied()).isEqualTo(1);

        transport.corrupt(op -> op.recordId().equals("p"));
        phone.update("notes", "p", "{\"v\":1}");
        phone.put("notes", "a", "{\"title\":\"a\"}");
        phone.put("notes", "b", "{\"title\":\"b\"}");
        SyncResult rejected = phone.sync();
        assertThat(rejected.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(rejected.dead()).isEqualTo(1);
        assertThat(rejected.applied()).as("the rest of the batch goes on").isEqualTo(2);

        List<DeadLetter> dead = phone.deadLetters();
        assertThat(dead).hasSize(1);
        DeadLetter letter = dead.get(0);
        assertThat(letter.recordId()).isEqualTo("p");
        assertThat(letter.type()).isEqualTo(OpType.UPDATE);
        assertThat(letter.data()).isEqualTo(json("{\"v\":1}"));
        assertThat(letter.reason()).contains("INVALID_OP");
        assertThat(letter.attempts()).isEqualTo(1);

        phone.update("notes", "p", "{\"w\":2}");
        phone.put("notes", "c", "{\"title\":\"c\"}");
        int sentBefore = transport.forwardedOps().size();
        SyncResult around = phone.sync();
        assertThat(around.applied()).as("other records drain around the dead op").isEqualTo(1);
        assertThat(transport.forwardedOps().subList(sentBefore, transport.forwardedOps().size()))
                .extracting(Operation::recordId).containsExactly("c");
        assertThat(around.pending()).as("p's later op waits behind the dead one").isEqualTo(1);
        LocalRecord waiting = phone.get("notes", "p").orElseThrow();
        assertThat(waiting.state()).as("a record with a dead change reads as FAILED").isEqualTo(SyncState.FAILED);
        assertThat(waiting.data()).as("the view keeps the dead change until it is discarded")
                .isEqualTo(json("{\"title\":\"p\",\"v\":1,\"w\":2}"));

        // Still waiting on a further sync, however much time passes.
        clock.advance(Duration.ofHours(1));
        phone.sync();
        assertThat(transport.forwardedOps().size()).isEqualTo(sentBefore + 1);
        assertThat(phone.pendingCount()).isEqualTo(1);

        Map<String, ObjectNode> server = serverView();
        assertThat(server).containsOnlyKeys("notes/p", "notes/a", "notes/b", "notes/c");
        assertThat(server.get("notes/p")).isEqualTo(json("{\"title\":\"p\"}"));
        return letter.opId();
    }

    @Test
    void aRejectedOpIsDeadLetteredWhileOtherRecordsDrainAndItsRecordsLaterOpsWait() throws Exception {
        poisonedRecord(device());
    }

    @Test
    void aReplayedDeadOpGoesUnderANewIdAndIsDeliveredBeforeTheOpsBehindIt() throws Exception {
        Outpost phone = device();
        String deadId = poisonedRecord(phone);
        transport.corrupt(op -> false);

        String newId = phone.replay(deadId);

        assertThat(newId).isNotEqualTo(deadId);
        assertThat(phone.deadLetters()).isEmpty();
        assertThat(phone.pendingCount()).isEqualTo(2);
        assertThat(phone.get("notes", "p").orElseThrow().data()).isEqualTo(json("{\"title\":\"p\",\"v\":1,\"w\":2}"));
        int sentBefore = transport.forwardedOps().size();
        SyncResult result = phone.sync();
        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(2);
        List<Operation> sent = transport.forwardedOps().subList(sentBefore, transport.forwardedOps().size());
        assertThat(sent).extracting(Operation::recordId).containsExactly("p", "p");
        assertThat(sent.get(0).opId()).isEqualTo(newId);
        assertThat(sent.get(0).data()).isEqualTo(json("{\"v\":1}"));
        assertThat(sent.get(1).data()).isEqualTo(json("{\"w\":2}"));

        ObjectNode expected = json("{\"title\":\"p\",\"v\":1,\"w\":2}");
        assertThat(serverView().get("notes/p")).isEqualTo(expected);
        LocalRecord local = phone.get("notes", "p").orElseThrow();
        assertThat(local.data()).isEqualTo(expected);
        assertThat(local.state()).isEqualTo(SyncState.SYNCED);
        assertThat(phone.pendingCount()).isZero();
        assertThat(serverLog()).filteredOn(change -> change.recordId().equals("p"))
                .extracting(change -> change.origin().opId())
                .containsExactly(serverLog().get(0).origin().opId(), newId, sent.get(1).opId());
    }

    @Test
    void discardingADeadOpLetsTheOpsBehindItGoAndDropsItsChange() throws Exception {
        Outpost phone = device();
        String deadId = poisonedRecord(phone);
        transport.corrupt(op -> false);

        phone.discard(deadId);

        assertThat(phone.deadLetters()).isEmpty();
        QueueStats stats = phone.queueStats();
        assertThat(stats.discarded()).isEqualTo(1);
        assertThat(stats.dead()).isZero();
        ObjectNode expected = json("{\"title\":\"p\",\"w\":2}");
        assertThat(phone.get("notes", "p").orElseThrow().data()).isEqualTo(expected);

        SyncResult result = phone.sync();
        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(1);
        assertThat(phone.pendingCount()).isZero();
        assertThat(serverView().get("notes/p")).isEqualTo(expected);
        assertThat(phone.get("notes", "p").orElseThrow().data()).isEqualTo(expected);
        assertThatThrownBy(() -> phone.replay(deadId))
                .isInstanceOfSatisfying(OutpostException.class, e -> assertThat(e.code()).isEqualTo("NO_SUCH_DEAD_OP"));
    }

    @Test
    void aDeadOpDoesNotStallOtherRecordsWhenItsWaitingOpsFillABatch() throws Exception {
        // Batches of 2 and no coalescing: two writes of p wait behind its dead op, as many as a batch holds.
        Outpost phone = open(config("phone").pushBatchSize(2).coalescing(false));
        phone.put("notes", "p", "{\"title\":\"p\"}");
        phone.sync();
        transport.corrupt(op -> op.recordId().equals("p"));
        phone.update("notes", "p", "{\"v\":1}");
        assertThat(phone.sync().dead()).isEqualTo(1);

        phone.update("notes", "p", "{\"w\":2}");
        phone.update("notes", "p", "{\"x\":3}");
        phone.put("notes", "q", "{\"title\":\"q\"}");
        SyncResult result = phone.sync();

        assertThat(result.applied()).as("q does not wait for p").isEqualTo(1);
        assertThat(result.pending()).isEqualTo(2);
        assertThat(serverView()).containsKey("notes/q");
    }

    @Test
    void anOpInBackoffDoesNotStallOtherRecordsWhenTheOpsBehindItFillABatch() throws Exception {
        Outpost phone = open(config("phone").pushBatchSize(1));
        phone.put("notes", "p", "{\"title\":\"p\"}");
        transport.failNextPushes(1, () -> http503(null));
        phone.sync();
        phone.update("notes", "p", "{\"v\":1}");
        phone.put("notes", "q", "{\"title\":\"q\"}");

        SyncResult result = phone.sync();

        assertThat(result.applied()).as("q does not wait for p's backoff").isEqualTo(1);
        assertThat(serverView()).containsOnlyKeys("notes/q");
    }

    @Test
    void aLaterOpSentInTheSameBatchAsARejectedOpOfItsRecordIsNotLost() throws Exception {
        // No coalescing: both updates of p are queued, and go out in one batch.
        Outpost phone = open(config("phone").coalescing(false));
        phone.put("notes", "p", "{\"title\":\"p\"}");
        phone.sync();
        transport.corrupt(op -> op.recordId().equals("p") && op.data() != null && op.data().has("v"));
        phone.update("notes", "p", "{\"v\":1}");
        phone.update("notes", "p", "{\"w\":2}");

        SyncResult rejected = phone.sync();
        assertThat(rejected.dead()).isEqualTo(1);
        assertThat(rejected.conflicts()).as("no other device touched p: nothing conflicts").isZero();

        transport.corrupt(op -> false);
        phone.replay(phone.deadLetters().get(0).opId());
        phone.sync();
        assertThat(serverView().get("notes/p")).as("the op behind the replayed one follows it")
                .isEqualTo(json("{\"title\":\"p\",\"v\":1,\"w\":2}"));
    }

    // ---- 9. replay with data, bad replays -------------------------------------------------------

    @Test
    void aDeadOpReplayedWithNewDataSendsTheEditedData() throws Exception {
        Outpost phone = device();
        transport.corrupt(op -> op.recordId().equals("p"));
        phone.put("notes", "p", "{\"title\":\"draft\",\"junk\":true}");
        assertThat(phone.sync().dead()).isEqualTo(1);
        DeadLetter letter = phone.deadLetters().get(0);
        assertThat(letter.type()).isEqualTo(OpType.CREATE);
        transport.corrupt(op -> false);

        String newId = phone.replay(letter.opId(), json("{\"title\":\"fixed\"}"));

        assertThat(phone.get("notes", "p").orElseThrow().data()).isEqualTo(json("{\"title\":\"fixed\"}"));
        int sentBefore = transport.forwardedOps().size();
        assertThat(phone.sync().applied()).isEqualTo(1);
        Operation sent = transport.forwardedOps().get(sentBefore);
        assertThat(sent.opId()).isEqualTo(newId);
        assertThat(sent.type()).isEqualTo(OpType.CREATE);
        assertThat(sent.data()).isEqualTo(json("{\"title\":\"fixed\"}"));
        assertThat(serverView().get("notes/p")).isEqualTo(json("{\"title\":\"fixed\"}"));
    }

    @Test
    void replayingOrDiscardingAnOpThatIsNotDeadIsRefused() throws Exception {
        Outpost phone = device();
        phone.put("notes", "n1", "{}");
        phone.sync();
        String appliedId = transport.forwardedOps().get(0).opId();

        for (String id : List.of("no-such-op", appliedId)) {
            assertThatThrownBy(() -> phone.replay(id)).isInstanceOfSatisfying(OutpostException.class, e -> {
                assertThat(e.category()).isEqualTo(Category.VALIDATION);
                assertThat(e.code()).isEqualTo("NO_SUCH_DEAD_OP");
            });
            assertThatThrownBy(() -> phone.replay(id, json("{}"))).isInstanceOfSatisfying(OutpostException.class, e -> {
                assertThat(e.category()).isEqualTo(Category.VALIDATION);
                assertThat(e.code()).isEqualTo("NO_SUCH_DEAD_OP");
            });
            assertThatThrownBy(() -> phone.discard(id)).isInstanceOfSatisfying(OutpostException.class, e -> {
                assertThat(e.category()).isEqualTo(Category.VALIDATION);
                assertThat(e.code()).isEqualTo("NO_SUCH_DEAD_OP");
            });
        }
        assertThat(phone.queueStats().applied()).isEqualTo(1);
    }

    @Test
    void aDeadDeleteCannotBeReplayedWithDataButCanBeReplayedAsItWas() throws Exception {
        Outpost phone = device();
        phone.put("notes", "p", "{\"title\":\"doomed\"}");
        phone.sync();
        transport.corrupt(op -> op.type() == OpType.DELETE);
        phone.delete("notes", "p");
        assertThat(phone.sync().dead()).isEqualTo(1);
        DeadLetter letter = phone.deadLetters().get(0);
        assertThat(letter.type()).isEqualTo(OpType.DELETE);
        assertThat(letter.data()).isNull();
        transport.corrupt(op -> false);

        assertThatThrownBy(() -> phone.replay(letter.opId(), json("{\"title\":\"x\"}")))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(phone.deadLetters()).extracting(DeadLetter::opId).containsExactly(letter.opId());
        assertThat(phone.pendingCount()).isZero();

        phone.replay(letter.opId());
        assertThat(phone.get("notes", "p")).isEmpty();
        assertThat(phone.sync().applied()).isEqualTo(1);
        assertThat(serverView()).doesNotContainKey("notes/p");
    }

    // ---- 10. schema migration -------------------------------------------------------------------

    @Test
    void aPendingOpInAVersionOneStoreIsDeliveredAfterTheMigration() throws Exception {
        Path file = dir.resolve("v1.db");
        String deviceId = UUID.randomUUID().toString();
        String opId = "v1-op-1";
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement()) {
            for (String sql : v1Script().split(";\\s*\n")) {
                String stripped = withoutComments(sql);
                if (!stripped.isEmpty()) {
                    statement.execute(stripped);
                }
            }
            statement.execute("PRAGMA user_version = 1");
            try (PreparedStatement meta = db.prepareStatement("INSERT INTO meta (key, value) VALUES ('device_id', ?)")) {
                meta.setString(1, deviceId);
                meta.executeUpdate();
            }
            statement.execute("INSERT INTO records (collection, id, data, deleted, server_data, server_version, server_deleted) "
                    + "VALUES ('notes', 'old', '{\"title\":\"from v1\"}', 0, NULL, 0, 1)");
            try (PreparedStatement op = db.prepareStatement(
                    "INSERT INTO ops (op_id, collection, record_id, type, base_version, data, hlc, priority, created_at, attempts, status) "
                            + "VALUES (?, 'notes', 'old', 'CREATE', NULL, '{\"title\":\"from v1\"}', ?, 'NORMAL', ?, 0, 'PENDING')")) {
                op.setString(1, opId);
                op.setString(2, clock.millis() + "-00000-" + deviceId);
                op.setLong(3, clock.millis());
                op.executeUpdate();
            }
        }

        Outpost phone = open(config("v1").storeFile(file));

        assertThat(phone.deviceId()).isEqualTo(deviceId);
        assertThat(phone.pendingCount()).isEqualTo(1);
        assertThat(phone.queueStats().nextAttemptAt()).isNull();
        LocalRecord before = phone.get("notes", "old").orElseThrow();
        assertThat(before.data()).isEqualTo(json("{\"title\":\"from v1\"}"));
        assertThat(before.state()).isEqualTo(SyncState.PENDING);

        SyncResult result = phone.sync();
        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(1);
        assertThat(transport.forwardedOps()).extracting(Operation::opId).containsExactly(opId);
        assertThat(serverView()).containsEntry("notes/old", json("{\"title\":\"from v1\"}"));
        assertThat(serverLog().get(0).origin().deviceId()).isEqualTo(deviceId);
        assertThat(phone.get("notes", "old").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
    }

    private static String v1Script() throws IOException {
        try (InputStream in = Outpost.class.getResourceAsStream("/dev/outpost/client/internal/V1__local_store.sql")) {
            if (in != null) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        }
        // Encapsulated in the module: read it from the source tree instead.
        return Files.readString(Path.of("src/main/resources/dev/outpost/client/internal/V1__local_store.sql"));
    }

    private static String withoutComments(String sql) {
        StringBuilder out = new StringBuilder();
        for (String line : sql.split("\n")) {
            if (!line.strip().startsWith("--")) {
                out.append(line).append('\n');
            }
        }
        return out.toString().strip();
    }

    // ---- the scripted transport -----------------------------------------------------------------

    /**
     * The real HTTP transport, with failures at its edge: it can fail the next pushes or every
     * push with a given exception, refuse pushes matching a rule, and corrupt chosen ops (their
     * collection becomes an invalid name, so the real server rejects them). It records every
     * push it was given and every push it forwarded.
     */
    static final class ScriptedTransport implements Transport {
        private final Transport real;
        private final Deque<Supplier<OutpostException>> nextFailures = new ArrayDeque<>();
        private volatile Supplier<OutpostException> everyPush;
        private volatile Function<PushRequest, OutpostException> refusal = push -> null;
        private volatile Predicate<Operation> corrupted = op -> false;
        private final List<PushRequest> attempted = new CopyOnWriteArrayList<>();
        private final List<PushRequest> forwarded = new CopyOnWriteArrayList<>();
        private final AtomicInteger pulls = new AtomicInteger();

        ScriptedTransport(Transport real) {
            this.real = real;
        }

        /** Fails the next {@code count} pushes with {@code failure}, before they reach the server. */
        synchronized void failNextPushes(int count, Supplier<OutpostException> failure) {
            for (int i = 0; i < count; i++) {
                nextFailures.add(failure);
            }
        }

        /** Fails every push from now on with {@code failure}. */
        void failEveryPush(Supplier<OutpostException> failure) {
            everyPush = failure;
        }

        /** Refuses a push with the exception {@code rule} gives for it (none: null). */
        void refuseWhen(Function<PushRequest, OutpostException> rule) {
            refusal = rule;
        }

        /** Ops matching {@code which} go out with an invalid collection name. */
        void corrupt(Predicate<Operation> which) {
            corrupted = which;
        }

        int pushCalls() {
            return attempted.size();
        }

        int pullCalls() {
            return pulls.get();
        }

        List<Integer> attemptedSizes() {
            return attempted.stream().map(push -> push.ops().size()).toList();
        }

        List<PushRequest> forwarded() {
            return List.copyOf(forwarded);
        }

        /** Every op forwarded to the server, in order, as the client sent it (before any corruption). */
        List<Operation> forwardedOps() {
            return forwarded.stream().flatMap(push -> push.ops().stream()).toList();
        }

        @Override
        public PushResponse push(PushRequest request, String token) throws OutpostException {
            attempted.add(request);
            Supplier<OutpostException> failure;
            synchronized (this) {
                failure = nextFailures.poll();
            }
            if (failure != null) {
                throw failure.get();
            }
            if (everyPush != null) {
                throw everyPush.get();
            }
            OutpostException refused = refusal.apply(request);
            if (refused != null) {
                throw refused;
            }
            Predicate<Operation> corrupt = corrupted;
            PushRequest sent = new PushRequest(request.deviceId(), request.ops().stream()
                    .map(op -> corrupt.test(op)
                            ? new Operation(op.opId(), "bad/name", op.recordId(), op.type(), op.baseVersion(), op.data(),
                                    op.hlc(), op.priority())
                            : op)
                    .toList());
            forwarded.add(request);
            return real.push(sent, token);
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            pulls.incrementAndGet();
            return real.pull(cursor, limit, token);
        }
    }
}
