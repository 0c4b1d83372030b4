package dev.outpost.client.internal;

import dev.outpost.client.LocalRecord;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The memory cache in front of the local view: the last {@code capacity} records read (or
 * found absent), least recently used first out. Any commit to the store clears it, so it never
 * serves a record older than the store; it pays off for the reads an app's screens repeat
 * between writes and syncs. Used under the store's lock.
 */
final class RecordCache {
    private final int capacity;
    private final LinkedHashMap<String, Optional<LocalRecord>> entries;
    private long hits;
    private long misses;

    RecordCache(int capacity) {
        this.capacity = capacity;
        this.entries = new LinkedHashMap<>(16, 0.75f, true) {
            private static final long serialVersionUID = 1L;

            @Override
            protected boolean removeEldestEntry(Map.Entry<String, Optional<LocalRecord>> eldest) {
                return size() > RecordCache.this.capacity;
            }
        };
    }

    /** The cached answer for the record (empty: known absent), or null if not cached. */
    Optional<LocalRecord> get(String collection, String id) {
        if (capacity == 0) {
            return null;
        }
        Optional<LocalRecord> found = entries.get(collection + '\u0000' + id);
        if (found == null) {
            misses++;
        } else {
            hits++;
        }
        return found;
    }

    void put(String collection, String id, Optional<LocalRecord> record) {
        if (capacity > 0) {
            entries.put(collection + '\u0000' + id, record);
        }
    }

    void clear() {
        entries.clear();
    }

    long hits() {
        return hits;
    }

    long misses() {
        return misses;
    }

    int size() {
        return entries.size();
    }
}
