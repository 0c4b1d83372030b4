package dev.outpost.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.Change;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.server.ScopeAccess;
import dev.outpost.testdb.TestDatabases;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pull's answer is made by the store's SQL, each change written as JSON with the stored
 * record copied in; it must read as the protocol's PullResponse of the rows, on the run's
 * database (SQLite, or PostgreSQL when chosen).
 */
class PullResponseTest {
    private static final Scopes ANN = new Scopes("ann", Map.of("team", ScopeAccess.READ));

    @TempDir
    Path dir;

    private String url;
    private JdbcSyncStore store;

    @BeforeEach
    void open() throws Exception {
        url = TestDatabases.postgresql() ? TestDatabases.freshPostgresUrl() : "jdbc:sqlite:" + dir.resolve("server.db");
        store = JdbcSyncStore.open(url, 2, Clock.systemUTC(), 1 << 20,
                new Policies(Map.of(), ConflictPolicy.SERVER_WINS, Map.of(), Map.of()));
    }

    @AfterEach
    void close() throws Exception {
        store.close();
        if (url.startsWith("jdbc:postgresql:")) {
            TestDatabases.dropSchema(url);
        }
    }

    private void log(String scope, String collection, String recordId, long version, boolean deleted, String data,
            String hlc, String device, String op) throws Exception {
        try (Connection db = DriverManager.getConnection(url);
                PreparedStatement insert = db.prepareStatement("INSERT INTO changes (scope, collection, record_id, version, "
                        + "deleted, data, hlc, origin_device, origin_op, committed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)")) {
            insert.setString(1, scope);
            insert.setString(2, collection);
            insert.setString(3, recordId);
            insert.setLong(4, version);
            insert.setInt(5, deleted ? 1 : 0);
            insert.setString(6, data);
            insert.setString(7, hlc);
            insert.setString(8, device);
            insert.setString(9, op);
            insert.executeUpdate();
        }
    }

    private PullResponse pull(long after, int limit) throws Exception {
        return Wire.read(answer(store.pull(ANN, after, limit)), PullResponse.class);
    }

    @Test
    void aPageMadeFromTheLogReadsAsThePullResponseOfItsChanges() throws Exception {
        String data = "{\"title\":\"caf\\u00e9 \\\"quoted\\\"\",\"raw\":\"na\u00efve \u2603 \ud834\udd1e\",\"n\":3,"
                + "\"nested\":{\"list\":[1,2.5,null,true]}}";
        String oddId = "n \"2\" \\ \u00e9\t\u0001\u2603";
        log("user:ann", "notes", "n1", 2, false, data, "1700000000000-00000-dev", "phone", "op-1");
        log("shared:team", "notes", oddId, 3, true, null, null, "laptop \"x\"", "op-2");
        log("user:bob", "notes", "b1", 1, false, "{}", null, "other", "op-3");
        log("user:ann", "notes", "n3", 9_000_000_000L, false, "{}", null, "phone", "op-4");

        PullResponse read = pull(0, 10);

        assertThat(read).isEqualTo(new PullResponse(List.of(
                new Change("notes", "n1", 2, false, Wire.object(data), "1700000000000-00000-dev",
                        new Change.Origin("phone", "op-1"), null),
                new Change("notes", oddId, 3, true, null, null, new Change.Origin("laptop \"x\"", "op-2"), "team"),
                new Change("notes", "n3", 9_000_000_000L, false, Wire.object("{}"), null, new Change.Origin("phone", "op-4"),
                        null)),
                Cursor.encode(4, ANN), false));
    }

    @Test
    void aFullPageSaysThereIsMoreAndEndsAtItsLastChange() throws Exception {
        for (int i = 1; i <= 3; i++) {
            log("user:ann", "notes", "n" + i, 1, false, "{\"i\":" + i + "}", null, "phone", "op-" + i);
        }

        PullResponse first = pull(0, 2);
        PullResponse rest = pull(2, 2);

        assertThat(first.changes()).extracting(Change::recordId).containsExactly("n1", "n2");
        assertThat(first.hasMore()).isTrue();
        assertThat(first.cursor()).isEqualTo(Cursor.encode(2, ANN));
        assertThat(rest.changes()).extracting(Change::recordId).containsExactly("n3");
        assertThat(rest.hasMore()).isFalse();
    }

    /**
     * Asked to, a page says how many changes the user may read after it, counting shared
     * scopes it may read and leaving out other users'; asked or not, the changes are the same.
     */
    @Test
    void aPageAskedToCountSaysHowManyChangesFollowIt() throws Exception {
        for (int i = 1; i <= 5; i++) {
            log("user:ann", "notes", "n" + i, 1, false, "{\"i\":" + i + "}", null, "phone", "op-" + i);
            log("user:bob", "notes", "b" + i, 1, false, "{}", null, "other", "op-b" + i);
        }
        log("shared:team", "notes", "t1", 1, false, "{}", null, "laptop", "op-t1");

        SyncStore.Page first = store.pull(ANN, 0, 2, true);
        SyncStore.Page uncounted = store.pull(ANN, 0, 2);
        SyncStore.Page last = store.pull(ANN, 9, 2, true);
        PullResponse answer = Wire.read(answer(first), PullResponse.class);

        assertThat(first.remaining()).as("n3, n4, n5 and t1").isEqualTo(4);
        assertThat(uncounted.remaining()).as("not counted").isEqualTo(-1);
        assertThat(uncounted.lastSeq()).isEqualTo(first.lastSeq());
        assertThat(last.hasMore()).isFalse();
        assertThat(last.remaining()).isZero();
        assertThat(answer.changes()).extracting(Change::recordId).containsExactly("n1", "n2");
        assertThat(Wire.mapper().readTree(answer(first)).get("remaining").asLong()).isEqualTo(4);
        assertThat(Wire.mapper().readTree(answer(uncounted)).has("remaining")).isFalse();
    }

    /** A record larger than any buffer on the way is copied in whole. */
    @Test
    void aLargeRecordIsCopiedWhole() throws Exception {
        String data = "{\"body\":\"" + "\u00e9x".repeat(200_000) + "\"}";
        log("user:ann", "notes", "big", 1, false, data, null, "phone", "op-1");

        assertThat(pull(0, 10).changes().get(0).data()).isEqualTo(Wire.object(data));
    }

    @Test
    void anEmptyPageKeepsItsCursor() throws Exception {
        for (int i = 1; i <= 7; i++) {
            log("user:bob", "notes", "b" + i, 1, false, "{}", null, "other", "op-" + i);
        }
        assertThat(Wire.read(answer(new SyncStore.Page(List.of(), 7, false)), PullResponse.class))
                .isEqualTo(new PullResponse(List.of(), Cursor.encode(7, ANN), false));
        assertThat(pull(7, 10)).isEqualTo(new PullResponse(List.of(), Cursor.encode(7, ANN), false));
    }

    private static byte[] answer(SyncStore.Page page) {
        return HttpApi.pullResponse(page, Cursor.encode(page.lastSeq(), ANN));
    }
}
