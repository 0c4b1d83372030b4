package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.Wire;
import dev.outpost.testing.TestServer;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The local view an app reads all day: queries, the memory cache, sync state per record, and rebase after a pull. */
class LocalViewTest {
    @TempDir
    Path dir;

    private TestServer server;
    private Outpost phone;

    @BeforeEach
    void open() throws Exception {
        server = TestServer.start();
        phone = device("phone");
    }

    @AfterEach
    void close() {
        phone.close();
        server.close();
    }

    private Outpost device(String name) throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name + ".db"))
                .serverUrl(server.url()).tokenProvider(TokenProvider.fixed(server.token("ann")))
                .sensitiveFields("tasks", "secret").build());
    }

    private void tasks() throws OutpostException {
        for (int i = 1; i <= 30; i++) {
            phone.put("tasks", String.format("t%02d", i), "{\"title\":\"task " + i + "\",\"priority\":" + (i % 4)
                    + ",\"done\":" + (i % 3 == 0) + ",\"address\":{\"city\":\"" + (i % 2 == 0 ? "Oslo" : "Lima") + "\"}"
                    + (i % 5 == 0 ? "" : ",\"due\":" + (100 - i)) + ",\"secret\":\"s" + i + "\"}");
        }
    }

    private static List<String> ids(List<LocalRecord> records) {
        return records.stream().map(LocalRecord::id).toList();
    }

    @Test
    void queriesFilterSortAndPageTheLocalViewIncludingPendingChanges() throws Exception {
        tasks();

        List<LocalRecord> open = phone.query(Query.in("tasks").where("done", Query.Op.EQ, false)
                .where("priority", Query.Op.GE, 2).where("address.city", Query.Op.EQ, "Oslo").orderByDescending("priority")
                .orderBy("title"));
        List<LocalRecord> firstPage = phone.query(Query.in("tasks").orderBy("due").limit(5));
        List<LocalRecord> secondPage = phone.query(Query.in("tasks").orderBy("due").limit(5).offset(5));
        List<LocalRecord> noDue = phone.query(Query.in("tasks").where("due", Query.Op.EQ, null));

        assertThat(open).allSatisfy(record -> {
            assertThat(record.data().get("done").asBoolean()).isFalse();
            assertThat(record.data().get("priority").asInt()).isGreaterThanOrEqualTo(2);
            assertThat(record.data().get("address").get("city").asText()).isEqualTo("Oslo");
            assertThat(record.state()).isEqualTo(SyncState.PENDING);
        });
        assertThat(ids(open)).containsExactly("t10", "t14", "t02", "t22", "t26");
        assertThat(ids(firstPage)).as("records without the field sort first").containsExactly("t05", "t10", "t15", "t20", "t25");
        assertThat(ids(secondPage)).containsExactly("t30", "t29", "t28", "t27", "t26");
        assertThat(ids(noDue)).containsExactly("t05", "t10", "t15", "t20", "t25", "t30");
        assertThat(phone.query(Query.in("tasks").where("title", Query.Op.NE, "task 1")).size()).isEqualTo(29);
        assertThat(phone.query(Query.in("nothing-here"))).isEmpty();
        assertThat(open.get(0).data().get("secret").asText()).as("sensitive fields read in the clear").isEqualTo("s10");
    }

    @Test
    void listReturnsEveryRecordEvenPastTheLargestQueryPage() throws Exception {
        WriteBatch batch = phone.newBatch();
        for (int i = 0; i < Query.MAX_LIMIT + 5; i++) {
            batch.put("many", "m" + i, "{\"i\":" + i + "}");
        }
        batch.commit();

        assertThat(phone.list("many")).hasSize(Query.MAX_LIMIT + 5);
        assertThat(phone.query(Query.in("many"))).hasSize(Query.MAX_LIMIT);
        assertThat(phone.query(Query.in("many").offset(Query.MAX_LIMIT))).hasSize(5);
    }

    @Test
    void eachRecordSaysItsSyncStateVersionAndWhenItLastSynced() throws Exception {
        phone.put("tasks", "t1", "{\"title\":\"one\"}");
        LocalRecord before = phone.get("tasks", "t1").orElseThrow();

        phone.sync();
        LocalRecord after = phone.get("tasks", "t1").orElseThrow();
        phone.update("tasks", "t1", "{\"title\":\"one!\"}");
        LocalRecord edited = phone.query(Query.in("tasks")).get(0);

        assertThat(before.state()).isEqualTo(SyncState.PENDING);
        assertThat(before.version()).isZero();
        assertThat(before.lastSyncedAt()).isNull();
        assertThat(after.state()).isEqualTo(SyncState.SYNCED);
        assertThat(after.version()).isEqualTo(1);
        assertThat(after.lastSyncedAt()).isNotNull();
        assertThat(edited.state()).isEqualTo(SyncState.PENDING);
        assertThat(edited.lastSyncedAt()).isEqualTo(after.lastSyncedAt());
        assertThat(edited.data().get("title").asText()).isEqualTo("one!");
    }

    @Test
    void putAndUpdateReturnTheRecordWithTheTimeItLastSynced() throws Exception {
        LocalRecord created = phone.put("tasks", "t1", "{\"title\":\"one\"}");
        phone.sync();
        Instant synced = phone.get("tasks", "t1").orElseThrow().lastSyncedAt();

        LocalRecord updated = phone.update("tasks", "t1", "{\"title\":\"one!\"}");
        LocalRecord replaced = phone.put("tasks", "t1", "{\"title\":\"uno\"}");

        assertThat(created.lastSyncedAt()).as("never synced").isNull();
        assertThat(synced).isNotNull();
        assertThat(updated.lastSyncedAt()).isEqualTo(synced);
        assertThat(replaced.lastSyncedAt()).isEqualTo(synced);
        assertThat(replaced.state()).isEqualTo(SyncState.PENDING);
        assertThat(replaced).isEqualTo(phone.get("tasks", "t1").orElseThrow());
    }

    @Test
    void theCacheServesRepeatedReadsButNeverAStaleOrSharedCopy() throws Exception {
        phone.put("tasks", "t1", "{\"title\":\"one\"}");
        LocalRecord first = phone.get("tasks", "t1").orElseThrow();
        first.data().put("title", "changed by the caller");

        LocalRecord second = phone.get("tasks", "t1").orElseThrow();
        phone.update("tasks", "t1", "{\"title\":\"two\"}");
        LocalRecord third = phone.get("tasks", "t1").orElseThrow();
        phone.delete("tasks", "t1");

        assertThat(second.data().get("title").asText()).isEqualTo("one");
        assertThat(third.data().get("title").asText()).isEqualTo("two");
        assertThat(phone.get("tasks", "t1")).isEmpty();
    }

    /**
     * The edit is made while a sync is between its push and its pull (the app writes while the
     * sync runs), so it is pending when the pull brings a newer server version that changed
     * another field.
     */
    @Test
    void aPendingEditStaysVisibleAfterPullingANewerServerVersionOfAnotherFieldAndIsPushedAfter() throws Exception {
        phone.put("tasks", "t1", "{\"title\":\"draft\",\"done\":false}");
        phone.sync();
        phone.close();
        try (Outpost laptop = device("laptop")) {
            laptop.sync();
            laptop.update("tasks", "t1", "{\"done\":true}");
            laptop.sync();
        }
        Transport http = Transport.http(java.net.URI.create(server.url()), java.time.Duration.ofSeconds(5));
        java.util.concurrent.atomic.AtomicReference<Outpost> self = new java.util.concurrent.atomic.AtomicReference<>();
        java.util.concurrent.atomic.AtomicBoolean edited = new java.util.concurrent.atomic.AtomicBoolean();
        Transport editingDuringPull = new Transport() {
            @Override
            public dev.outpost.protocol.PushResponse push(dev.outpost.protocol.PushRequest request, String token)
                    throws OutpostException {
                return http.push(request, token);
            }

            @Override
            public dev.outpost.protocol.PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                if (edited.compareAndSet(false, true)) {
                    self.get().update("tasks", "t1", "{\"title\":\"final\"}");
                }
                return http.pull(cursor, limit, token);
            }
        };
        phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("phone.db"))
                .transport(editingDuringPull).tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
        self.set(phone);

        SyncResult pulled = phone.sync();
        LocalRecord rebased = phone.get("tasks", "t1").orElseThrow();
        SyncResult pushed = phone.sync();

        assertThat(pulled.pulled()).isEqualTo(1);
        assertThat(rebased.data()).as("the server's new field and the pending edit").isEqualTo(
                Wire.object("{\"title\":\"final\",\"done\":true}"));
        assertThat(rebased.state()).isEqualTo(SyncState.PENDING);
        assertThat(rebased.version()).isEqualTo(2);
        assertThat(pushed.applied()).as("moved onto version 2: no conflict with an edit of another field").isEqualTo(1);
        assertThat(pushed.conflicts()).isZero();
        assertThat(server.records("ann").get("tasks/t1")).isEqualTo(Wire.object("{\"title\":\"final\",\"done\":true}"));
        assertThat(phone.get("tasks", "t1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
    }

    @Test
    void aPendingEditOfTheSameFieldKeepsItsBaseAndMeetsTheConflictPolicy() throws Exception {
        phone.put("tasks", "t1", "{\"title\":\"draft\"}");
        phone.sync();
        try (Outpost laptop = device("laptop")) {
            laptop.sync();
            laptop.update("tasks", "t1", "{\"title\":\"laptop's\"}");
            laptop.sync();
        }
        phone.update("tasks", "t1", "{\"title\":\"phone's\"}");

        SyncResult result = phone.sync();

        assertThat(result.conflicts()).isEqualTo(1);
        assertThat(phone.get("tasks", "t1").orElseThrow().data().get("title").asText()).as("server wins by default")
                .isEqualTo("laptop's");
    }

    @Test
    void badQueriesAreRefusedWithClearMessages() throws Exception {
        tasks();

        assertThatThrownBy(() -> Query.in("bad/name")).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("collection");
        for (String field : new String[] {"", "a b", "1x", "a..b", "a.", "$.x", "x'--"}) {
            assertThatThrownBy(() -> Query.in("tasks").where(field, Query.Op.EQ, 1)).as(field)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("field");
            assertThatThrownBy(() -> Query.in("tasks").orderBy(field)).as(field).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> Query.in("tasks").where("x", Query.Op.EQ, List.of(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("List");
        assertThatThrownBy(() -> Query.in("tasks").where("x", Query.Op.LT, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("null");
        assertThatThrownBy(() -> Query.in("tasks").limit(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("limit");
        assertThatThrownBy(() -> Query.in("tasks").limit(Query.MAX_LIMIT + 1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Query.in("tasks").offset(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("offset");
        assertThatThrownBy(() -> phone.query(Query.in("tasks").where("secret", Query.Op.EQ, "s1")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("sensitive");
        assertThatThrownBy(() -> phone.query(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> OutpostConfig.builder().recordCacheSize(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("recordCacheSize");
    }
}
