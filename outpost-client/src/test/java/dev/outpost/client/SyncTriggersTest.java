package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.FakeScheduler;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What starts a sync by itself, on a fake clock and a fake scheduler: syncs run on the test's
 * thread when the test runs what is due, so each trigger is seen to start exactly the syncs it
 * should, at the time it should, against a real server.
 */
class SyncTriggersTest {
    /** No jitter: retries after exactly 1, 2, 4, 8 and 16 s. */
    private static final RetryPolicy EXACT = new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofSeconds(16), 0);

    @TempDir
    Path dir;

    private TestServer server;
    private final FakeClock clock = new FakeClock(Instant.parse("2026-11-23T08:00:00Z"));
    private final FakeScheduler scheduler = new FakeScheduler(clock);
    private final List<String> events = new ArrayList<>();
    private final ManualNetworkMonitor network = NetworkMonitor.manual(NetworkState.online(ConnectionType.WIFI, false));
    private final AtomicReference<Runnable> duringPull = new AtomicReference<>();
    private final AtomicReference<Runnable> whenDeferred = new AtomicReference<>();
    private final AtomicReference<Runnable> whenCompleted = new AtomicReference<>();
    private Outpost phone;

    @BeforeEach
    void startServer() {
        server = TestServer.start();
    }

    @AfterEach
    void stop() {
        if (phone != null) {
            phone.close();
        }
        server.close();
    }

    private Outpost open(SyncPolicy policy) throws OutpostException {
        return open(policy, Transport.http(URI.create(server.url()), Duration.ofSeconds(5)), scheduler);
    }

    private Outpost open(SyncPolicy policy, Transport transport, FakeScheduler executor) throws OutpostException {
        phone = Outpost.open(OutpostConfig.builder().storeFile(dir.resolve("phone.db")).transport(transport)
                .retryPolicy(EXACT).tokenProvider(TokenProvider.fixed(server.token("ann"))).clock(clock).syncPolicy(policy)
                .networkMonitor(network).syncExecutor(executor).listener(new OutpostListener() {
                    @Override
                    public void syncStarted(SyncReason reason) {
                        events.add("started " + reason);
                    }

                    @Override
                    public void pullProgress(int done, int total) {
                        Runnable action = duringPull.getAndSet(null);
                        if (action != null) {
                            action.run();
                        }
                    }

                    @Override
                    public void syncCompleted(SyncResult result) {
                        events.add("completed pushed=" + result.pushed());
                        Runnable action = whenCompleted.getAndSet(null);
                        if (action != null) {
                            action.run();
                        }
                    }

                    @Override
                    public void syncFailed(SyncResult result) {
                        events.add("failed " + result.failure());
                    }

                    @Override
                    public void syncDeferred(SyncResult result) {
                        events.add("deferred");
                        Runnable action = whenDeferred.getAndSet(null);
                        if (action != null) {
                            action.run();
                        }
                    }
                }).build());
        return phone;
    }

    /** The server's transport, with the first {@code failures} pushes answered 503 before they reach it. */
    private Transport failingFirst(int failures) {
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        AtomicInteger left = new AtomicInteger(failures);
        return new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) throws OutpostException {
                if (left.getAndDecrement() > 0) {
                    throw new OutpostException(OutpostException.Category.SERVER, "HTTP_503", "push answered HTTP 503");
                }
                return http.push(request, token);
            }

            @Override
            public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                return http.pull(cursor, limit, token);
            }
        };
    }

    private static SyncPolicy.Builder triggeredOnly() {
        return SyncPolicy.builder().interval(Duration.ZERO).noSyncOnWrite();
    }

    @Test
    void withNoDebounceAWriteStartsASyncAtOnceWhenOnline() throws Exception {
        open(triggeredOnly().syncOnWrite(Duration.ZERO).build());

        phone.put("notes", "n1", "{}");
        assertThat(server.records("ann")).as("nothing runs until the sync thread does").isEmpty();
        scheduler.runDue();

        assertThat(events).containsExactly("started WRITE", "completed pushed=1");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    @Test
    void aWriteWhileOfflineSendsNothingAndCountsNoAttemptUntilTheNetworkComesBack() throws Exception {
        network.update(NetworkState.OFFLINE);
        open(triggeredOnly().syncOnWrite(Duration.ZERO).build());

        phone.put("notes", "n1", "{}");
        scheduler.runDue();

        assertThat(events).containsExactly("deferred");
        assertThat(server.records("ann")).isEmpty();
        assertThat(phone.ops(OpQuery.builder().build())).singleElement().satisfies(op -> assertThat(op.attempts()).isZero());

        network.update(NetworkState.online(ConnectionType.WIFI, false));
        scheduler.runDue();

        assertThat(events).containsExactly("deferred", "started NETWORK_RESTORED", "completed pushed=1");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    @Test
    void writesWithinTheDebounceGoInOneSyncWhenItEnds() throws Exception {
        open(triggeredOnly().syncOnWrite(Duration.ofSeconds(1)).build());

        phone.put("notes", "n1", "{}");
        scheduler.advance(Duration.ofMillis(500));
        phone.put("notes", "n2", "{}");
        phone.newBatch().put("notes", "n3", "{}").put("notes", "n4", "{}").commit();
        scheduler.advance(Duration.ofMillis(499));
        assertThat(events).as("the debounce has not ended").isEmpty();
        scheduler.advance(Duration.ofMillis(1));

        assertThat(events).containsExactly("started WRITE", "completed pushed=4");
        assertThat(server.records("ann")).hasSize(4);
        assertThat(scheduler.waiting()).as("nothing more to do").isZero();
    }

    @Test
    void aWriteMadeWhileASyncPullsStartsAnotherSyncADebounceAfterIt() throws Exception {
        open(triggeredOnly().syncOnWrite(Duration.ofSeconds(1)).build());
        phone.put("notes", "n1", "{}");
        duringPull.set(() -> {
            try {
                phone.put("notes", "during", "{}");
            } catch (OutpostException e) {
                throw new AssertionError(e);
            }
        });

        scheduler.advance(Duration.ofSeconds(1));
        assertThat(events).containsExactly("started WRITE", "completed pushed=1");
        scheduler.advance(Duration.ofMillis(999));
        assertThat(events).hasSize(2);
        scheduler.advance(Duration.ofMillis(1));

        assertThat(events).containsExactly("started WRITE", "completed pushed=1", "started WRITE", "completed pushed=1");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/during");
    }

    @Test
    void scheduledSyncsRunOnTheirIntervalOnly() throws Exception {
        open(SyncPolicy.builder().interval(Duration.ofSeconds(30)).noSyncOnWrite().build());
        phone.put("notes", "n1", "{}");

        scheduler.advance(Duration.ofSeconds(29));
        assertThat(events).isEmpty();
        scheduler.advance(Duration.ofSeconds(1));
        assertThat(events).containsExactly("started SCHEDULED", "completed pushed=1");
        scheduler.advance(Duration.ofSeconds(60));

        assertThat(events).containsExactly("started SCHEDULED", "completed pushed=1", "started SCHEDULED", "completed pushed=0",
                "started SCHEDULED", "completed pushed=0");
    }

    @Test
    void theAppComingToTheForegroundOrGoingToTheBackgroundStartsASync() throws Exception {
        open(triggeredOnly().build());
        phone.put("notes", "n1", "{}");

        phone.onForeground();
        scheduler.runDue();
        phone.put("notes", "n2", "{}");
        phone.onBackground();
        scheduler.runDue();

        assertThat(events).containsExactly("started FOREGROUND", "completed pushed=1", "started BACKGROUND", "completed pushed=1");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/n2");
    }

    @Test
    void theNetworkComingBackOrOntoAnUnmeteredLinkStartsASyncAndOtherChangesDoNot() throws Exception {
        network.update(NetworkState.OFFLINE);
        open(triggeredOnly().build());
        phone.put("notes", "n1", "{}");

        network.update(NetworkState.online(ConnectionType.CELLULAR, true));
        scheduler.runDue();
        assertThat(events).as("back online, on a metered link: the policy holds it").containsExactly("deferred");
        network.update(NetworkState.online(ConnectionType.WIFI, false));
        scheduler.runDue();
        network.update(new NetworkState(true, ConnectionType.WIFI, false, 0.5, 0.9));
        network.update(NetworkState.online(ConnectionType.CELLULAR, true));
        network.update(NetworkState.online(ConnectionType.ETHERNET, false));
        scheduler.runDue();

        assertThat(events).containsExactly("deferred", "started NETWORK_RESTORED", "completed pushed=1",
                "started NETWORK_RESTORED", "completed pushed=0");
    }

    @Test
    void withAutomaticSyncOffNoTriggerStartsASync() throws Exception {
        open(SyncPolicy.MANUAL);

        phone.put("notes", "n1", "{}");
        phone.onForeground();
        phone.onBackground();
        network.update(NetworkState.OFFLINE);
        network.update(NetworkState.online(ConnectionType.WIFI, false));
        scheduler.advance(Duration.ofMinutes(5));

        assertThat(events).isEmpty();
        assertThat(scheduler.waiting()).isZero();
        java.util.concurrent.CompletableFuture<SyncResult> requested = phone.syncNow();
        scheduler.runDue();
        assertThat(requested.get().pushed()).as("a request still runs").isEqualTo(1);
    }

    @Test
    void aFailedPushIsRetriedByItselfWhenEachBackoffEndsAlsoWithNoPeriod() throws Exception {
        open(triggeredOnly().build(), failingFirst(3), scheduler);
        phone.put("notes", "n1", "{}");

        phone.onForeground();
        scheduler.runDue();
        assertThat(events).containsExactly("started FOREGROUND", "failed SERVER");
        scheduler.advance(Duration.ofMillis(999));
        assertThat(events).as("the first backoff, 1 s, has not ended").hasSize(2);
        scheduler.advance(Duration.ofMillis(1));
        assertThat(events).containsExactly("started FOREGROUND", "failed SERVER", "started RETRY", "failed SERVER");
        scheduler.advance(Duration.ofMillis(1999));
        assertThat(events).as("the second backoff, 2 s, has not ended").hasSize(4);
        scheduler.advance(Duration.ofMillis(1));
        scheduler.advance(Duration.ofSeconds(4));

        assertThat(events).containsExactly("started FOREGROUND", "failed SERVER", "started RETRY", "failed SERVER",
                "started RETRY", "failed SERVER", "started RETRY", "completed pushed=1");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
        assertThat(scheduler.waiting()).as("nothing left to retry").isZero();
    }

    @Test
    void aRetryFallsDueAfterItsBackoffNotWithTheNextScheduledSync() throws Exception {
        open(SyncPolicy.builder().interval(Duration.ofSeconds(30)).syncOnWrite(Duration.ZERO).build(), failingFirst(1), scheduler);

        phone.put("notes", "n1", "{}");
        scheduler.runDue();
        scheduler.advance(Duration.ofSeconds(1));

        assertThat(events).containsExactly("started WRITE", "failed SERVER", "started RETRY", "completed pushed=1");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    @Test
    void aRetryScheduledBeforeARestartFallsDueAfterIt() throws Exception {
        open(triggeredOnly().build(), failingFirst(2), scheduler);
        phone.put("notes", "n1", "{}");
        phone.onForeground();
        scheduler.runDue();
        scheduler.advance(Duration.ofSeconds(1));
        assertThat(events).containsExactly("started FOREGROUND", "failed SERVER", "started RETRY", "failed SERVER");
        phone.close();
        events.clear();

        FakeScheduler restarted = new FakeScheduler(clock);
        open(triggeredOnly().build(), failingFirst(0), restarted);
        restarted.advance(Duration.ofMillis(1999));
        assertThat(events).as("the second backoff, 2 s, has not ended").isEmpty();
        restarted.advance(Duration.ofMillis(1));

        assertThat(events).containsExactly("started RETRY", "completed pushed=1");
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    @Test
    void withAutomaticSyncOffNoRetryStartsASync() throws Exception {
        open(SyncPolicy.MANUAL, failingFirst(1), scheduler);
        phone.put("notes", "n1", "{}");
        java.util.concurrent.CompletableFuture<SyncResult> requested = phone.syncNow();
        scheduler.runDue();
        assertThat(requested.get().status()).isEqualTo(SyncResult.Status.FAILED);

        scheduler.advance(Duration.ofMinutes(5));

        assertThat(events).containsExactly("started REQUESTED", "failed SERVER");
        assertThat(scheduler.waiting()).isZero();
    }

    @Test
    void aRequestMadeWhileAnAutomaticSyncIsHeldBackGetsASyncOfItsOwn() throws Exception {
        network.update(NetworkState.online(ConnectionType.CELLULAR, true));
        open(triggeredOnly().syncOnWrite(Duration.ZERO).build());
        AtomicReference<java.util.concurrent.CompletableFuture<SyncResult>> requested = new AtomicReference<>();
        whenDeferred.set(() -> requested.set(phone.syncNow()));

        phone.put("notes", "n1", "{}");
        scheduler.runDue();

        assertThat(events).containsExactly("deferred", "started REQUESTED", "completed pushed=1");
        assertThat(requested.get()).isCompleted();
        assertThat(requested.get().get().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    @Test
    void aRequestMadeWhileAnAutomaticSyncPullsGetsASyncThatPushesWhatWasWrittenBeforeIt() throws Exception {
        open(triggeredOnly().build());
        phone.put("notes", "n1", "{}");
        AtomicReference<java.util.concurrent.CompletableFuture<SyncResult>> requested = new AtomicReference<>();
        duringPull.set(() -> {
            try {
                phone.put("notes", "n2", "{}");
            } catch (OutpostException e) {
                throw new AssertionError(e);
            }
            requested.set(phone.syncNow());
        });

        phone.onForeground();
        scheduler.runDue();

        assertThat(events).containsExactly("started FOREGROUND", "completed pushed=1", "started REQUESTED", "completed pushed=1");
        SyncResult result = requested.get().get();
        assertThat(result.pushed()).as("n2, written before the request").isEqualTo(1);
        assertThat(result.pending()).isZero();
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/n2");
    }

    @Test
    void aListenerCallingSyncOnTheSyncThreadIsRefusedAtOnceRatherThanWaitingForever() throws Exception {
        open(triggeredOnly().build());
        phone.put("notes", "n1", "{}");
        AtomicReference<Throwable> refused = new AtomicReference<>();
        whenCompleted.set(() -> {
            try {
                phone.sync();
            } catch (Throwable e) {
                refused.set(e);
            }
        });

        phone.onForeground();
        assertTimeoutPreemptively(Duration.ofMinutes(1), scheduler::runDue, "the listener's sync() waited for its own sync");

        assertThat(refused.get()).isInstanceOf(IllegalStateException.class).hasMessageContaining("syncNow()");
        assertThat(events).containsExactly("started FOREGROUND", "completed pushed=1");
        phone.put("notes", "n2", "{}");
        assertThat(phone.syncNow()).as("later syncs still run").isNotDone();
        scheduler.runDue();
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/n2");
    }

    @Test
    void syncNowFromAListenerOfARequestedSyncRunsAnotherSyncAfterIt() throws Exception {
        open(triggeredOnly().build());
        phone.put("notes", "n1", "{}");
        AtomicReference<java.util.concurrent.CompletableFuture<SyncResult>> again = new AtomicReference<>();
        whenCompleted.set(() -> again.set(phone.syncNow()));

        java.util.concurrent.CompletableFuture<SyncResult> first = phone.syncNow();
        scheduler.runDue();

        assertThat(again.get()).isNotSameAs(first).isCompleted();
        assertThat(events).containsExactly("started REQUESTED", "completed pushed=1", "started REQUESTED", "completed pushed=0");
    }
}
