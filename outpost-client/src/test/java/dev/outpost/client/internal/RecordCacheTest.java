package dev.outpost.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.client.Durability;
import dev.outpost.client.KeyProvider;
import dev.outpost.client.LocalRecord;
import dev.outpost.client.RetryPolicy;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The memory cache in front of the local view, on a real store file: a repeated read is
 * answered from memory, the least recently read record leaves first when the cache is full,
 * and a local write or a pulled change is never hidden behind a cached copy.
 */
class RecordCacheTest {
    private static final Instant NOW = Instant.parse("2026-11-24T10:00:00Z");

    @TempDir
    Path dir;
    private LocalStore store;

    @AfterEach
    void close() {
        if (store != null) {
            store.close();
        }
    }

    private LocalStore open(int cacheSize) throws Exception {
        store = LocalStore.open(dir.resolve("device.db"), Clock.fixed(NOW, ZoneOffset.UTC),
                new QueueSettings(RetryPolicy.DEFAULT, new int[] {1, 2, 4, 8}, true, new Random(1), Duration.ofDays(30),
                        Long.MAX_VALUE),
                new StorageSettings(Durability.DURABLE, dir.resolve("backups"), Duration.ofHours(1), 2, true, false,
                        Map.of(), KeyProvider.keysetFile(dir.resolve("keyset.json")), cacheSize));
        return store;
    }

    private String title(String id) throws Exception {
        return store.get("notes", id).map(record -> record.data().get("title").asText()).orElse(null);
    }

    @Test
    void aRepeatedReadIsAnsweredFromMemory() throws Exception {
        open(10);
        store.put("notes", "n1", Wire.object("{\"title\":\"one\"}"), Priority.NORMAL);

        assertThat(title("n1")).isEqualTo("one");
        long missesAfterFirst = store.cacheMisses();

        assertThat(title("n1")).isEqualTo("one");
        assertThat(store.get("notes", "absent")).isEmpty();
        assertThat(store.get("notes", "absent")).as("an absent record is remembered too").isEmpty();
        assertThat(store.cacheHits()).isEqualTo(2);
        assertThat(store.cacheMisses()).isEqualTo(missesAfterFirst + 1);
    }

    @Test
    void theLeastRecentlyReadRecordLeavesFirstWhenTheCacheIsFull() throws Exception {
        open(2);
        for (String id : List.of("a", "b", "c")) {
            store.put("notes", id, Wire.object("{\"title\":\"" + id + "\"}"), Priority.NORMAL);
        }
        title("a");
        title("b");
        title("a");
        title("c");
        long hits = store.cacheHits();
        long misses = store.cacheMisses();

        assertThat(title("a")).as("read most recently but one: kept").isEqualTo("a");
        assertThat(title("b")).as("least recently read: left the cache, read from the file").isEqualTo("b");
        assertThat(store.cacheHits() - hits).isEqualTo(1);
        assertThat(store.cacheMisses() - misses).isEqualTo(1);
    }

    @Test
    void aCacheOfSizeZeroReadsEveryTimeFromSqlite() throws Exception {
        open(0);
        store.put("notes", "n1", Wire.object("{\"title\":\"one\"}"), Priority.NORMAL);

        title("n1");
        title("n1");

        assertThat(title("n1")).isEqualTo("one");
        assertThat(store.cacheHits()).isZero();
    }

    @Test
    void aLocalWriteIsReadBackAtOnceNotTheCachedCopy() throws Exception {
        open(10);
        store.put("notes", "n1", Wire.object("{\"title\":\"one\"}"), Priority.NORMAL);
        assertThat(title("n1")).isEqualTo("one");

        store.update("notes", "n1", Wire.object("{\"title\":\"two\"}"), Priority.NORMAL);
        String afterUpdate = title("n1");
        store.delete("notes", "n1", Priority.NORMAL);
        Optional<LocalRecord> afterDelete = store.get("notes", "n1");
        store.put("notes", "n1", Wire.object("{\"title\":\"three\"}"), Priority.NORMAL);

        assertThat(afterUpdate).isEqualTo("two");
        assertThat(afterDelete).isEmpty();
        assertThat(title("n1")).isEqualTo("three");
    }

    @Test
    void aPulledChangeIsReadBackAtOnceNotTheCachedCopy() throws Exception {
        open(10);
        store.applyChanges(List.of(change("n1", 1, "{\"title\":\"from the server\"}")), "c1");
        assertThat(title("n1")).isEqualTo("from the server");
        assertThat(store.get("notes", "n2")).isEmpty();

        store.applyChanges(List.of(change("n1", 2, "{\"title\":\"edited elsewhere\"}"),
                change("n2", 1, "{\"title\":\"new elsewhere\"}")), "c2");

        assertThat(title("n1")).isEqualTo("edited elsewhere");
        assertThat(store.get("notes", "n1").orElseThrow().version()).isEqualTo(2);
        assertThat(title("n2")).as("a record cached as absent").isEqualTo("new elsewhere");

        store.applyChanges(List.of(change("n1", 3, null)), "c3");

        assertThat(store.get("notes", "n1")).as("deleted on the server").isEmpty();
    }

    private static PulledPage.Pulled change(String id, long version, String json) {
        return new PulledPage.Pulled("notes", id, version, json == null, json, "1700000000000-00000-server", null, null);
    }
}
