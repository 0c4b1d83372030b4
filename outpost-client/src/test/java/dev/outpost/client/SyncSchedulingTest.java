package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.client.internal.SyncGate;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * When syncs happen by themselves and on what network: the seeds' metered-link policy driven by
 * a fake monitor and clock, writes, network restore, lifecycle calls, one sync at a time, the
 * circuit breaker, and the events an app builds its sync indicator on.
 */
class SyncSchedulingTest {
    private static final SyncPolicy TRIGGERED_ONLY = SyncPolicy.builder().interval(Duration.ZERO).noSyncOnWrite().build();

    @TempDir
    Path dir;

    private TestServer server;
    private final FakeClock clock = new FakeClock(Instant.parse("2026-11-23T08:00:00Z"));
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void startServer() {
        server = TestServer.start();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable closeable : open) {
            closeable.close();
        }
        server.close();
    }

    private Outpost device(SyncPolicy policy, NetworkMonitor monitor, OutpostListener... listeners) throws OutpostException {
        return device(policy, monitor, Transport.http(URI.create(server.url()), Duration.ofSeconds(5)), listeners);
    }

    private Outpost device(SyncPolicy policy, NetworkMonitor monitor, Transport transport, OutpostListener... listeners)
            throws OutpostException {
        OutpostConfig.Builder config = OutpostConfig.builder().storeFile(dir.resolve("device-" + open.size() + ".db"))
                .transport(transport).tokenProvider(TokenProvider.fixed(server.token("ann"))).clock(clock)
                .syncPolicy(policy).networkMonitor(monitor);
        for (OutpostListener listener : listeners) {
            config.listener(listener);
        }
        Outpost outpost = Outpost.open(config.build());
        open.add(outpost);
        return outpost;
    }

    private static SyncResult await(CompletableFuture<SyncResult> sync) throws Exception {
        return sync.get(30, TimeUnit.SECONDS);
    }

    // ---- the metered-link policy ----

    @Test
    void onAMeteredLinkAutomaticSyncsWaitForWifiAndGoWhenItComes() throws Exception {
        ManualNetworkMonitor network = NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, true));
        CountDownLatch synced = new CountDownLatch(1);
        Outpost phone = device(TRIGGERED_ONLY, network, new OutpostListener() {
            @Override
            public void syncCompleted(SyncResult result) {
                synced.countDown();
            }
        });
        phone.put("notes", "n1", "{\"title\":\"milk\"}");

        SyncResult held = await(phone.trigger(SyncReason.SCHEDULED));

        assertThat(held.status()).isEqualTo(SyncResult.Status.DEFERRED);
        assertThat(held.message()).startsWith("waiting for Wi-Fi");
        assertThat(phone.statusLine()).isEqualTo("1 change waiting for Wi-Fi");
        assertThat(server.records("ann")).isEmpty();

        network.update(NetworkState.online(ConnectionType.WIFI, false));

        assertThat(synced.await(30, TimeUnit.SECONDS)).as("Wi-Fi started a sync").isTrue();
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    @Test
    void aMeteredLinkIsUsedOnceChangesHaveWaitedADay() throws Exception {
        Outpost phone = device(TRIGGERED_ONLY, NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, true)));
        phone.put("notes", "n1", "{\"title\":\"milk\"}");
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.DEFERRED);

        clock.advance(Duration.ofHours(24));

        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    @Test
    void theDayOfflineCountsFromTheLastCompletedSyncAlsoAfterARestart() throws Exception {
        ManualNetworkMonitor network = NetworkMonitor.manual(NetworkState.online(ConnectionType.WIFI, false));
        OutpostConfig config = OutpostConfig.builder().storeFile(dir.resolve("restarted.db"))
                .transport(Transport.http(URI.create(server.url()), Duration.ofSeconds(5)))
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).clock(clock).syncPolicy(TRIGGERED_ONLY)
                .networkMonitor(network).build();
        try (Outpost phone = Outpost.open(config)) {
            phone.put("notes", "n1", "{\"title\":\"milk\"}");
            assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.COMPLETED);
        }
        clock.advance(Duration.ofHours(25));
        network.update(NetworkState.online(ConnectionType.CELLULAR, true));
        try (Outpost phone = Outpost.open(config)) {
            phone.put("notes", "n2", "{\"title\":\"eggs\"}");

            SyncResult result = await(phone.trigger(SyncReason.SCHEDULED));

            assertThat(result.status()).as("25 h since the last sync, though n2 was written just now").isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/n2");
        }
    }

    @Test
    void aMeteredLinkIsUsedWhenTheQueuePassesItsThreshold() throws Exception {
        SyncPolicy policy = SyncPolicy.builder().interval(Duration.ZERO).noSyncOnWrite().meteredQueueBytes(2000).build();
        Outpost phone = device(policy, NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, true)));
        phone.put("notes", "small", "{\"title\":\"milk\"}");
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.DEFERRED);

        phone.put("notes", "large", "{\"body\":\"" + "x".repeat(3000) + "\"}");

        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(server.records("ann")).containsOnlyKeys("notes/small", "notes/large");
    }

    @Test
    void aMeteredLinkIsUsedForACriticalChange() throws Exception {
        Outpost phone = device(TRIGGERED_ONLY, NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, true)));

        phone.put("alerts", "a1", "{\"level\":\"fire\"}", Priority.CRITICAL);

        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(server.records("ann")).containsOnlyKeys("alerts/a1");
    }

    @Test
    void aMeteredLinkIsUsedWhenTheAppAsks() throws Exception {
        Outpost phone = device(TRIGGERED_ONLY, NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, true)));
        phone.put("notes", "n1", "{\"title\":\"milk\"}");

        SyncResult result = await(phone.syncNow());

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.pushed()).isEqualTo(1);
    }

    @Test
    void withWifiOnlyInTheBackgroundABackgroundSyncWaitsAndTheForegroundOneGoes() throws Exception {
        SyncPolicy policy = SyncPolicy.builder().interval(Duration.ZERO).noSyncOnWrite().wifiOnlyInBackground(true).build();
        List<SyncResult> ended = Collections.synchronizedList(new ArrayList<>());
        Outpost phone = device(policy, NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, false)),
                new OutpostListener() {
                    @Override
                    public void syncDeferred(SyncResult result) {
                        ended.add(result);
                    }

                    @Override
                    public void syncCompleted(SyncResult result) {
                        ended.add(result);
                    }
                });
        phone.put("notes", "n1", "{\"title\":\"milk\"}");

        phone.onBackground();
        SyncResult background = await(phone.trigger(SyncReason.SCHEDULED));
        phone.onForeground();
        SyncResult foreground = await(phone.trigger(SyncReason.FOREGROUND));

        assertThat(background.status()).isEqualTo(SyncResult.Status.DEFERRED);
        assertThat(background.message()).startsWith("waiting for Wi-Fi");
        assertThat(foreground.status()).isIn(SyncResult.Status.COMPLETED);
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
        assertThat(ended).extracting(SyncResult::status).contains(SyncResult.Status.DEFERRED, SyncResult.Status.COMPLETED);
    }

    @Test
    void wifiOnlyInTheBackgroundWithTheDefaultMonitorIsRefusedAtBuild() {
        SyncPolicy policy = SyncPolicy.builder().wifiOnlyInBackground(true).build();
        OutpostConfig.Builder config = OutpostConfig.builder().storeFile(dir.resolve("phone.db")).serverUrl(server.url())
                .syncPolicy(policy);

        assertThatThrownBy(config::build).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("wifiOnlyInBackground needs a networkMonitor");
        config.networkMonitor(NetworkMonitor.manual(NetworkState.online(ConnectionType.WIFI, false)));
        assertThat(config.build().syncPolicy().wifiOnlyInBackground()).isTrue();
    }

    @Test
    void aDeviceThatNeverSyncedAndHasNothingQueuedUsesAMeteredLinkOnceItsStoreIsADayOld() throws Exception {
        Outpost phone = device(TRIGGERED_ONLY, NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, true)));
        Outpost laptop = device(SyncPolicy.MANUAL, NetworkMonitor.manual(NetworkState.UNKNOWN));
        laptop.put("notes", "n1", "{\"title\":\"from the laptop\"}");
        laptop.sync();

        clock.advance(Duration.ofHours(23));
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.DEFERRED);

        clock.advance(Duration.ofHours(1));
        SyncResult dayOld = await(phone.trigger(SyncReason.SCHEDULED));
        assertThat(dayOld.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(phone.get("notes", "n1")).isPresent();
    }

    @Test
    void theGateFollowsTheSeedsRules() {
        SyncGate gate = new SyncGate(false, Duration.ofHours(24), 1024 * 1024);
        Instant now = Instant.parse("2026-11-23T08:00:00Z");
        NetworkState cellular = NetworkState.online(ConnectionType.CELLULAR, true);
        NetworkState wifi = NetworkState.online(ConnectionType.WIFI, false);
        QueueStats small = stats(10, 500, Map.of(Priority.NORMAL, 10), now.minus(Duration.ofHours(1)));
        QueueStats big = stats(10, 1024 * 1024 + 1, Map.of(Priority.NORMAL, 10), now.minus(Duration.ofHours(1)));
        QueueStats critical = stats(1, 10, Map.of(Priority.CRITICAL, 1), now);

        assertThat(gate.decide(wifi, false, false, small, null, now).run()).isTrue();
        assertThat(gate.decide(cellular, false, false, small, now.minus(Duration.ofHours(1)), now).run()).isFalse();
        assertThat(gate.decide(cellular, false, false, small, now.minus(Duration.ofHours(24)), now).run()).isTrue();
        assertThat(gate.decide(cellular, false, false, big, now, now).run()).isTrue();
        assertThat(gate.decide(cellular, false, false, critical, now, now).run()).isTrue();
        assertThat(gate.decide(cellular, true, false, small, now, now).run()).isTrue();
        assertThat(gate.decide(NetworkState.OFFLINE, false, false, small, null, now).waitingFor()).isEqualTo("a connection");
    }

    private static QueueStats stats(int pending, long bytes, Map<Priority, Integer> byPriority, Instant oldest) {
        return new QueueStats(pending, 0, 0, 0, 0, null, byPriority, bytes, oldest, Double.NaN, null);
    }

    @Test
    void openClosesTheStoreWhenTheAppsNetworkMonitorThrowsAtStart() throws Exception {
        Path file = dir.resolve("phone.db");
        NetworkMonitor broken = new NetworkMonitor() {
            @Override
            public NetworkState current() {
                return NetworkState.UNKNOWN;
            }

            @Override
            public void start() {
                throw new IllegalStateException("no connectivity service");
            }
        };
        OutpostConfig config = OutpostConfig.builder().storeFile(file)
                .transport(Transport.http(URI.create(server.url()), Duration.ofSeconds(5)))
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).clock(clock)
                .syncPolicy(SyncPolicy.DEFAULTS).networkMonitor(broken).build();

        assertThatThrownBy(() -> Outpost.open(config)).isInstanceOf(IllegalStateException.class)
                .hasMessage("no connectivity service");

        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement statement = db.createStatement();
                ResultSet session = statement.executeQuery("SELECT value FROM meta WHERE key = 'session'")) {
            assertThat(session.next()).as("the store's session was closed").isFalse();
        }
    }

    // ---- what starts a sync ----

    @Test
    void writesStartASyncAfterTheDebounceAndWritesInBetweenGoWithIt() throws Exception {
        CountDownLatch synced = new CountDownLatch(1);
        SyncPolicy policy = SyncPolicy.builder().interval(Duration.ZERO).syncOnWrite(Duration.ofMillis(200)).build();
        Outpost phone = device(policy, NetworkMonitor.manual(NetworkState.UNKNOWN), new OutpostListener() {
            @Override
            public void syncCompleted(SyncResult result) {
                if (result.pending() == 0) {
                    synced.countDown();
                }
            }
        });

        phone.put("notes", "n1", "{\"title\":\"milk\"}");
        phone.put("notes", "n2", "{\"title\":\"bread\"}");
        phone.newBatch().put("notes", "n3", "{\"title\":\"eggs\"}").commit();

        assertThat(synced.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/n2", "notes/n3");
    }

    @Test
    void theNetworkComingBackStartsASync() throws Exception {
        ManualNetworkMonitor network = NetworkMonitor.manual(NetworkState.OFFLINE);
        CountDownLatch synced = new CountDownLatch(1);
        List<NetworkState> told = Collections.synchronizedList(new ArrayList<>());
        Outpost phone = device(TRIGGERED_ONLY, network, new OutpostListener() {
            @Override
            public void syncCompleted(SyncResult result) {
                synced.countDown();
            }

            @Override
            public void networkChanged(NetworkState state) {
                told.add(state);
            }
        });
        phone.put("notes", "n1", "{\"title\":\"milk\"}");
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.DEFERRED);
        assertThat(phone.statusLine()).isEqualTo("Offline: 1 change will sync when connected");

        network.update(NetworkState.online(ConnectionType.WIFI, false));

        assertThat(synced.await(30, TimeUnit.SECONDS)).isTrue();
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
        assertThat(told).containsExactly(NetworkState.online(ConnectionType.WIFI, false));
        assertThat(phone.networkState().type()).isEqualTo(ConnectionType.WIFI);
    }

    @Test
    void aScheduledSyncRunsOnItsIntervalAndPullsOtherDevicesChanges() throws Exception {
        Outpost laptop = device(SyncPolicy.MANUAL, NetworkMonitor.manual(NetworkState.UNKNOWN));
        laptop.put("notes", "n1", "{\"title\":\"from the laptop\"}");
        laptop.sync();
        CountDownLatch pulled = new CountDownLatch(1);

        device(SyncPolicy.builder().interval(Duration.ofSeconds(1)).noSyncOnWrite().build(),
                NetworkMonitor.manual(NetworkState.UNKNOWN), new OutpostListener() {
                    @Override
                    public void syncCompleted(SyncResult result) {
                        if (result.pulled() > 0) {
                            pulled.countDown();
                        }
                    }
                });

        assertThat(pulled.await(30, TimeUnit.SECONDS)).isTrue();
    }

    @Test
    void aSecondRequestJoinsTheRunningSync() throws Exception {
        CountDownLatch pushing = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        Transport held = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) throws OutpostException {
                pushing.countDown();
                try {
                    release.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return http.push(request, token);
            }

            @Override
            public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                return http.pull(cursor, limit, token);
            }
        };
        Outpost phone = device(SyncPolicy.MANUAL, NetworkMonitor.manual(NetworkState.UNKNOWN), held);
        phone.put("notes", "n1", "{\"title\":\"milk\"}");

        CompletableFuture<SyncResult> first = phone.syncNow();
        assertThat(pushing.await(30, TimeUnit.SECONDS)).isTrue();
        CompletableFuture<SyncResult> second = phone.syncNow();
        release.countDown();

        assertThat(second).isSameAs(first);
        assertThat(await(second).pushed()).isEqualTo(1);
    }

    // ---- the circuit breaker ----

    @Test
    void repeatedServerFailuresOpenTheCircuitWhichHalfOpensAfterTheCoolDownAndClosesOnSuccess() throws Exception {
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        AtomicBoolean failing = new AtomicBoolean(true);
        Transport flaky = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) throws OutpostException {
                fail();
                return http.push(request, token);
            }

            @Override
            public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                fail();
                return http.pull(cursor, limit, token);
            }

            private void fail() throws OutpostException {
                if (failing.get()) {
                    throw new OutpostException(OutpostException.Category.SERVER, "HTTP_503", "pull answered HTTP 503");
                }
            }
        };
        SyncPolicy policy = SyncPolicy.builder().interval(Duration.ZERO).noSyncOnWrite()
                .circuitBreaker(2, Duration.ofSeconds(30)).build();
        Outpost phone = device(policy, NetworkMonitor.manual(NetworkState.UNKNOWN), flaky);
        phone.put("notes", "n1", "{\"title\":\"milk\"}");

        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).isEqualTo(SyncResult.Status.FAILED);
        SyncResult open = await(phone.trigger(SyncReason.SCHEDULED));
        assertThat(open.status()).as("open: held back without a request").isEqualTo(SyncResult.Status.DEFERRED);
        assertThat(phone.statusLine()).contains("the server is failing");
        assertThat(await(phone.syncNow()).status()).as("a request still goes through").isEqualTo(SyncResult.Status.FAILED);

        clock.advance(Duration.ofSeconds(31));
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).as("half open: one try").isEqualTo(SyncResult.Status.FAILED);
        clock.advance(Duration.ofSeconds(31));
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).as("open again, twice as long")
                .isEqualTo(SyncResult.Status.DEFERRED);
        clock.advance(Duration.ofSeconds(30));
        failing.set(false);
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).as("half open, and the server is back")
                .isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(await(phone.trigger(SyncReason.SCHEDULED)).status()).as("closed").isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
    }

    // ---- events ----

    @Test
    void listenersHearASyncsEventsInOrder() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        OutpostListener recorder = new OutpostListener() {
            @Override
            public void opQueued(String collection, String recordId) {
                events.add("queued " + collection + "/" + recordId);
            }

            @Override
            public void syncStarted(SyncReason reason) {
                events.add("started " + reason);
            }

            @Override
            public void syncProgress(int done, int total) {
                events.add("progress " + done + "/" + total);
            }

            @Override
            public void syncCompleted(SyncResult result) {
                events.add("completed pushed=" + result.pushed() + " pulled=" + result.pulled());
            }

            @Override
            public void syncFailed(SyncResult result) {
                events.add("failed " + result.failure());
            }
        };
        Outpost phone = device(SyncPolicy.MANUAL, NetworkMonitor.manual(NetworkState.UNKNOWN),
                Transport.http(URI.create(server.url()), Duration.ofSeconds(5)), recorder);
        for (int i = 1; i <= 3; i++) {
            phone.put("notes", "n" + i, "{\"i\":" + i + "}");
        }
        OutpostConfig offline = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("offline.db"))
                .serverUrl("http://127.0.0.1:1").requestTimeout(Duration.ofSeconds(2)).listener(recorder).build();

        phone.sync();
        try (Outpost alone = Outpost.open(offline)) {
            alone.sync();
        }

        assertThat(events).containsExactly("queued notes/n1", "queued notes/n2", "queued notes/n3", "started REQUESTED",
                "progress 3/3", "completed pushed=3 pulled=0", "started REQUESTED", "failed NETWORK");
    }

    // ---- settings ----

    @Test
    void syncPolicySettingsAreCheckedWithClearMessages() {
        assertThatThrownBy(() -> SyncPolicy.builder().interval(Duration.ofMillis(10)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("interval");
        assertThatThrownBy(() -> SyncPolicy.builder().interval(Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("interval");
        assertThatThrownBy(() -> SyncPolicy.builder().syncOnWrite(Duration.ofHours(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("debounce");
        assertThatThrownBy(() -> SyncPolicy.builder().meteredAfter(Duration.ofSeconds(5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("meteredAfter");
        assertThatThrownBy(() -> SyncPolicy.builder().meteredQueueBytes(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("meteredQueueBytes");
        assertThatThrownBy(() -> SyncPolicy.builder().circuitBreaker(0, Duration.ofSeconds(30)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("failures");
        assertThatThrownBy(() -> SyncPolicy.builder().circuitBreaker(3, Duration.ofDays(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cool-down");
        assertThatThrownBy(() -> new NetworkState(true, ConnectionType.NONE, false, 1, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NONE");
        assertThatThrownBy(() -> new NetworkState(true, ConnectionType.WIFI, false, 2, 1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("quality");
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> NetworkMonitor.probing(Transport.http(URI.create("http://127.0.0.1:1"), Duration.ofSeconds(1)),
                Duration.ZERO)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("interval");
    }

    @Test
    void theDefaultMonitorProbesTheServersHealth() throws Exception {
        NetworkMonitor probing = NetworkMonitor.probing(Transport.http(URI.create(server.url()), Duration.ofSeconds(2)),
                Duration.ofHours(1));
        List<NetworkState> told = Collections.synchronizedList(new ArrayList<>());
        probing.subscribe(told::add);
        ((dev.outpost.client.internal.ProbingNetworkMonitor) probing).probe();
        assertThat(probing.current().online()).isTrue();
        assertThat(probing.current().quality()).isGreaterThan(0);

        server.stop();
        ((dev.outpost.client.internal.ProbingNetworkMonitor) probing).probe();

        assertThat(probing.current().online()).isFalse();
        assertThat(probing.current().stability()).isEqualTo(0.5);
        assertThat(told).extracting(NetworkState::online).containsExactly(false);
        server.restart();
    }
}
