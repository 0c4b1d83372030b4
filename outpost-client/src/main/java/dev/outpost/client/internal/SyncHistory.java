package dev.outpost.client.internal;

import dev.outpost.client.SyncReason;
import dev.outpost.client.SyncResult;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;

/** The last syncs of this session (for the debug export) and running totals (for metrics). */
public final class SyncHistory {
    /** How many syncs are kept for the debug export. */
    public static final int KEPT = 50;

    /** One sync as the debug export shows it. */
    public record Entry(SyncReason reason, Instant startedAt, long durationMillis, SyncResult result) {
    }

    private final Deque<Entry> recent = new ArrayDeque<>();
    private long syncs;
    private long completed;
    private Duration total = Duration.ZERO;
    private Entry last;
    private Instant lastSuccessAt;

    public synchronized void add(SyncReason reason, Instant startedAt, Duration took, SyncResult result) {
        Entry entry = new Entry(reason, startedAt, took.toMillis(), result);
        recent.addLast(entry);
        while (recent.size() > KEPT) {
            recent.removeFirst();
        }
        if (result.status() == SyncResult.Status.DEFERRED) {
            return;
        }
        syncs++;
        total = total.plus(took);
        last = entry;
        if (result.status() == SyncResult.Status.COMPLETED) {
            completed++;
            lastSuccessAt = startedAt.plus(took);
        }
    }

    public synchronized List<Entry> recent() {
        return new ArrayList<>(recent);
    }

    public synchronized long syncs() {
        return syncs;
    }

    public synchronized long completed() {
        return completed;
    }

    public synchronized Duration total() {
        return total;
    }

    public synchronized Entry last() {
        return last;
    }

    public synchronized Instant lastSuccessAt() {
        return lastSuccessAt;
    }
}
