package dev.outpost.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.client.Durability;
import dev.outpost.client.KeyProvider;
import dev.outpost.client.LocalRecord;
import dev.outpost.client.RetryPolicy;
import dev.outpost.client.SyncState;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulled pages applied to a real store file leave the rows the protocol says, whatever the
 * record ids and data hold: pages of records new to the device (each inserted before anything
 * is read), pages of records it holds (read first), and pages that mix the two either way.
 */
class PulledRecordsStoredTest {
    private static final Instant NOW = Instant.parse("2026-11-24T10:00:00Z");
    private static final String[] ODD_IDS = {"plain", "with \"quotes\"", "back\\slash", "tab\there", "nul\u0000inside",
        "caf\u00e9 \u2603", "clef \ud834\udd1e", "", "[1,2]", "-1"};

    @TempDir
    Path dir;
    private LocalStore store;

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
        }
    }

    private LocalStore open(Map<String, Set<String>> sensitive) throws Exception {
        store = LocalStore.open(dir.resolve("device.db"), Clock.fixed(NOW, ZoneOffset.UTC),
                new QueueSettings(RetryPolicy.DEFAULT, new int[] {1, 2, 4, 8}, true, new Random(1), Duration.ofDays(30),
                        Long.MAX_VALUE),
                new StorageSettings(Durability.DURABLE, dir.resolve("backups"), Duration.ofHours(1), 2, true, false,
                        sensitive, KeyProvider.keysetFile(dir.resolve("keyset.json")), 0));
        return store;
    }

    private static PulledPage.Pulled change(String collection, String id, long version, String json) {
        return new PulledPage.Pulled(collection, id, version, json == null, json, "1700000000000-00000-server", null, null);
    }

    private List<String> storedRow(String collection, String id) throws Exception {
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("device.db"));
                PreparedStatement select = db.prepareStatement("SELECT data, deleted, server_data, server_version, "
                        + "server_deleted, server_hlc, last_synced_at FROM records WHERE collection = ? AND id = ?")) {
            select.setString(1, collection);
            select.setString(2, id);
            try (ResultSet row = select.executeQuery()) {
                if (!row.next()) {
                    return null;
                }
                List<String> values = new ArrayList<>();
                for (int column = 1; column <= 7; column++) {
                    values.add(row.getString(column));
                }
                return values;
            }
        }
    }

    @Test
    void aPageOfNewRecordsIsStoredAsPulledWhateverItsIdsAndDataHold() throws Exception {
        open(Map.of());
        List<PulledPage.Pulled> page = new ArrayList<>();
        for (int i = 0; i < ODD_IDS.length; i++) {
            String title = Wire.write(ODD_IDS[i]);
            page.add(change("notes", ODD_IDS[i], i + 1, "{\"title\":" + title + ",\"text\":\"na\u00efve \\\"q\\\" \u2603\","
                    + "\"n\":" + i + ",\"big\":12345678901234567890}"));
        }
        page.add(change("odd \"collection\"", "gone", 9_000_000_000L, null));
        page.add(new PulledPage.Pulled("notes", "no-hlc", 3, false, "{ \"spaced\" : [ 1 , 2 ] }", null, null, null));

        assertThat(store.applyChanges(page, "c1")).isEqualTo(page.size());

        for (PulledPage.Pulled change : page) {
            assertThat(storedRow(change.collection(), change.recordId())).as(change.recordId()).containsExactly(
                    change.json(), change.deleted() ? "1" : "0", null, String.valueOf(change.version()),
                    change.deleted() ? "1" : "0", change.hlc(), String.valueOf(NOW.toEpochMilli()));
        }
        LocalRecord read = store.get("notes", "nul\u0000inside").orElseThrow();
        assertThat(read.data()).isEqualTo(Wire.object(page.get(4).json()));
        assertThat(read.state()).isEqualTo(SyncState.SYNCED);
        assertThat(read.version()).isEqualTo(5);
        assertThat(store.get("odd \"collection\"", "gone")).isEmpty();
        assertThat(store.cursor()).isEqualTo("c1");
    }

    @Test
    void aPageWithARecordTheDeviceHoldsIsAppliedRecordByRecordAndKeepsItsPendingEdit() throws Exception {
        open(Map.of());
        store.applyChanges(List.of(change("notes", "held", 1, "{\"title\":\"first\",\"body\":\"b\"}")), "c1");
        store.update("notes", "held", Wire.object("{\"body\":\"edited here\"}"), Priority.NORMAL);

        int applied = store.applyChanges(List.of(change("notes", "new-1", 1, "{\"title\":\"one\"}"),
                change("notes", "held", 2, "{\"title\":\"second\",\"body\":\"b\"}"),
                change("notes", "new-2", 1, "{\"title\":\"two\"}")), "c2");

        assertThat(applied).isEqualTo(3);
        LocalRecord held = store.get("notes", "held").orElseThrow();
        assertThat(held.data()).isEqualTo(Wire.object("{\"title\":\"second\",\"body\":\"edited here\"}"));
        assertThat(held.state()).isEqualTo(SyncState.PENDING);
        assertThat(storedRow("notes", "held").get(3)).isEqualTo("2");
        assertThat(store.get("notes", "new-1").orElseThrow().data()).isEqualTo(Wire.object("{\"title\":\"one\"}"));
        assertThat(store.get("notes", "new-2").orElseThrow().data()).isEqualTo(Wire.object("{\"title\":\"two\"}"));
        assertThat(store.pendingCount()).isEqualTo(1);
        assertThat(store.cursor()).isEqualTo("c2");
    }

    @Test
    void aRecordTwiceInOnePageEndsAtItsLaterVersion() throws Exception {
        open(Map.of());

        store.applyChanges(List.of(change("notes", "n1", 1, "{\"v\":1}"), change("notes", "n2", 1, "{\"v\":1}"),
                change("notes", "n1", 2, "{\"v\":2}")), "c1");
        store.applyChanges(List.of(change("notes", "n3", 1, "{\"v\":1}"), change("notes", "n3", 2, null)), "c2");

        assertThat(store.get("notes", "n1").orElseThrow().data()).isEqualTo(Wire.object("{\"v\":2}"));
        assertThat(store.get("notes", "n1").orElseThrow().version()).isEqualTo(2);
        assertThat(store.get("notes", "n2").orElseThrow().version()).isEqualTo(1);
        assertThat(store.get("notes", "n3")).isEmpty();
        assertThat(storedRow("notes", "n3").subList(1, 5)).containsExactly("1", null, "2", "1");
    }

    @Test
    void newRecordsPulledAfterAPageOfKnownOnesAreStoredAndTheKnownOnesAdvance() throws Exception {
        open(Map.of());
        store.applyChanges(List.of(change("notes", "a", 1, "{\"v\":1}")), "c1");
        store.applyChanges(List.of(change("notes", "a", 2, "{\"v\":2}")), "c2");

        store.applyChanges(List.of(change("notes", "b", 1, "{\"v\":1}"), change("notes", "c", 1, "{\"v\":1}")), "c3");
        store.applyChanges(List.of(change("notes", "d", 1, "{\"v\":1}"), change("notes", "a", 3, "{\"v\":3}")), "c4");

        assertThat(store.get("notes", "a").orElseThrow().data()).isEqualTo(Wire.object("{\"v\":3}"));
        for (String id : List.of("b", "c", "d")) {
            assertThat(store.get("notes", id).orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        }
        assertThat(store.cursor()).isEqualTo("c4");
    }

    @Test
    void aNewRecordInACollectionWithSensitiveFieldsIsStoredSealed() throws Exception {
        open(Map.of("calls", Set.of("number")));

        store.applyChanges(List.of(change("calls", "c1", 1, "{\"number\":\"+44 20 7946 0018\",\"minutes\":3}"),
                change("notes", "n1", 1, "{\"number\":\"in the clear\"}")), "c1");

        assertThat(storedRow("calls", "c1").get(0)).doesNotContain("7946").contains("$outpost_sealed");
        assertThat(storedRow("notes", "n1").get(0)).isEqualTo("{\"number\":\"in the clear\"}");
        assertThat(store.get("calls", "c1").orElseThrow().data().get("number").asText()).isEqualTo("+44 20 7946 0018");
    }

    @Test
    void changesOutsideTheDevicesScopesAreLeftOutOfAPageOfNewRecords() throws Exception {
        open(Map.of());

        int applied = store.applyChanges(List.of(change("notes", "mine", 1, "{\"v\":1}"),
                new PulledPage.Pulled("notes", "theirs", 1, false, "{\"v\":1}", null, new Change.Origin("other", "op"),
                        "team-x")), "c1");

        assertThat(applied).isEqualTo(1);
        assertThat(store.get("notes", "mine")).isPresent();
        assertThat(storedRow("notes", "theirs")).isNull();
    }
}
