package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

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
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Natural-key matching on each store (the run's database: SQLite, or PostgreSQL when chosen):
 * values match when they are the same JSON kind and value, as PostgreSQL's jsonb compares, and
 * the same call logged by two devices at once makes one record.
 */
class NaturalKeyMatchTest {
    private static final NaturalKey EXACT = NaturalKey.builder().exact("k").build();
    private static final NaturalKey NEAR = NaturalKey.builder().within("at", 1).build();
    private static final NaturalKey CALLS = NaturalKey.builder().exact("number").within("startedAt", 1000).build();

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private final List<OutpostServer> servers = new ArrayList<>();
    private final Hlc clock = Hlc.create("device", System::currentTimeMillis, null);

    @AfterEach
    void stop() {
        servers.forEach(OutpostServer::close);
    }

    @ParameterizedTest(name = "stored {0}, sent {1}: same record {2}")
    @CsvSource(delimiter = '|', value = {
        "true | 1 | false",
        "1 | true | false",
        "false | 0 | false",
        "true | true | true",
        "'\"1\"' | 1 | false",
        "1 | '\"1\"' | false",
        "1 | 1.0 | true",
        "9007199254740993 | 9007199254740993 | true",
        "9007199254740993 | 9007199254740992 | false",
        "123456789012345678901234567890 | 123456789012345678901234567890 | true",
        "123456789012345678901234567890 | 123456789012345678901234567891 | false",
        "123456789012345678901234567890 | 1 | false",
        "'\"x\"' | '\"x\"' | true"})
    void anExactKeyFieldMatchesOnlyAValueOfTheSameKind(String stored, String sent, boolean same) {
        OutpostServer node = node(TestDatabases.freshUrl());
        String token = node.tokens().issue("alice", Duration.ofHours(1));
        push(node, token, "phone", create("exact", "first", "{\"k\":" + stored + "}"), null);

        OpResult result = push(node, token, "tablet", create("exact", "second", "{\"k\":" + sent + "}"), null).results().get(0);

        assertThat(result.status()).isEqualTo(same ? OpStatus.DUPLICATE : OpStatus.APPLIED);
        assertThat(pullAll(node, token)).hasSize(same ? 1 : 2);
    }

    @ParameterizedTest(name = "stored {0}, sent {1}: same record {2}")
    @CsvSource(delimiter = '|', value = {
        "'\"1700000000000\"' | 1700000000000 | false",
        "true | 1 | false",
        "1700000000000 | 1700000000000.5 | true",
        "1700000000000 | 1700000000002 | false"})
    void aToleranceKeyFieldMatchesOnlyANumber(String stored, String sent, boolean same) {
        OutpostServer node = node(TestDatabases.freshUrl());
        String token = node.tokens().issue("alice", Duration.ofHours(1));
        push(node, token, "phone", create("near", "first", "{\"at\":" + stored + "}"), null);

        OpResult result = push(node, token, "tablet", create("near", "second", "{\"at\":" + sent + "}"), null).results().get(0);

        assertThat(result.status()).isEqualTo(same ? OpStatus.DUPLICATE : OpStatus.APPLIED);
        assertThat(pullAll(node, token)).hasSize(same ? 1 : 2);
    }

    /**
     * Two devices log the same call at once: on PostgreSQL each through its own server node
     * sharing the database, on SQLite (one node per file) through the one node. One CREATE
     * makes the record; the other is answered DUPLICATE with that record, whichever came first.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"sqlite", "postgresql"})
    void theSameCallLoggedByTwoDevicesAtOnceMakesOneRecord(String database) throws Exception {
        String url = database.equals("sqlite") ? "jdbc:sqlite:" + tmp.resolve("outpost-" + UUID.randomUUID() + ".db")
                : TestDatabases.freshPostgresUrl();
        OutpostServer nodeA = node(url);
        OutpostServer nodeB = database.equals("sqlite") ? nodeA : node(url);
        String token = nodeA.tokens().issue("alice", Duration.ofHours(1));
        ExecutorService pool = Executors.newFixedThreadPool(2);
        int rounds = 40;
        try {
            for (int round = 0; round < rounds; round++) {
                String call = "{\"number\":\"+1555010" + round + "\",\"startedAt\":" + (1_700_000_000_000L + round * 10_000L) + "}";
                Operation fromPhone = create("calls", "phone-" + round, call);
                Operation fromTablet = create("calls", "tablet-" + round, call);
                CountDownLatch start = new CountDownLatch(1);
                CompletableFuture<PushResponse> viaA = CompletableFuture.supplyAsync(
                        () -> push(nodeA, token, "phone", fromPhone, start), pool);
                CompletableFuture<PushResponse> viaB = CompletableFuture.supplyAsync(
                        () -> push(nodeB, token, "tablet", fromTablet, start), pool);
                start.countDown();
                OpResult phone = viaA.get().results().get(0);
                OpResult tablet = viaB.get().results().get(0);

                assertThat(List.of(phone.status(), tablet.status())).as("round %d", round)
                        .containsExactlyInAnyOrder(OpStatus.APPLIED, OpStatus.DUPLICATE);
                OpResult duplicate = phone.status() == OpStatus.DUPLICATE ? phone : tablet;
                String made = phone.status() == OpStatus.APPLIED ? fromPhone.recordId() : fromTablet.recordId();
                assertThat(duplicate.record().recordId()).as("round %d", round).isEqualTo(made);
            }
        } finally {
            pool.shutdown();
        }

        List<Change> log = pullAll(nodeA, token);
        assertThat(log).hasSize(rounds);
        assertThat(log.stream().map(change -> change.recordId().replaceAll("^(phone|tablet)-", "")).distinct()).hasSize(rounds);
    }

    private OutpostServer node(String url) {
        OutpostServer server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp.resolve("node"))
                .databaseUrl(url).naturalKey("exact", EXACT).naturalKey("near", NEAR).naturalKey("calls", CALLS).build().start();
        servers.add(server);
        return server;
    }

    private Operation create(String collection, String id, String data) {
        return new Operation(UUID.randomUUID().toString(), collection, id, OpType.CREATE, null, Wire.object(data), clock.now(),
                Priority.NORMAL);
    }

    private PushResponse push(OutpostServer node, String token, String device, Operation op, CountDownLatch start) {
        return TestHttp.push(http, node, token, new PushRequest(device, List.of(op)), start);
    }

    private List<Change> pullAll(OutpostServer node, String token) {
        List<Change> log = new ArrayList<>();
        String cursor = null;
        PullResponse page;
        do {
            String query = "/v1/pull?limit=1000" + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
            HttpRequest request = HttpRequest.newBuilder(URI.create(node.url() + query)).header("Authorization", "Bearer " + token)
                    .GET().build();
            try {
                HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
                assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
                page = Wire.read(response.body(), PullResponse.class);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
            log.addAll(page.changes());
            cursor = page.cursor();
        } while (page.hasMore());
        return log;
    }
}
