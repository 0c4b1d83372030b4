package dev.outpost.client.internal;

import dev.outpost.client.BackupInfo;
import dev.outpost.client.OutpostException;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The backup schedule, independent of syncing: a daemon thread of its own
 * ({@code outpost-backup}) checks every {@link #checkPeriod} whether the store's last backup,
 * scheduled or on demand, is older than the backup interval by the store's clock, and if so
 * takes one ({@link LocalStore#backupIfDue}). A store that has none gets its first at the
 * first check. A store living in memory has nothing to back up and starts no thread.
 */
public final class BackupTimer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackupTimer.class);
    private static final Duration SHORTEST_CHECK = Duration.ofSeconds(5);
    private static final Duration LONGEST_CHECK = Duration.ofHours(1);

    private final LocalStore store;
    private final Duration period;
    private ScheduledExecutorService thread;

    /** A schedule of backups of {@code store} every {@code interval}; call {@link #start} to begin. */
    public BackupTimer(LocalStore store, Duration interval) {
        this.store = store;
        this.period = checkPeriod(interval);
    }

    /**
     * How often the schedule looks whether a backup is due: a twelfth of the interval, from 5
     * seconds to 1 hour, so a backup is taken at most that late (2 hours after the last with the
     * default of a day).
     */
    static Duration checkPeriod(Duration interval) {
        Duration twelfth = interval.dividedBy(12);
        return twelfth.compareTo(SHORTEST_CHECK) < 0 ? SHORTEST_CHECK
                : twelfth.compareTo(LONGEST_CHECK) > 0 ? LONGEST_CHECK : twelfth;
    }

    /** Starts the thread; its first check comes one period after. */
    public synchronized void start() {
        if (store.inMemory() || thread != null) {
            return;
        }
        thread = Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread worker = new Thread(runnable, "outpost-backup");
            worker.setDaemon(true);
            return worker;
        });
        long millis = period.toMillis();
        thread.scheduleWithFixedDelay(this::checkQuietly, millis, millis, TimeUnit.MILLISECONDS);
    }

    /**
     * Takes a backup now if one is due by the store's clock.
     *
     * @return the backup taken, or null if none was due
     */
    public BackupInfo check() throws OutpostException {
        return store.backupIfDue();
    }

    private void checkQuietly() {
        try {
            check();
        } catch (OutpostException | RuntimeException e) {
            LOG.warn("the scheduled backup failed; the next check tries again: {}", e.getMessage());
        }
    }

    /** Stops the schedule, waiting (up to 30 s) for a backup being taken to end. */
    @Override
    public synchronized void close() {
        if (thread == null) {
            return;
        }
        thread.shutdown();
        try {
            if (!thread.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("the scheduled backup did not end within 30 s of close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        thread.shutdownNow();
    }
}
