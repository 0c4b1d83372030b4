package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TcpFaultProxy;
import dev.outpost.server.ScopeAccess;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The whole loop over real parts: SQLite files on each device, a real server on a loopback port. */
class SyncEndToEndTest {
    @TempDir
    Path dir;

    private TestServer server;
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

    private Outpost device(String name, String user) throws OutpostException {
        return device(name, server.url(), TokenProvider.fixed(server.token(user)));
    }

    private Outpost device(String name, String url, TokenProvider tokens) throws OutpostException {
        Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve(name + ".db"))
                .serverUrl(url)
                .tokenProvider(tokens)
                .requestTimeout(Duration.ofSeconds(5))
                .build());
        open.add(outpost);
        return outpost;
    }

    /** Everything the server holds for a user, read through a fresh pull from the start. */
    private Map<String, ObjectNode> serverView(String user) {
        return server.records(user);
    }

    private List<Change> serverLog(String user) {
        return server.changes(user);
    }

    private static Map<String, ObjectNode> localView(Outpost outpost, String... collections) throws OutpostException {
        Map<String, ObjectNode> view = new HashMap<>();
        for (String collection : collections) {
            for (LocalRecord record : outpost.list(collection)) {
                view.put(collection + "/" + record.id(), record.data());
            }
        }
        return view;
    }

    @Test
    void changesInASharedScopeTheTokenGrantsStayOutOfTheDevicesOwnView() throws Exception {
        String boss = server.token("boss", Map.of("team", ScopeAccess.READ_WRITE));
        String shared = "{\"deviceId\":\"boss-laptop\",\"ops\":[{\"opId\":\"o1\",\"collection\":\"notes\",\"recordId\":\"n1\","
                + "\"type\":\"CREATE\",\"data\":{\"title\":\"team plan\"},\"hlc\":\"1700000000000-00000-boss\",\"scope\":\"team\"}]}";
        HttpResponse<String> pushed = HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/push"))
                .header("Authorization", "Bearer " + boss).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(shared)).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(pushed.body()).contains("APPLIED");
        Outpost phone = device("phone", server.url(),
                TokenProvider.fixed(server.token("ann", Map.of("team", ScopeAccess.READ))));
        phone.put("notes", "n1", "{\"title\":\"my own n1\"}");

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(localView(phone, "notes")).isEqualTo(Map.of("notes/n1", Wire.object("{\"title\":\"my own n1\"}")));
        assertThat(phone.get("notes", "n1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(serverView("ann")).isEqualTo(localView(phone, "notes"));
    }

    @Test
    void twoClientsWithTheirOwnFilesConvergeThroughTheServer() throws Exception {
        Outpost phone = device("phone", "ann");
        Outpost laptop = device("laptop", "ann");

        phone.put("notes", "n1", "{\"title\":\"milk\",\"done\":false}");
        phone.put("notes", "n2", "{\"title\":\"bread\"}");
        laptop.put("notes", "n3", "{\"title\":\"eggs\"}");
        laptop.put("tasks", "t1", "{\"what\":\"call mum\"}");

        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(laptop.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        laptop.update("notes", "n1", "{\"done\":true}");
        laptop.delete("notes", "n2");
        laptop.sync();
        phone.sync();

        Map<String, ObjectNode> server = serverView("ann");
        assertThat(server).containsOnlyKeys("notes/n1", "notes/n3", "tasks/t1");
        assertThat(server.get("notes/n1")).isEqualTo(Wire.object("{\"title\":\"milk\",\"done\":true}"));
        assertThat(localView(phone, "notes", "tasks")).isEqualTo(server);
        assertThat(localView(laptop, "notes", "tasks")).isEqualTo(server);
        assertThat(phone.pendingCount()).isZero();
        assertThat(phone.get("notes", "n1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(phone.get("notes", "n1").orElseThrow().version()).isEqualTo(2);
    }

    @Test
    void writesSucceedOfflineAndSyncReportsOfflineWithOpsQueued() throws Exception {
        server.stop();
        Outpost phone = device("phone", "ann");

        LocalRecord written = phone.put("notes", "n1", "{\"title\":\"offline\"}");
        SyncResult result = phone.sync();

        assertThat(written.state()).isEqualTo(SyncState.PENDING);
        assertThat(phone.get("notes", "n1")).isPresent();
        assertThat(result.status()).isEqualTo(SyncResult.Status.OFFLINE);
        assertThat(result.failure()).isEqualTo(OutpostException.Category.NETWORK);
        assertThat(result.pending()).isEqualTo(1);
        server.restart();
    }

    @Test
    void opsWrittenWhileTheServerIsDownSurviveAClientRestartAndArePushedLater() throws Exception {
        server.stop();
        Path file = dir.resolve("phone.db");
        String token = server.token("ann");
        try (Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(token)).build())) {
            phone.put("notes", "n1", "{\"title\":\"first\"}");
            phone.update("notes", "n1", "{\"body\":\"more\"}");
            phone.put("notes", "n2", "{\"title\":\"second\"}");
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.OFFLINE);
        }

        server.restart();
        try (Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(token)).build())) {
            // A record's first op (n1's create) is never folded into: three ops for three writes.
            assertThat(phone.pendingCount()).isEqualTo(3);
            SyncResult result = phone.sync();
            assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(result.applied()).isEqualTo(3);
            assertThat(phone.pendingCount()).isZero();
        }
        Outpost laptop = device("laptop", "ann");
        laptop.sync();
        assertThat(laptop.get("notes", "n1").orElseThrow().data())
                .isEqualTo(Wire.object("{\"title\":\"first\",\"body\":\"more\"}"));
        assertThat(laptop.get("notes", "n2")).isPresent();
    }

    @Test
    void aPushWhoseResponseWasLostIsAppliedOnce() throws Exception {
        FakeClock clock = new FakeClock();
        try (TcpFaultProxy proxy = TcpFaultProxy.start("127.0.0.1", server.port())) {
            // Coalescing off, so a chain of two ops of one record is what gets re-sent.
            Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("phone.db")).serverUrl(proxy.url())
                    .tokenProvider(TokenProvider.fixed(server.token("ann"))).coalescing(false).clock(clock).build());
            open.add(phone);
            phone.put("notes", "n1", "{\"title\":\"once\"}");
            phone.update("notes", "n1", "{\"count\":1}");

            proxy.cutAfterBytes(0);
            proxy.set(TcpFaultProxy.Fault.CUT_RESPONSE);
            SyncResult lost = phone.sync();
            // The push reached the server, so losing its answer is the server's failure (retried
            // by the retry policy), not the device being offline.
            assertThat(lost.status()).isEqualTo(SyncResult.Status.FAILED);
            assertThat(lost.failure()).isEqualTo(OutpostException.Category.SERVER);
            assertThat(lost.message()).contains("lost its connection");
            assertThat(phone.pendingCount()).isEqualTo(2);

            proxy.set(TcpFaultProxy.Fault.NONE);
            clock.advance(Duration.ofSeconds(20));
            SyncResult retried = phone.sync();
            assertThat(retried.status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(retried.applied()).isEqualTo(2);
        }
        List<Change> log = serverLog("ann");
        assertThat(log).hasSize(2);
        assertThat(log).extracting(Change::version).containsExactly(1L, 2L);
        assertThat(serverView("ann").get("notes/n1")).isEqualTo(Wire.object("{\"title\":\"once\",\"count\":1}"));
    }

    @Test
    void theSameBatchSentTwiceIsAnsweredDuplicateWithItsFirstOutcome() throws Exception {
        Transport transport = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        String token = server.token("ann");
        PushRequest batch = new PushRequest("device-1", List.of(
                new Operation("op-1", "notes", "n1", OpType.CREATE, null, Wire.object("{\"a\":1}"),
                        "1700000000000-00000-device-1", Priority.NORMAL),
                new Operation("op-2", "notes", "n1", OpType.UPDATE, 1L, Wire.object("{\"a\":2}"),
                        "1700000000000-00001-device-1", Priority.NORMAL),
                new Operation("op-3", "notes", "n1", OpType.UPDATE, 1L, Wire.object("{\"a\":3}"),
                        "1700000000000-00002-device-1", Priority.NORMAL)));

        PushResponse first = transport.push(batch, token);
        PushResponse second = transport.push(batch, token);

        assertThat(first.results()).extracting(r -> r.status())
                .containsExactly(OpStatus.APPLIED, OpStatus.APPLIED, OpStatus.CONFLICT);
        assertThat(second.results()).extracting(r -> r.status())
                .containsExactly(OpStatus.DUPLICATE, OpStatus.DUPLICATE, OpStatus.DUPLICATE);
        for (int i = 0; i < 3; i++) {
            assertThat(second.results().get(i).version()).isEqualTo(first.results().get(i).version());
            assertThat(second.results().get(i).record()).isEqualTo(first.results().get(i).record());
        }
        assertThat(serverLog("ann")).hasSize(2);
    }

    @Test
    void aStaleUpdateGetsConflictAndBothClientsEndWithTheServersRecord() throws Exception {
        Outpost phone = device("phone", "ann");
        Outpost laptop = device("laptop", "ann");
        phone.put("notes", "n1", "{\"title\":\"draft\"}");
        phone.sync();
        laptop.sync();

        phone.update("notes", "n1", "{\"title\":\"from phone\"}");
        phone.sync();
        laptop.update("notes", "n1", "{\"title\":\"from laptop\"}");
        SyncResult result = laptop.sync();
        phone.sync();

        assertThat(result.conflicts()).isEqualTo(1);
        ObjectNode expected = Wire.object("{\"title\":\"from phone\"}");
        assertThat(serverView("ann").get("notes/n1")).isEqualTo(expected);
        assertThat(laptop.get("notes", "n1").orElseThrow().data()).isEqualTo(expected);
        assertThat(phone.get("notes", "n1").orElseThrow().data()).isEqualTo(expected);
        assertThat(laptop.pendingCount()).isZero();
    }

    @Test
    void userACannotPullOrOverwriteUserBsRecords() throws Exception {
        Outpost ann = device("ann", "ann");
        Outpost bob = device("bob", "bob");
        ann.put("notes", "n1", "{\"owner\":\"ann\"}");
        ann.sync();

        bob.sync();
        assertThat(bob.list("notes")).isEmpty();

        bob.put("notes", "n1", "{\"owner\":\"bob\"}");
        bob.sync();
        ann.sync();

        assertThat(serverView("ann").get("notes/n1")).isEqualTo(Wire.object("{\"owner\":\"ann\"}"));
        assertThat(serverView("bob").get("notes/n1")).isEqualTo(Wire.object("{\"owner\":\"bob\"}"));
        assertThat(ann.get("notes", "n1").orElseThrow().data()).isEqualTo(Wire.object("{\"owner\":\"ann\"}"));
        assertThat(serverLog("bob")).extracting(c -> c.origin().deviceId()).containsOnly(bob.deviceId());
    }

    @Test
    void aRejectedTokenIsRefreshedOnceFromTheProvider() throws Exception {
        AtomicInteger asked = new AtomicInteger();
        String good = server.token("ann");
        Outpost phone = device("phone", server.url(), rejected -> {
            asked.incrementAndGet();
            return rejected == null ? "not-a-token" : good;
        });
        phone.put("notes", "n1", "{}");

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(asked.get()).isEqualTo(2);
    }

    @Test
    void aTokenTheServerRefusesEndsTheSyncWithAuthAndKeepsTheOps() throws Exception {
        Outpost phone = device("phone", server.url(), TokenProvider.fixed("not-a-token"));
        phone.put("notes", "n1", "{}");

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(result.failure()).isEqualTo(OutpostException.Category.AUTH);
        assertThat(result.pending()).isEqualTo(1);
    }

    @Test
    void manyOpsAcrossBatchesAllArriveInOrder() throws Exception {
        Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("bulk.db")).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).pushBatchSize(7).pullPageSize(11).build());
        open.add(phone);
        for (int i = 0; i < 40; i++) {
            phone.put("items", "i" + (i % 10), "{\"n\":" + i + "}");
        }
        phone.sync();
        Outpost laptop = device("laptop", "ann");
        laptop.sync();

        Set<String> seen = new HashSet<>();
        for (LocalRecord record : laptop.list("items")) {
            seen.add(record.id());
            int last = Integer.parseInt(record.id().substring(1)) + 30;
            assertThat(record.data().get("n").asInt()).isEqualTo(last);
        }
        assertThat(seen).hasSize(10);
    }

    @Test
    void aDeviceKeepsSeveralPushesOnTheirWayButNeverTwoOfOneRecordAndEachRecordsOpsGoInTheOrderWritten() throws Exception {
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        AtomicInteger inFlight = new AtomicInteger();
        AtomicInteger mostAtOnce = new AtomicInteger();
        CountDownLatch overlap = new CountDownLatch(2);
        Set<String> recordsInFlight = new HashSet<>();
        List<String> sharedRecords = java.util.Collections.synchronizedList(new ArrayList<>());
        List<List<Operation>> requests = java.util.Collections.synchronizedList(new ArrayList<>());
        Transport watched = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) throws OutpostException {
                mostAtOnce.accumulateAndGet(inFlight.incrementAndGet(), Math::max);
                synchronized (recordsInFlight) {
                    for (Operation op : request.ops()) {
                        if (!recordsInFlight.add(op.recordId())) {
                            sharedRecords.add(op.recordId());
                        }
                    }
                }
                try {
                    requests.add(request.ops());
                    // The first request waits (a while at most) for a second to set out.
                    overlap.countDown();
                    overlap.await(5, TimeUnit.SECONDS);
                    return http.push(request, token);
                } catch (InterruptedException e) {
                    throw new IllegalStateException(e);
                } finally {
                    synchronized (recordsInFlight) {
                        request.ops().forEach(op -> recordsInFlight.remove(op.recordId()));
                    }
                    inFlight.decrementAndGet();
                }
            }

            @Override
            public dev.outpost.protocol.PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                return http.pull(cursor, limit, token);
            }
        };
        Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("phone.db"))
                .transport(watched).tokenProvider(TokenProvider.fixed(server.token("ann"))).coalescing(false).pushBatchSize(7)
                .pushesInFlight(3).build());
        open.add(phone);
        for (int i = 0; i < 40; i++) {
            phone.put("items", "i" + (i % 10), "{\"n\":" + i + "}");
        }
        for (int i = 0; i < 20; i++) {
            phone.put("items", "single" + i, "{\"n\":" + i + "}");
        }

        SyncResult result = phone.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.pushed()).isEqualTo(60);
        assertThat(result.pending()).isZero();
        assertThat(mostAtOnce.get()).as("requests in flight at once").isBetween(2, 3);
        assertThat(sharedRecords).as("records in two requests on their way at once").isEmpty();
        Map<String, Integer> lastSent = new HashMap<>();
        Set<String> opIds = new HashSet<>();
        for (List<Operation> request : requests) {
            Set<String> recordsInRequest = new HashSet<>();
            for (Operation op : request) {
                assertThat(opIds.add(op.opId())).as("op %s sent once", op.opId()).isTrue();
                assertThat(recordsInRequest.add(op.recordId())).as("one op of %s per request", op.recordId()).isTrue();
                int n = op.data().get("n").asInt();
                assertThat(n).as("ops of %s in the order written", op.recordId())
                        .isGreaterThan(lastSent.getOrDefault(op.recordId(), -1));
                lastSent.put(op.recordId(), n);
            }
        }
        Outpost laptop = device("laptop", "ann");
        laptop.sync();
        for (int i = 0; i < 10; i++) {
            assertThat(laptop.get("items", "i" + i).orElseThrow().data().get("n").asInt()).isEqualTo(30 + i);
        }
        assertThat(laptop.list("items")).hasSize(30);
    }

    @Test
    void aPullCutOffMidwayKeepsThePagesItAppliedAndTheNextSyncGoesOnFromThere() throws Exception {
        Outpost phone = device("phone", "ann");
        for (int i = 0; i < 20; i++) {
            phone.put("items", "i" + i, "{\"n\":" + i + "}");
        }
        phone.sync();
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        AtomicInteger pulls = new AtomicInteger();
        List<String> cursors = java.util.Collections.synchronizedList(new ArrayList<>());
        Transport flaky = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) throws OutpostException {
                return http.push(request, token);
            }

            @Override
            public dev.outpost.protocol.PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                cursors.add(String.valueOf(cursor));
                if (pulls.incrementAndGet() == 3) {
                    throw new OutpostException(OutpostException.Category.NETWORK, "CONNECTION_LOST", "the network went away");
                }
                return http.pull(cursor, limit, token);
            }
        };
        Outpost laptop = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("laptop.db"))
                .transport(flaky).tokenProvider(TokenProvider.fixed(server.token("ann"))).pullPageSize(5).build());
        open.add(laptop);

        SyncResult cut = laptop.sync();

        assertThat(cut.status()).isEqualTo(SyncResult.Status.OFFLINE);
        assertThat(laptop.list("items")).as("the two pages fetched before the third failed").hasSize(10);
        String resumeFrom = cursors.get(2);

        SyncResult resumed = laptop.sync();

        assertThat(resumed.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(resumed.pulled()).isEqualTo(10);
        assertThat(cursors.get(3)).as("the next sync asks for the page that failed").isEqualTo(resumeFrom);
        assertThat(laptop.list("items")).hasSize(20);
    }
}
