package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.testdb.TestDatabases;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Issue 4, the server's side: every kind of conflict the server detects (an UPDATE or DELETE
 * against a stale base version, an UPDATE of a deleted record, a CREATE of a live record's id,
 * a DELETE of a deleted record) under every conflict policy, pushed over HTTP, with the answer
 * the device gets and the record every device then pulls.
 *
 * <p>Each cell starts from a fresh record of the collection configured with the policy under
 * test: device {@code a} creates it (version 1, {@link #CREATED}) and then changes or deletes
 * it (version 2, {@link #SERVER_CHANGED}); device {@code b}, which saw only version 1, pushes
 * the conflicting op with a clock reading earlier than, equal to or later than the server's.
 * The expected outcome of a cell is one of
 * <ul>
 *   <li>{@code KEPT}: answered CONFLICT with the server's record at version 2, nothing written;
 *   <li>{@code HELD}: KEPT, and the conflict stored for review with base, local and remote;
 *   <li>{@code DELETED}: answered MERGED with a tombstone at version 3;
 *   <li>a JSON object: answered MERGED with a live record of these fields at version 3.
 * </ul>
 * A MERGED record carries the later of the two clock readings (the record's timestamp never
 * goes back). The tests run on whichever store this run's servers use (SQLite or PostgreSQL).
 */
class ConflictMatrixTest {
    /** Device a's creation of each record: version 1. */
    private static final String CREATED = "1700000000000-00000-a";
    /** Device a's change (or delete) of each record: version 2. */
    private static final String SERVER_CHANGED = "1700000002000-00000-a";
    private static final String FIRST_DATA = "{\"title\":\"start\",\"body\":\"b\",\"likes\":1,\"keep\":\"k\"}";
    private static final String SERVER_PATCH = "{\"title\":\"server\",\"likes\":3,\"tag\":\"server\"}";
    /** Device b's UPDATE patch, and the data of its CREATE. */
    private static final String CLIENT_FIELDS = "{\"title\":\"client\",\"body\":\"client\",\"likes\":2}";

    @TempDir
    static Path dataDir;

    private static OutpostServer server;
    private static String token;
    private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();
    private static final AtomicInteger RECORDS = new AtomicInteger();

    /** One server for the class: a collection per policy, each with the counter field {@code likes}. */
    @BeforeAll
    static void startServer() {
        OutpostServer.Builder builder = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(dataDir)
                .databaseUrl(TestDatabases.freshUrl());
        for (ConflictPolicy policy : ConflictPolicy.values()) {
            builder.conflictPolicy(collectionOf(policy), policy).counterFields(collectionOf(policy), "likes");
        }
        server = builder.build().start();
        token = server.tokens().issue("alice", Duration.ofHours(1));
    }

    @AfterAll
    static void stopServer() {
        if (server != null) {
            server.close();
        }
    }

    /** The kinds of conflict: how the server's record got to version 2, and the op device b sends. */
    enum Conflict {
        /** The server's record was changed; b updates version 1. */
        STALE_UPDATE(false, "UPDATE"),
        /** The server's record was changed; b deletes version 1. */
        STALE_DELETE(false, "DELETE"),
        /** The server's record was deleted; b updates version 1. */
        UPDATE_OF_DELETED(true, "UPDATE"),
        /** The server's record was deleted; b deletes version 1. */
        DELETE_OF_DELETED(true, "DELETE"),
        /** The server's record was changed; b creates a record of the same id. */
        CREATE_OF_LIVE(false, "CREATE");

        final boolean serverDeleted;
        final String opType;

        Conflict(boolean serverDeleted, String opType) {
            this.serverDeleted = serverDeleted;
            this.opType = opType;
        }
    }

    /** Device b's clock reading for its op, against the server's change {@link #SERVER_CHANGED}. */
    enum DeviceClock {
        EARLIER("1700000001000-00000-b"),
        /** The very same string as the server's change: a tie. */
        EQUAL(SERVER_CHANGED),
        LATER("1700000003000-00000-b");

        final String hlc;

        DeviceClock(String hlc) {
            this.hlc = hlc;
        }
    }

    // ---- the matrix: one table per kind of conflict, a row per policy and clock ----

    @ParameterizedTest(name = "{0}, device clock {1}: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            SERVER_WINS     | EARLIER | KEPT
            SERVER_WINS     | EQUAL   | KEPT
            SERVER_WINS     | LATER   | KEPT
            CLIENT_WINS     | EARLIER | {"title":"client","body":"client","likes":2,"keep":"k","tag":"server"}
            CLIENT_WINS     | EQUAL   | {"title":"client","body":"client","likes":2,"keep":"k","tag":"server"}
            CLIENT_WINS     | LATER   | {"title":"client","body":"client","likes":2,"keep":"k","tag":"server"}
            LAST_WRITE_WINS | EARLIER | KEPT
            LAST_WRITE_WINS | EQUAL   | KEPT
            LAST_WRITE_WINS | LATER   | {"title":"client","body":"client","likes":2,"keep":"k","tag":"server"}
            MERGE           | EARLIER | {"title":"server","body":"client","likes":4,"keep":"k","tag":"server"}
            MERGE           | EQUAL   | {"title":"server","body":"client","likes":4,"keep":"k","tag":"server"}
            MERGE           | LATER   | {"title":"client","body":"client","likes":4,"keep":"k","tag":"server"}
            MANUAL          | EARLIER | HELD
            MANUAL          | EQUAL   | HELD
            MANUAL          | LATER   | HELD
            """)
    void aStaleUpdateIsSettledByItsCollectionsPolicy(ConflictPolicy policy, DeviceClock clock, String expected) {
        assertSettled(Conflict.STALE_UPDATE, policy, clock, expected);
    }

    @ParameterizedTest(name = "{0}, device clock {1}: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            SERVER_WINS     | EARLIER | KEPT
            SERVER_WINS     | EQUAL   | KEPT
            SERVER_WINS     | LATER   | KEPT
            CLIENT_WINS     | EARLIER | DELETED
            CLIENT_WINS     | EQUAL   | DELETED
            CLIENT_WINS     | LATER   | DELETED
            LAST_WRITE_WINS | EARLIER | KEPT
            LAST_WRITE_WINS | EQUAL   | KEPT
            LAST_WRITE_WINS | LATER   | DELETED
            MERGE           | EARLIER | KEPT
            MERGE           | EQUAL   | KEPT
            MERGE           | LATER   | DELETED
            MANUAL          | EARLIER | HELD
            MANUAL          | EQUAL   | HELD
            MANUAL          | LATER   | HELD
            """)
    void aStaleDeleteIsSettledByItsCollectionsPolicy(ConflictPolicy policy, DeviceClock clock, String expected) {
        assertSettled(Conflict.STALE_DELETE, policy, clock, expected);
    }

    /**
     * A deleted record that an update brings back comes back as the device had it: the update's
     * fields on top of the record at the op's base version, so a field the device did not change
     * ({@code keep}) comes back too, as the device still shows it.
     */
    @ParameterizedTest(name = "{0}, device clock {1}: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            SERVER_WINS     | EARLIER | KEPT
            SERVER_WINS     | EQUAL   | KEPT
            SERVER_WINS     | LATER   | KEPT
            CLIENT_WINS     | EARLIER | {"title":"client","body":"client","likes":2,"keep":"k"}
            CLIENT_WINS     | EQUAL   | {"title":"client","body":"client","likes":2,"keep":"k"}
            CLIENT_WINS     | LATER   | {"title":"client","body":"client","likes":2,"keep":"k"}
            LAST_WRITE_WINS | EARLIER | KEPT
            LAST_WRITE_WINS | EQUAL   | KEPT
            LAST_WRITE_WINS | LATER   | {"title":"client","body":"client","likes":2,"keep":"k"}
            MERGE           | EARLIER | KEPT
            MERGE           | EQUAL   | KEPT
            MERGE           | LATER   | {"title":"client","body":"client","likes":2,"keep":"k"}
            MANUAL          | EARLIER | HELD
            MANUAL          | EQUAL   | HELD
            MANUAL          | LATER   | HELD
            """)
    void anUpdateOfADeletedRecordIsSettledByItsCollectionsPolicy(ConflictPolicy policy, DeviceClock clock, String expected) {
        assertSettled(Conflict.UPDATE_OF_DELETED, policy, clock, expected);
    }

    @ParameterizedTest(name = "{0}, device clock {1}: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            SERVER_WINS     | EARLIER | KEPT
            SERVER_WINS     | EQUAL   | KEPT
            SERVER_WINS     | LATER   | KEPT
            CLIENT_WINS     | EARLIER | DELETED
            CLIENT_WINS     | EQUAL   | DELETED
            CLIENT_WINS     | LATER   | DELETED
            LAST_WRITE_WINS | EARLIER | KEPT
            LAST_WRITE_WINS | EQUAL   | KEPT
            LAST_WRITE_WINS | LATER   | DELETED
            MERGE           | EARLIER | KEPT
            MERGE           | EQUAL   | KEPT
            MERGE           | LATER   | DELETED
            MANUAL          | EARLIER | HELD
            MANUAL          | EQUAL   | HELD
            MANUAL          | LATER   | HELD
            """)
    void aDeleteOfADeletedRecordIsSettledByItsCollectionsPolicy(ConflictPolicy policy, DeviceClock clock, String expected) {
        assertSettled(Conflict.DELETE_OF_DELETED, policy, clock, expected);
    }

    /**
     * A CREATE has no base version, so MERGE takes every field of it as the device's change
     * and a counter's delta as its whole value: {@code likes} 3 + 2.
     */
    @ParameterizedTest(name = "{0}, device clock {1}: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            SERVER_WINS     | EARLIER | KEPT
            SERVER_WINS     | EQUAL   | KEPT
            SERVER_WINS     | LATER   | KEPT
            CLIENT_WINS     | EARLIER | {"title":"client","body":"client","likes":2}
            CLIENT_WINS     | EQUAL   | {"title":"client","body":"client","likes":2}
            CLIENT_WINS     | LATER   | {"title":"client","body":"client","likes":2}
            LAST_WRITE_WINS | EARLIER | KEPT
            LAST_WRITE_WINS | EQUAL   | KEPT
            LAST_WRITE_WINS | LATER   | {"title":"client","body":"client","likes":2}
            MERGE           | EARLIER | {"title":"server","body":"b","likes":5,"keep":"k","tag":"server"}
            MERGE           | EQUAL   | {"title":"server","body":"b","likes":5,"keep":"k","tag":"server"}
            MERGE           | LATER   | {"title":"client","body":"client","likes":5,"keep":"k","tag":"server"}
            MANUAL          | EARLIER | HELD
            MANUAL          | EQUAL   | HELD
            MANUAL          | LATER   | HELD
            """)
    void aCreateOfALiveRecordsIdIsSettledByItsCollectionsPolicy(ConflictPolicy policy, DeviceClock clock, String expected) {
        assertSettled(Conflict.CREATE_OF_LIVE, policy, clock, expected);
    }

    /**
     * MERGE times a field changed on both sides by the server's change that last set that field,
     * not by the record's latest change: device b's {@code title} (clock 2.5 s) is later than
     * a's {@code title} (2 s), so it stands, though a changed {@code body} later still (3.5 s),
     * and that later {@code body} beats b's.
     */
    @Test
    void mergeGivesAFieldChangedOnBothSidesToTheLaterChangeOfThatField() {
        String collection = collectionOf(ConflictPolicy.MERGE);
        String id = arrange(collection, false);
        JsonNode later = push("a", op("a-body-" + id, collection, id, "UPDATE", 2L, "{\"body\":\"server later\"}",
                "1700000003500-00000-a"));
        assertThat(later.get("status").asText()).as(later.toString()).isEqualTo("APPLIED");
        String cursor = cursor();

        JsonNode answer = push("b", op("b-both-" + id, collection, id, "UPDATE", 1L,
                "{\"title\":\"client\",\"body\":\"client\",\"keep\":\"client\"}", "1700000002500-00000-b"));

        ObjectNode settled = record(collection, id, 4, false,
                "{\"title\":\"client\",\"body\":\"server later\",\"likes\":3,\"keep\":\"client\",\"tag\":\"server\"}",
                "1700000003500-00000-a");
        assertThat(answer.get("status").asText()).as(answer.toString()).isEqualTo("MERGED");
        assertThat(answer.get("record")).isEqualTo(settled);
        assertThat(changesSince(cursor)).hasSize(1);
        assertThat(withoutOrigin(pulledRecord(collection, id))).isEqualTo(settled);
    }

    /** The boundary of the matrix: a CREATE of a deleted record's id is no conflict under any policy. */
    @ParameterizedTest
    @EnumSource(ConflictPolicy.class)
    void aCreateOfADeletedRecordsIdBringsItBackAsTheNextVersionUnderEveryPolicy(ConflictPolicy policy) {
        String collection = collectionOf(policy);
        String id = arrange(collection, true);
        String cursor = cursor();
        ObjectNode create = op("b-create-" + id, collection, id, "CREATE", null, CLIENT_FIELDS, DeviceClock.EARLIER.hlc);

        JsonNode answer = push("b", create);

        assertThat(answer.get("status").asText()).as(answer.toString()).isEqualTo("APPLIED");
        assertThat(answer.get("version").asLong()).isEqualTo(3);
        ObjectNode expected = record(collection, id, 3, false, CLIENT_FIELDS, SERVER_CHANGED);
        assertThat(changesSince(cursor)).hasSize(1);
        assertThat(withoutOrigin(pulledRecord(collection, id))).isEqualTo(expected);
        assertThat(conflictsOf(id)).isEmpty();
    }

    // ---- ties under LAST_WRITE_WINS ----

    /**
     * Two changes made against the same version with the very same timestamp string: a tie,
     * which the server settles as it settles any op that is not later than its record (the op
     * must be later, {@code ConflictRules}: {@code Hlc.compare(op, record) > 0}), so the change
     * that arrived first stands and the second is answered CONFLICT. Run again, the same race
     * ends the same way.
     */
    @ParameterizedTest(name = "{0} arrives first")
    @CsvSource({"x, y", "y, x"})
    void aLastWriteWinsTieOfEqualTimestampsKeepsTheChangeThatArrivedFirstEveryTime(String first, String second) {
        String collection = collectionOf(ConflictPolicy.LAST_WRITE_WINS);
        String tie = "1700000005000-00000-a";
        for (int round = 0; round < 3; round++) {
            String id = "tie-" + RECORDS.incrementAndGet();
            push("a", op("a-create-" + id, collection, id, "CREATE", null, FIRST_DATA, CREATED));

            JsonNode firstAnswer = push(first, op(first + "-" + id, collection, id, "UPDATE", 1L,
                    "{\"title\":\"" + first + "\"}", tie));
            JsonNode secondAnswer = push(second, op(second + "-" + id, collection, id, "UPDATE", 1L,
                    "{\"title\":\"" + second + "\"}", tie));

            assertThat(firstAnswer.get("status").asText()).as("round %d", round).isEqualTo("APPLIED");
            assertThat(secondAnswer.get("status").asText()).as("round %d: %s", round, secondAnswer).isEqualTo("CONFLICT");
            assertThat(secondAnswer.get("version").asLong()).isEqualTo(2);
            JsonNode pulled = pulledRecord(collection, id);
            assertThat(pulled.get("version").asLong()).as("round %d", round).isEqualTo(2);
            assertThat(pulled.get("data").get("title").asText()).as("round %d", round).isEqualTo(first);
            assertThat(pulled.get("origin").get("deviceId").asText()).isEqualTo(first);
        }
    }

    /**
     * Two devices' changes at the same clock reading (same milliseconds and counter) are not a
     * tie: the node id that ends the timestamp orders them ({@code Hlc}), so node {@code y}'s
     * change wins whichever arrives first.
     */
    @ParameterizedTest(name = "{0} arrives first")
    @CsvSource({"x, y", "y, x"})
    void changesAtTheSameClockReadingOfTwoDevicesAreOrderedByNodeIdWhicheverArrivesFirst(String first, String second) {
        String collection = collectionOf(ConflictPolicy.LAST_WRITE_WINS);
        String id = "reading-" + RECORDS.incrementAndGet();
        push("a", op("a-create-" + id, collection, id, "CREATE", null, FIRST_DATA, CREATED));

        push(first, op(first + "-" + id, collection, id, "UPDATE", 1L, "{\"title\":\"" + first + "\"}",
                "1700000005000-00007-" + first));
        JsonNode secondAnswer = push(second, op(second + "-" + id, collection, id, "UPDATE", 1L,
                "{\"title\":\"" + second + "\"}", "1700000005000-00007-" + second));

        assertThat(secondAnswer.get("status").asText()).isEqualTo(second.equals("y") ? "MERGED" : "CONFLICT");
        JsonNode pulled = pulledRecord(collection, id);
        assertThat(pulled.get("data").get("title").asText()).isEqualTo("y");
        assertThat(pulled.get("hlc").asText()).isEqualTo("1700000005000-00007-y");
    }

    // ---- MANUAL: a held conflict settled by its resolution ----

    @ParameterizedTest(name = "{0} resolved {1}: {2}")
    @CsvSource(delimiter = '|', textBlock = """
            STALE_UPDATE      | SERVER | KEPT
            STALE_UPDATE      | CLIENT | {"title":"client","body":"client","likes":2,"keep":"k","tag":"server"}
            STALE_UPDATE      | MERGED | {"title":"resolved"}
            STALE_DELETE      | SERVER | KEPT
            STALE_DELETE      | CLIENT | DELETED
            STALE_DELETE      | MERGED | {"title":"resolved"}
            UPDATE_OF_DELETED | SERVER | KEPT
            UPDATE_OF_DELETED | CLIENT | {"title":"client","body":"client","likes":2,"keep":"k"}
            UPDATE_OF_DELETED | MERGED | {"title":"resolved"}
            DELETE_OF_DELETED | SERVER | KEPT
            DELETE_OF_DELETED | CLIENT | DELETED
            DELETE_OF_DELETED | MERGED | {"title":"resolved"}
            CREATE_OF_LIVE    | SERVER | KEPT
            CREATE_OF_LIVE    | CLIENT | {"title":"client","body":"client","likes":2}
            CREATE_OF_LIVE    | MERGED | {"title":"resolved"}
            """)
    void aHeldConflictIsSettledByItsResolutionAndOnlyOnce(Conflict conflict, String choice, String expected) {
        String collection = collectionOf(ConflictPolicy.MANUAL);
        String id = arrange(collection, conflict.serverDeleted);
        ObjectNode sent = conflictingOp(conflict, collection, id, DeviceClock.LATER);
        assertThat(push("b", sent).get("status").asText()).isEqualTo("CONFLICT");
        List<JsonNode> held = conflictsOf(id);
        assertThat(held).hasSize(1);
        String conflictId = held.get(0).get("id").asText();
        String cursor = cursor();

        HttpResponse<String> resolved = resolve(conflictId, choice.equals("MERGED")
                ? "{\"choice\":\"MERGED\",\"data\":{\"title\":\"resolved\",\"gone\":null}}"
                : "{\"choice\":\"" + choice + "\"}");

        assertThat(resolved.statusCode()).as(resolved.body()).isEqualTo(200);
        JsonNode answer = TestJson.parse(resolved.body());
        assertThat(answer.get("conflict").get("id").asText()).isEqualTo(conflictId);
        assertThat(answer.get("conflict").get("status").asText()).isEqualTo("RESOLVED");
        assertThat(answer.get("conflict").get("resolution").asText()).isEqualTo(choice);
        ObjectNode record = expected.equals("KEPT")
                ? serverRecord(collection, id, conflict.serverDeleted)
                : record(collection, id, 3, expected.equals("DELETED"), expected.equals("DELETED") ? null : expected,
                        DeviceClock.LATER.hlc);
        assertThat(answer.get("record")).isEqualTo(record);
        List<JsonNode> written = changesSince(cursor);
        if (expected.equals("KEPT")) {
            assertThat(written).as("a SERVER resolution writes nothing").isEmpty();
        } else {
            assertThat(written).hasSize(1);
            assertThat(written.get(0).get("origin")).isEqualTo(origin("b", sent.get("opId").asText()));
        }
        assertThat(withoutOrigin(pulledRecord(collection, id))).isEqualTo(record);
        assertThat(conflictsOf(id)).as("no longer open").isEmpty();

        HttpResponse<String> again = resolve(conflictId, "{\"choice\":\"SERVER\"}");
        assertThat(again.statusCode()).as(again.body()).isEqualTo(409);
        assertThat(TestJson.parse(again.body()).get("code").asText()).isEqualTo("CONFLICT_ALREADY_RESOLVED");
        assertThat(changesSince(cursor)).hasSameSizeAs(written);
    }

    // ---- one cell ----

    private void assertSettled(Conflict conflict, ConflictPolicy policy, DeviceClock clock, String expected) {
        String collection = collectionOf(policy);
        String id = arrange(collection, conflict.serverDeleted);
        ObjectNode serverRecord = serverRecord(collection, id, conflict.serverDeleted);
        String cursor = cursor();
        ObjectNode sent = conflictingOp(conflict, collection, id, clock);

        JsonNode answer = push("b", sent);
        List<JsonNode> written = changesSince(cursor);
        JsonNode pulled = pulledRecord(collection, id);
        List<JsonNode> held = conflictsOf(id);

        if (expected.equals("KEPT") || expected.equals("HELD")) {
            assertThat(answer.get("status").asText()).as(answer.toString()).isEqualTo("CONFLICT");
            assertThat(answer.get("version").asLong()).isEqualTo(2);
            assertThat(answer.get("record")).as("the server's record").isEqualTo(serverRecord);
            assertThat(written).as("nothing written").isEmpty();
            assertThat(withoutOrigin(pulled)).isEqualTo(serverRecord);
            assertThat(pulled.get("origin")).isEqualTo(origin("a", "a-change-" + id));
        } else {
            boolean deleted = expected.equals("DELETED");
            String hlc = clock == DeviceClock.LATER ? clock.hlc : SERVER_CHANGED;
            ObjectNode settled = record(collection, id, 3, deleted, deleted ? null : expected, hlc);
            assertThat(answer.get("status").asText()).as(answer.toString()).isEqualTo("MERGED");
            assertThat(answer.get("version").asLong()).isEqualTo(3);
            assertThat(answer.get("record")).as("the settled record").isEqualTo(settled);
            assertThat(written).as("the settled record, written once").hasSize(1);
            assertThat(withoutOrigin(pulled)).isEqualTo(settled);
            assertThat(pulled.get("origin")).isEqualTo(origin("b", sent.get("opId").asText()));
        }
        if (expected.equals("HELD")) {
            assertThat(held).hasSize(1);
            JsonNode kept = held.get(0);
            assertThat(kept.get("collection").asText()).isEqualTo(collection);
            assertThat(kept.get("status").asText()).isEqualTo("OPEN");
            if (conflict == Conflict.CREATE_OF_LIVE) {
                assertThat(kept.get("base")).as("a CREATE has no base").isNull();
            } else {
                assertThat(kept.get("base")).isEqualTo(record(collection, id, 1, false, FIRST_DATA, CREATED));
            }
            assertThat(withoutPriority(kept.get("local"))).as("the op as sent").isEqualTo(TestJson.parse(sent.toString()));
            assertThat(kept.get("remote")).isEqualTo(serverRecord);
        } else {
            assertThat(held).as("no conflict held for review").isEmpty();
        }
    }

    /** A fresh record of {@code collection}: created by device a, then changed or deleted by it. Returns its id. */
    private static String arrange(String collection, boolean deleted) {
        String id = "r" + RECORDS.incrementAndGet();
        JsonNode created = push("a", op("a-create-" + id, collection, id, "CREATE", null, FIRST_DATA, CREATED));
        JsonNode changed = push("a", deleted
                ? op("a-change-" + id, collection, id, "DELETE", 1L, null, SERVER_CHANGED)
                : op("a-change-" + id, collection, id, "UPDATE", 1L, SERVER_PATCH, SERVER_CHANGED));
        assertThat(created.get("status").asText()).as(created.toString()).isEqualTo("APPLIED");
        assertThat(changed.get("status").asText()).as(changed.toString()).isEqualTo("APPLIED");
        return id;
    }

    /** The record after {@link #arrange}: version 2, changed or deleted. */
    private static ObjectNode serverRecord(String collection, String id, boolean deleted) {
        return record(collection, id, 2, deleted,
                deleted ? null : "{\"title\":\"server\",\"body\":\"b\",\"likes\":3,\"keep\":\"k\",\"tag\":\"server\"}",
                SERVER_CHANGED);
    }

    /** Device b's op, made against version 1. */
    private static ObjectNode conflictingOp(Conflict conflict, String collection, String id, DeviceClock clock) {
        String opId = "b-" + conflict.name().toLowerCase(Locale.ROOT) + "-" + id;
        return switch (conflict.opType) {
            case "CREATE" -> op(opId, collection, id, "CREATE", null, CLIENT_FIELDS, clock.hlc);
            case "UPDATE" -> op(opId, collection, id, "UPDATE", 1L, CLIENT_FIELDS, clock.hlc);
            default -> op(opId, collection, id, "DELETE", 1L, null, clock.hlc);
        };
    }

    private static String collectionOf(ConflictPolicy policy) {
        return policy.name().toLowerCase(Locale.ROOT);
    }

    // ---- JSON ----

    private static ObjectNode op(String opId, String collection, String id, String type, Long baseVersion, String data,
            String hlc) {
        ObjectNode op = JsonNodeFactory.instance.objectNode().put("opId", opId).put("collection", collection)
                .put("recordId", id).put("type", type);
        if (baseVersion != null) {
            op.put("baseVersion", baseVersion);
        }
        if (data != null) {
            op.set("data", TestJson.parse(data));
        }
        return op.put("hlc", hlc);
    }

    /** A record as the server answers and pulls it (data left out when deleted), read as JSON text is. */
    private static ObjectNode record(String collection, String id, long version, boolean deleted, String data, String hlc) {
        return (ObjectNode) TestJson.parse("{\"collection\":\"" + collection + "\",\"recordId\":\"" + id + "\",\"version\":"
                + version + ",\"deleted\":" + deleted + (data == null ? "" : ",\"data\":" + data) + ",\"hlc\":\"" + hlc + "\"}");
    }

    private static JsonNode origin(String deviceId, String opId) {
        return TestJson.parse("{\"deviceId\":\"" + deviceId + "\",\"opId\":\"" + opId + "\"}");
    }

    private static JsonNode withoutOrigin(JsonNode change) {
        return ((ObjectNode) change.deepCopy()).without("origin");
    }

    private static JsonNode withoutPriority(JsonNode op) {
        assertThat(op.get("priority").asText()).as("the default priority").isEqualTo("NORMAL");
        return ((ObjectNode) op.deepCopy()).without("priority");
    }

    // ---- HTTP ----

    /** Pushes one op from {@code deviceId} and returns its result. */
    private static JsonNode push(String deviceId, ObjectNode op) {
        String body = "{\"deviceId\":\"" + deviceId + "\",\"ops\":[" + op + "]}";
        HttpResponse<String> response = send(request("/v1/push").header("Content-Type", "application/json")
                .POST(BodyPublishers.ofString(body)));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode results = TestJson.parse(response.body()).get("results");
        assertThat(results).hasSize(1);
        return results.get(0);
    }

    private static HttpResponse<String> resolve(String conflictId, String body) {
        return send(request("/v1/conflicts/" + conflictId + "/resolve").header("Content-Type", "application/json")
                .POST(BodyPublishers.ofString(body)));
    }

    /** The open conflicts held for record {@code id}. */
    private static List<JsonNode> conflictsOf(String id) {
        HttpResponse<String> response = send(request("/v1/conflicts").GET());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        List<JsonNode> found = new ArrayList<>();
        TestJson.parse(response.body()).get("conflicts").forEach(conflict -> {
            if (conflict.get("recordId").asText().equals(id)) {
                found.add(conflict);
            }
        });
        return found;
    }

    /** The record's latest change, as a device pulling from the start sees it. */
    private static JsonNode pulledRecord(String collection, String id) {
        JsonNode latest = null;
        for (JsonNode change : changesSince(null)) {
            if (change.get("collection").asText().equals(collection) && change.get("recordId").asText().equals(id)) {
                assertThat(latest == null || change.get("version").asLong() > latest.get("version").asLong())
                        .as("versions pulled in order").isTrue();
                latest = change;
            }
        }
        assertThat(latest).as("record %s/%s pulled", collection, id).isNotNull();
        return latest;
    }

    /** The cursor after every change there is now. */
    private static String cursor() {
        String cursor = null;
        while (true) {
            JsonNode page = pull(cursor);
            cursor = page.get("cursor").asText();
            if (!page.get("hasMore").asBoolean()) {
                return cursor;
            }
        }
    }

    private static List<JsonNode> changesSince(String cursor) {
        List<JsonNode> changes = new ArrayList<>();
        String at = cursor;
        while (true) {
            JsonNode page = pull(at);
            page.get("changes").forEach(changes::add);
            at = page.get("cursor").asText();
            if (!page.get("hasMore").asBoolean()) {
                return changes;
            }
        }
    }

    private static JsonNode pull(String cursor) {
        HttpResponse<String> response = send(request("/v1/pull?limit=1000" + (cursor == null ? "" : "&cursor=" + cursor)).GET());
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return TestJson.parse(response.body());
    }

    private static HttpRequest.Builder request(String pathAndQuery) {
        return HttpRequest.newBuilder(URI.create(server.url() + pathAndQuery)).timeout(Duration.ofSeconds(30))
                .header("Authorization", "Bearer " + token);
    }

    private static HttpResponse<String> send(HttpRequest.Builder request) {
        return TestHttp.send(HTTP, request);
    }
}
