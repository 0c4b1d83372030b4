package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Two server nodes sharing one PostgreSQL database, as a deployment behind a load balancer
 * runs them; pull completeness under concurrent writers on both databases; and the schema's
 * life under Flyway on both databases.
 */
class SharedDatabaseTest {
    private static final int WRITERS = 8;
    private static final int BATCHES_PER_WRITER = 40;
    private static final int HOT_RECORDS = 5;

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private final List<OutpostServer> servers = new ArrayList<>();

    @AfterEach
    void stop() {
        servers.forEach(OutpostServer::close);
    }

    /**
     * Pull completeness on each store: on PostgreSQL through two nodes sharing the database, on
     * SQLite (one node per file, its embedded deployment) through the one node, whose pulls read
     * while its writer commits.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aFollowerOfTheCursorSeesEveryChangeOnceWhileEightWritersPush(String database) throws Exception {
        String url = url(database);
        OutpostServer nodeA = node(url);
        OutpostServer nodeB = database.equals("sqlite") ? nodeA : node(url);
        String token = nodeA.tokens().issue("alice", Duration.ofHours(1));
        createHotRecords(nodeA, token);

        ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 1);
        AtomicBoolean writing = new AtomicBoolean(true);
        CompletableFuture<List<Change>> follower = CompletableFuture.supplyAsync(() -> follow(nodeB, token, writing), pool);
        List<CompletableFuture<Integer>> writers = new ArrayList<>();
        for (int w = 0; w < WRITERS; w++) {
            OutpostServer node = w % 2 == 0 ? nodeA : nodeB;
            String device = "writer-" + w;
            writers.add(CompletableFuture.supplyAsync(() -> write(node, token, device), pool));
        }
        CompletableFuture.allOf(writers.toArray(CompletableFuture[]::new)).get();
        writing.set(false);
        List<Change> followed = follower.get();
        pool.shutdown();

        int applied = 0;
        for (CompletableFuture<Integer> writer : writers) {
            applied += writer.get();
        }

        List<Change> log = pullAll(nodeA, token);
        assertThat(log).as("one change per applied op").hasSize(HOT_RECORDS + applied);
        assertThat(keys(followed)).as("the follower's changes are the change log, in its order, no gaps, no repeats")
                .isEqualTo(keys(log));
        assertThat(new HashSet<>(keys(followed))).hasSize(followed.size());
        Map<String, Long> lastVersion = new HashMap<>();
        for (Change change : followed) {
            long previous = lastVersion.getOrDefault(change.collection() + "/" + change.recordId(), 0L);
            assertThat(change.version()).as("versions of %s/%s in pull order", change.collection(), change.recordId())
                    .isEqualTo(previous + 1);
            lastVersion.put(change.collection() + "/" + change.recordId(), change.version());
        }
    }

    /**
     * The classic way a cursor skips: a change numbered early commits late, after a later
     * number was already read. A trigger holds one push's transaction after its change is
     * numbered; another push commits meanwhile and a follower pulls. The follower must still
     * get the held change.
     */
    @Test
    void aChangeNumberedEarlyButCommittedLateIsNotSkipped() throws Exception {
        String url = TestDatabases.freshPostgresUrl();
        OutpostServer node = node(url);
        String token = node.tokens().issue("alice", Duration.ofHours(1));
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement()) {
            statement.execute("CREATE FUNCTION hold_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                    + "IF NEW.record_id = 'slow' THEN PERFORM pg_sleep(2); END IF; RETURN NEW; END $$");
            statement.execute("CREATE TRIGGER hold_slow AFTER INSERT ON changes FOR EACH ROW EXECUTE FUNCTION hold_slow()");
        }
        Hlc clock = Hlc.create("d", System::currentTimeMillis, null);
        ExecutorService pool = Executors.newSingleThreadExecutor();
        CompletableFuture<PushResponse> slow = CompletableFuture.supplyAsync(
                () -> push(node, token, new PushRequest("slow-device", List.of(create(clock, "notes", "slow"))), null), pool);
        awaitSleepingInsert(url);

        push(node, token, new PushRequest("fast-device", List.of(create(clock, "notes", "fast"))), null);
        PullResponse first = pull(node, token, null, 100);
        slow.get();
        PullResponse second = pull(node, token, first.cursor(), 100);
        pool.shutdown();

        List<String> followed = new ArrayList<>(keys(first.changes()));
        followed.addAll(keys(second.changes()));
        assertThat(followed).containsExactlyInAnyOrder("notes/slow@1", "notes/fast@1");
    }

    private static void awaitSleepingInsert(String url) throws SQLException, InterruptedException {
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement()) {
            for (int i = 0; i < 1000; i++) {
                try (ResultSet rows = statement.executeQuery(
                        "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND query LIKE 'INSERT INTO changes%'")) {
                    rows.next();
                    if (rows.getInt(1) > 0) {
                        return;
                    }
                }
                Thread.sleep(10);
            }
        }
        throw new AssertionError("the held push never reached its change insert");
    }

    @Test
    void theSameBatchSentToTwoNodesAtOnceIsAppliedOnce() throws Exception {
        String url = TestDatabases.freshPostgresUrl();
        OutpostServer nodeA = node(url);
        OutpostServer nodeB = node(url);
        String token = nodeA.tokens().issue("alice", Duration.ofHours(1));
        ExecutorService pool = Executors.newFixedThreadPool(2);
        Hlc clock = Hlc.create("racer", System::currentTimeMillis, null);
        Set<String> opIds = new HashSet<>();
        for (int round = 0; round < 100; round++) {
            List<Operation> ops = new ArrayList<>();
            for (int i = 0; i < 5; i++) {
                ops.add(create(clock, "notes", "r" + round + "-" + i));
            }
            ops.add(new Operation(UUID.randomUUID().toString(), "notes", "r" + round + "-0", OpType.UPDATE, 1L,
                    Wire.object("{\"edited\":true}"), clock.now(), Priority.NORMAL));
            ops.forEach(op -> opIds.add(op.opId()));
            PushRequest batch = new PushRequest("racer", ops);
            CountDownLatch start = new CountDownLatch(1);
            CompletableFuture<PushResponse> viaA = CompletableFuture.supplyAsync(() -> push(nodeA, token, batch, start), pool);
            CompletableFuture<PushResponse> viaB = CompletableFuture.supplyAsync(() -> push(nodeB, token, batch, start), pool);
            start.countDown();
            List<OpResult> a = viaA.get().results();
            List<OpResult> b = viaB.get().results();
            for (int i = 0; i < ops.size(); i++) {
                assertThat(Set.of(a.get(i).status(), b.get(i).status())).as("round %d op %d", round, i)
                        .isEqualTo(Set.of(OpStatus.APPLIED, OpStatus.DUPLICATE));
                assertThat(a.get(i).version()).isEqualTo(b.get(i).version());
            }
        }
        pool.shutdown();

        List<Change> log = pullAll(nodeA, token);
        assertThat(log).hasSize(opIds.size());
        assertThat(log.stream().map(change -> change.origin().opId()).toList()).containsExactlyInAnyOrderElementsOf(opIds);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void theSchemaIsMigratedByFlyway(String database) throws SQLException {
        String url = url(database);
        node(url).close();

        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery(
                        "SELECT version, success FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY installed_rank")) {
            List<String> versions = new ArrayList<>();
            while (rows.next()) {
                assertThat(rows.getBoolean(2)).isTrue();
                versions.add(rows.getString(1));
            }
            assertThat(versions).containsExactly("1", "2", "3");
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void aDatabaseFromANewerOutpostIsRefusedAndLeftAsItWas(String database) throws SQLException {
        String url = url(database);
        node(url).close();
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement()) {
            statement.execute("INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, checksum, "
                    + "installed_by, installed_on, execution_time, success) VALUES (99, '99', 'from the future', 'SQL', "
                    + "'V99__future.sql', 0, 'outpost', CURRENT_TIMESTAMP, 1, true)");
        }

        assertThatThrownBy(() -> node(url))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("newer Outpost")
                .hasMessageContaining("99");
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT COUNT(*) FROM flyway_schema_history")) {
            rows.next();
            assertThat(rows.getInt(1)).isEqualTo(4);
        }
    }

    @Test
    void anSqliteFileFromBeforeFlywayIsTakenOverWithItsData() throws Exception {
        Path file = tmp.resolve("old.db");
        String url = "jdbc:sqlite:" + file;
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement()) {
            for (String script : List.of("V1__sync_schema.sql", "V2__change_history_by_record.sql", "V3__manual_conflicts.sql")) {
                String sql = new String(OutpostServer.class.getResourceAsStream("/db/sqlite/" + script).readAllBytes(),
                        StandardCharsets.UTF_8);
                for (String one : sql.replaceAll("(?m)^--.*$", "").split(";")) {
                    if (!one.isBlank()) {
                        statement.execute(one);
                    }
                }
            }
            statement.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, script TEXT NOT NULL, applied_at INTEGER NOT NULL)");
            statement.execute("INSERT INTO schema_version VALUES (1, 'V1__sync_schema.sql', 0), (2, 'V2__change_history_by_record.sql', 0), "
                    + "(3, 'V3__manual_conflicts.sql', 0)");
            statement.execute("INSERT INTO changes (scope, collection, record_id, version, deleted, data, hlc, origin_device, origin_op, "
                    + "committed_at) VALUES ('user:alice', 'notes', 'kept', 1, 0, '{\"text\":\"from before\"}', NULL, 'd', 'o', 0)");
        }

        OutpostServer server = node(url);
        List<Change> log = pullAll(server, server.tokens().issue("alice", Duration.ofHours(1)));

        assertThat(log).singleElement().satisfies(change -> {
            assertThat(change.recordId()).isEqualTo("kept");
            assertThat(change.data().get("text").asText()).isEqualTo("from before");
        });
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement();
                ResultSet rows = statement.executeQuery("SELECT MAX(version) FROM flyway_schema_history")) {
            rows.next();
            assertThat(rows.getString(1)).isEqualTo("3");
        }
    }

    @Test
    void anUnreachableDatabaseIsAClearErrorThatHidesThePassword() {
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp.resolve("node"))
                .databaseUrl("jdbc:postgresql://127.0.0.1:1/outpost?user=outpost&password=hunter2").build();

        assertThatThrownBy(server::start)
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("cannot open the database jdbc:postgresql://127.0.0.1:1/outpost")
                .hasMessageNotContaining("hunter2");
    }

    @Test
    void aPoolSizeBelowOneIsRefused() {
        assertThatThrownBy(() -> OutpostServer.builder().databasePoolSize(0))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("databasePoolSize");
    }

    private String url(String database) {
        return database.equals("sqlite") ? "jdbc:sqlite:" + tmp.resolve("outpost-" + UUID.randomUUID() + ".db")
                : TestDatabases.freshPostgresUrl();
    }

    private OutpostServer node(String url) {
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp.resolve("node"))
                .databaseUrl(url).build().start();
        servers.add(server);
        return server;
    }

    private void createHotRecords(OutpostServer node, String token) {
        Hlc clock = Hlc.create("setup", System::currentTimeMillis, null);
        List<Operation> ops = new ArrayList<>();
        for (int i = 0; i < HOT_RECORDS; i++) {
            ops.add(create(clock, "hot", "hot-" + i));
        }
        push(node, token, new PushRequest("setup", ops), null);
    }

    /**
     * One device's pushes: batches of 20 ops on records of its own, and in every fifth batch
     * updates of the shared hot records, each made against the version this device last heard
     * of (so some conflict). Most transactions touch disjoint records and commit side by side.
     *
     * @return how many of its ops were applied
     */
    private int write(OutpostServer node, String token, String device) {
        Hlc clock = Hlc.create(device, System::currentTimeMillis, null);
        Map<String, Long> known = new HashMap<>();
        int applied = 0;
        for (int i = 0; i < HOT_RECORDS; i++) {
            known.put("hot-" + i, 1L);
        }
        for (int batch = 0; batch < BATCHES_PER_WRITER; batch++) {
            List<Operation> ops = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                if (batch % 5 == 4 && i < HOT_RECORDS) {
                    String hot = "hot-" + i;
                    ops.add(new Operation(UUID.randomUUID().toString(), "hot", hot, OpType.UPDATE, known.get(hot),
                            Wire.object("{\"by\":\"" + device + "\",\"n\":" + batch + "}"), clock.now(), Priority.NORMAL));
                } else {
                    ops.add(create(clock, "notes", device + "-" + batch + "-" + i));
                }
            }
            List<OpResult> results = push(node, token, new PushRequest(device, ops), null).results();
            for (int i = 0; i < ops.size(); i++) {
                Operation op = ops.get(i);
                OpResult result = results.get(i);
                if (result.status() == OpStatus.APPLIED) {
                    applied++;
                }
                if (op.collection().equals("hot")) {
                    known.merge(op.recordId(), result.version(), Math::max);
                }
            }
        }
        return applied;
    }

    /** Pulls pages of 37 after the cursor until the writers are done and a pull finds nothing more. */
    private List<Change> follow(OutpostServer node, String token, AtomicBoolean writing) {
        List<Change> seen = new ArrayList<>();
        String cursor = null;
        while (true) {
            boolean stillWriting = writing.get();
            PullResponse page = pull(node, token, cursor, 37);
            seen.addAll(page.changes());
            cursor = page.cursor();
            if (!stillWriting && !page.hasMore()) {
                return seen;
            }
        }
    }

    private List<Change> pullAll(OutpostServer node, String token) {
        List<Change> log = new ArrayList<>();
        String cursor = null;
        PullResponse page;
        do {
            page = pull(node, token, cursor, 1000);
            log.addAll(page.changes());
            cursor = page.cursor();
        } while (page.hasMore());
        return log;
    }

    private static List<String> keys(List<Change> changes) {
        return changes.stream().map(change -> change.collection() + "/" + change.recordId() + "@" + change.version()).toList();
    }

    private static Operation create(Hlc clock, String collection, String id) {
        return new Operation(UUID.randomUUID().toString(), collection, id, OpType.CREATE, null,
                Wire.object("{\"name\":\"" + id + "\"}"), clock.now(), Priority.NORMAL);
    }

    private PushResponse push(OutpostServer node, String token, PushRequest batch, CountDownLatch start) {
        return TestHttp.push(http, node, token, batch, start);
    }

    private PullResponse pull(OutpostServer node, String token, String cursor, int limit) {
        String query = "/v1/pull?limit=" + limit + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
        HttpRequest request = HttpRequest.newBuilder(URI.create(node.url() + query)).header("Authorization", "Bearer " + token)
                .GET().build();
        try {
            HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
            assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
            return Wire.read(response.body(), PullResponse.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
