package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.testing.SampleRecords;
import dev.outpost.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Store events reach the app's listeners, and a failing listener never breaks the store. */
class ListenerTest {
    @TempDir
    Path dir;

    private final List<Object> heard = new ArrayList<>();

    private final OutpostListener recorder = new OutpostListener() {
        @Override
        public void quotaExceeded(OutpostException error) {
            heard.add(error);
        }

        @Override
        public void storageDegraded(OpenReport report) {
            heard.add(report);
        }

        @Override
        public void deadLettered(DeadLetter letter) {
            heard.add(letter);
        }
    };

    private final OutpostListener broken = new OutpostListener() {
        @Override
        public void quotaExceeded(OutpostException error) {
            throw new IllegalStateException("listener bug");
        }
    };

    @Test
    void passingTheQuotaIsToldToListenersWithTheErrorThatIsThrown() throws Exception {
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("q.db")).storageQuota(128 * 1024)
                .listener(broken).listener(recorder).build())) {
            OutpostException thrown = null;
            for (int n = 0; n < 500 && thrown == null; n++) {
                try {
                    outpost.put("calls", "c" + n, SampleRecords.callLog(n));
                } catch (OutpostException e) {
                    thrown = e;
                }
            }
            assertThat(thrown).isNotNull();
            assertThat(heard).containsExactly(thrown);
            WriteBatch batch = outpost.newBatch().put("calls", "x", SampleRecords.callLog(9999));
            for (int n = 0; n < 30; n++) {
                batch.put("calls", "batch-" + n, SampleRecords.callLog(n));
            }
            assertThatThrownBy(batch::commit).isInstanceOf(OutpostException.class);
            assertThat(heard).hasSize(2);
        }
    }

    @Test
    void onlyWritesThatChangeSomethingAreToldAsQueued() throws Exception {
        List<String> queued = new ArrayList<>();
        OutpostListener counter = new OutpostListener() {
            @Override
            public void opQueued(String collection, String recordId) {
                queued.add(collection + "/" + recordId);
            }
        };
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("w.db"))
                .listener(counter).build())) {
            outpost.put("notes", "n1", "{\"a\":1}");
            outpost.put("notes", "n1", "{\"a\":1}");
            outpost.update("notes", "n1", "{\"a\":1}");
            outpost.update("notes", "n1", "{\"missing\":null}");
            assertThat(outpost.delete("notes", "no-such-note")).isFalse();
            outpost.newBatch().put("notes", "n1", "{\"a\":1}").put("notes", "n2", "{\"b\":2}").commit();
            outpost.update("notes", "n2", "{\"b\":3}");
            assertThat(outpost.delete("notes", "n2")).isTrue();

            assertThat(queued).containsExactly("notes/n1", "notes/n2", "notes/n2", "notes/n2");
            assertThat(outpost.pendingCount()).as("n2's create and delete cancel out").isEqualTo(1);
        }
    }

    @Test
    void aStoreThatDidNotOpenAsItWasIsToldToListeners() throws Exception {
        Path file = dir.resolve("damaged.db");
        Files.write(file, new byte[4096]);
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).listener(recorder).build())) {
            assertThat(heard).containsExactly(outpost.openReport());
            assertThat(outpost.openReport().mode()).isEqualTo(OpenReport.Mode.STARTED_EMPTY);
        }
        heard.clear();
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).listener(recorder).build())) {
            assertThat(heard).as("a store that opens as it was is not news").isEmpty();
        }
    }

    /**
     * Every event of a device's day, in the order the app hears it: writes queued, a sync that
     * pushes (progress), one that meets a conflict (the server kept its record; this
     * collection waits for the user) and a dead letter in one batch, an automatic sync the
     * network policy holds back on a metered link, and the network change to Wi-Fi that lets
     * it go.
     */
    @Test
    void listenersHearEveryEventOfASyncInOrder() throws Exception {
        List<String> events = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.CountDownLatch restored = new java.util.concurrent.CountDownLatch(1);
        OutpostListener all = new OutpostListener() {
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
            public void conflictDetected(Conflict conflict, Resolution settledBy) {
                events.add("conflict " + conflict.collection() + "/" + conflict.recordId() + " " + settledBy.kind());
            }

            @Override
            public void deadLettered(DeadLetter letter) {
                events.add("dead " + letter.collection() + "/" + letter.recordId());
            }

            @Override
            public void syncCompleted(SyncResult result) {
                events.add("completed pushed=" + result.pushed() + " conflicts=" + result.conflicts() + " dead=" + result.dead());
                if (result.pushed() > 0 && events.contains("network Wi-Fi")) {
                    restored.countDown();
                }
            }

            @Override
            public void syncFailed(SyncResult result) {
                events.add("failed " + result.failure());
            }

            @Override
            public void syncDeferred(SyncResult result) {
                events.add("deferred " + result.message().substring(0, result.message().indexOf(':')));
            }

            @Override
            public void networkChanged(NetworkState state) {
                events.add("network " + (state.type() == ConnectionType.WIFI ? "Wi-Fi" : state.type()));
            }
        };
        ManualNetworkMonitor network = NetworkMonitor.manual(NetworkState.online(ConnectionType.CELLULAR, true));
        try (TestServer server = TestServer.start();
                Outpost phone = Outpost.open(OutpostConfig.builder().storeFile(dir.resolve("phone.db")).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).networkMonitor(network)
                        .syncPolicy(SyncPolicy.builder().interval(java.time.Duration.ZERO).noSyncOnWrite().build())
                        .conflictPolicy("notes", ClientConflictPolicy.PROMPT_USER).listener(all).build());
                Outpost laptop = Outpost.open(OutpostConfig.builder().storeFile(dir.resolve("laptop.db")).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).syncPolicy(SyncPolicy.MANUAL).build())) {
            phone.put("notes", "n1", "{\"title\":\"draft\"}");
            phone.sync();
            laptop.sync();
            laptop.update("notes", "n1", "{\"title\":\"laptop's\"}");
            laptop.sync();
            phone.update("notes", "n1", "{\"title\":\"phone's\"}");
            phone.put("notes", "huge", "{\"blob\":\"" + "x".repeat(300 * 1024) + "\"}");
            phone.sync();
            phone.put("notes", "n2", "{\"title\":\"later\"}");

            SyncResult held = phone.trigger(SyncReason.SCHEDULED).get(30, java.util.concurrent.TimeUnit.SECONDS);
            network.update(NetworkState.online(ConnectionType.WIFI, false));

            assertThat(restored.await(30, java.util.concurrent.TimeUnit.SECONDS)).as(String.valueOf(events)).isTrue();
            assertThat(held.status()).isEqualTo(SyncResult.Status.DEFERRED);
            assertThat(events).containsExactly(
                    "queued notes/n1", "started REQUESTED", "progress 1/1", "completed pushed=1 conflicts=0 dead=0",
                    "queued notes/n1", "queued notes/huge", "started REQUESTED", "conflict notes/n1 LATER", "progress 2/2",
                    "dead notes/huge", "completed pushed=2 conflicts=1 dead=1",
                    "queued notes/n2", "deferred waiting for Wi-Fi",
                    "network Wi-Fi", "started NETWORK_RESTORED", "progress 1/1", "completed pushed=1 conflicts=0 dead=0");
        }
    }

    @Test
    void aStoreThatFellBackToMemoryIsToldToListenersAndTheStatusSaysSoLoudly() throws Exception {
        Path notADirectory = dir.resolve("plain-file");
        Files.writeString(notADirectory, "a file where a directory should be");
        Path file = notADirectory.resolve("store.db");
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file)
                .listener(recorder).build())) {
            assertThat(heard).as("told once, at open").containsExactly(outpost.openReport());
            OpenReport report = (OpenReport) heard.get(0);
            assertThat(report.mode()).isEqualTo(OpenReport.Mode.MEMORY_ONLY);
            assertThat(report.message()).contains(file.toString()).contains("memory only")
                    .contains("lost when the app stops");
            assertThat(outpost.statusLine()).isEqualTo("Storage unavailable: 0 changes waiting, kept in memory only and lost"
                    + " if the app stops");
            outpost.put("notes", "n1", "{}");
            assertThat(outpost.statusLine()).startsWith("Storage unavailable: 1 change waiting");
            assertThat(heard).as("a write is not told again as degraded storage").hasSize(1);
        }
    }

    @Test
    void anOpDeadLetteredDuringASyncIsToldToListeners() throws Exception {
        try (TestServer server = TestServer.start();
                Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("d.db")).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).listener(recorder).build())) {
            outpost.put("notes", "fine", "{}");
            outpost.put("notes", "huge", "{\"blob\":\"" + "x".repeat(300 * 1024) + "\"}");
            outpost.sync();
            assertThat(heard).hasSize(1);
            DeadLetter letter = (DeadLetter) heard.get(0);
            assertThat(letter.recordId()).isEqualTo("huge");
            assertThat(letter.reason()).contains("RECORD_TOO_LARGE");
            outpost.sync();
            assertThat(heard).as("told once").hasSize(1);
        }
    }
}
