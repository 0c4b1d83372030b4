package dev.outpost.client.internal;

import dev.outpost.client.SyncReason;
import dev.outpost.client.SyncResult;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When syncs happen: on request, after writes (debounced), on a schedule, when an op's retry
 * falls due, when the network comes back and on the app's lifecycle calls. Syncs run one at a
 * time on one background thread. A request made while a requested sync runs joins it (gets its
 * result); one made while an automatic sync runs, or made on the sync thread itself (by a
 * listener), gets a requested sync of its own, run after the running one. A write made while
 * a sync runs starts another after it, so no change waits for the next schedule.
 */
public final class SyncScheduler implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SyncScheduler.class);

    /**
     * Runs one sync. Network and server failures are results; what it throws (a storage
     * failure, or what a transport of the app's own threw) fails the sync's future.
     */
    @FunctionalInterface
    public interface Runner {
        SyncResult run(SyncReason reason) throws Exception;
    }

    private final Runner runner;
    private final Duration interval;
    private final Duration writeDebounce;
    private final boolean auto;
    private final ScheduledExecutorService thread;
    private final Clock clock;
    private CompletableFuture<SyncResult> running;
    private SyncReason runningReason;
    /** The thread running a sync now; null between syncs. */
    private volatile Thread syncThread;
    /** The requested sync to run after the running one; null if none was asked for. */
    private CompletableFuture<SyncResult> requestedNext;
    private ScheduledFuture<?> debounced;
    private ScheduledFuture<?> retry;
    private boolean writtenWhileRunning;
    private boolean closed;

    /**
     * @param interval the period of scheduled syncs; zero for none
     * @param writeDebounce how long after a write its sync starts (writes in between join it); null for no sync on write
     * @param auto whether anything but requests starts syncs
     */
    public SyncScheduler(Runner runner, Duration interval, Duration writeDebounce, boolean auto) {
        this(runner, interval, writeDebounce, auto, null, Clock.systemUTC());
    }

    /**
     * As the constructor above, running syncs and timing the debounce and the period on
     * {@code executor} (one that runs one task at a time), or on a thread of its own if null.
     * The scheduler shuts it down when closed. {@code clock} tells when a retry time has come.
     */
    public SyncScheduler(Runner runner, Duration interval, Duration writeDebounce, boolean auto,
            ScheduledExecutorService executor, Clock clock) {
        this.runner = runner;
        this.clock = clock;
        this.interval = interval;
        this.writeDebounce = writeDebounce;
        this.auto = auto;
        this.thread = executor != null ? executor : Executors.newSingleThreadScheduledExecutor(runnable -> {
            Thread worker = new Thread(runnable, "outpost-sync");
            worker.setDaemon(true);
            return worker;
        });
    }

    /** Starts the periodic schedule (when automatic sync is on). */
    public void start() {
        if (auto && !interval.isZero()) {
            thread.scheduleWithFixedDelay(() -> request(SyncReason.SCHEDULED), interval.toMillis(), interval.toMillis(),
                    TimeUnit.MILLISECONDS);
        }
    }

    /**
     * A sync for {@code reason}: starts one, or joins the one running. A request
     * ({@link SyncReason#REQUESTED}) joins only a running requested sync that it was not made
     * from; otherwise it gets the requested sync that follows the running one (one for all
     * requests made meanwhile).
     *
     * @return its result when it ends; a closed scheduler's future fails with IllegalStateException
     */
    public synchronized CompletableFuture<SyncResult> request(SyncReason reason) {
        if (closed) {
            return CompletableFuture.failedFuture(new IllegalStateException("Outpost is closed"));
        }
        if (running != null) {
            if (reason == SyncReason.REQUESTED && (runningReason != SyncReason.REQUESTED || onSyncThread())) {
                if (requestedNext == null) {
                    requestedNext = new CompletableFuture<>();
                }
                return requestedNext;
            }
            return running;
        }
        return start(reason, new CompletableFuture<>());
    }

    private CompletableFuture<SyncResult> start(SyncReason reason, CompletableFuture<SyncResult> sync) {
        running = sync;
        runningReason = reason;
        thread.execute(() -> run(reason, sync));
        return sync;
    }

    /** Whether the calling thread is running a sync now (a listener or resolver called from it). */
    public boolean onSyncThread() {
        return syncThread == Thread.currentThread();
    }

    /**
     * Runs an automatic sync at {@code at}, when an op's retry falls due, in place of the one
     * set before; null for none. The sync starts only once {@code clock} has reached
     * {@code at}: should the executor's timer run ahead of it, it waits the rest.
     */
    public synchronized void retryAt(Instant at) {
        if (retry != null) {
            retry.cancel(false);
            retry = null;
        }
        if (!auto || closed || at == null) {
            return;
        }
        long wait = Math.max(1, at.toEpochMilli() - clock.millis());
        retry = thread.schedule(() -> retryIfDue(at), wait, TimeUnit.MILLISECONDS);
    }

    private void retryIfDue(Instant at) {
        if (clock.instant().isBefore(at)) {
            retryAt(at);
        } else {
            request(SyncReason.RETRY);
        }
    }

    /** Automatic triggers: ignored when automatic sync is off. */
    public void trigger(SyncReason reason) {
        if (auto) {
            request(reason);
        }
    }

    /** Changes were written: a sync follows after the debounce, or after the running one. */
    public synchronized void written() {
        if (!auto || writeDebounce == null || closed) {
            return;
        }
        if (running != null) {
            writtenWhileRunning = true;
            return;
        }
        if (debounced == null || debounced.isDone()) {
            debounced = thread.schedule(() -> request(SyncReason.WRITE), writeDebounce.toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private void run(SyncReason reason, CompletableFuture<SyncResult> sync) {
        SyncResult result = null;
        syncThread = Thread.currentThread();
        try {
            result = runner.run(reason);
        } catch (Exception | Error e) {
            LOG.warn("a {} sync failed: {}", reason, e.toString());
            sync.completeExceptionally(e);
        } finally {
            syncThread = null;
            boolean again;
            boolean startedNext = false;
            CompletableFuture<SyncResult> next;
            synchronized (this) {
                running = null;
                runningReason = null;
                next = requestedNext;
                requestedNext = null;
                if (next != null && !closed) {
                    start(SyncReason.REQUESTED, next);
                    startedNext = true;
                    again = false;
                } else {
                    again = writtenWhileRunning;
                    writtenWhileRunning = false;
                }
            }
            if (next != null && !startedNext) {
                next.completeExceptionally(new IllegalStateException("Outpost is closed"));
            }
            if (result != null) {
                sync.complete(result);
            }
            if (again) {
                written();
            }
        }
    }

    /** Stops scheduling and waits (up to 30 s) for a running sync to end. */
    @Override
    public void close() {
        CompletableFuture<SyncResult> last;
        synchronized (this) {
            closed = true;
            last = running;
            if (debounced != null) {
                debounced.cancel(false);
            }
            if (retry != null) {
                retry.cancel(false);
            }
        }
        thread.shutdown();
        try {
            if (last != null) {
                last.handle((result, error) -> null).get(30, TimeUnit.SECONDS);
            }
            thread.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            LOG.warn("the running sync did not end within 30 s of close");
        }
        thread.shutdownNow();
    }
}
