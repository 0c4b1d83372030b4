package dev.outpost.server.internal;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * Asks whether the database answers, waiting at most a bound. A database that hangs (a pool
 * that keeps trying to connect waits 30 s for a connection) is reported down once the bound
 * has passed, in time for a load balancer's probe; probes that come while a check is still
 * running share it instead of piling up more waiting threads.
 */
final class ReadinessProbe implements AutoCloseable {
    private final BooleanSupplier check;
    private final Duration bound;
    private final ExecutorService checker = Executors.newSingleThreadExecutor(runnable -> {
        Thread thread = new Thread(runnable, "outpost-readiness");
        thread.setDaemon(true);
        return thread;
    });
    private CompletableFuture<Boolean> running;

    ReadinessProbe(BooleanSupplier check, Duration bound) {
        this.check = check;
        this.bound = bound;
    }

    /** Null when the database answered within the bound, else why it is taken for down. */
    String fault() {
        CompletableFuture<Boolean> current;
        synchronized (this) {
            if (running == null || running.isDone()) {
                try {
                    running = CompletableFuture.supplyAsync(check::getAsBoolean, checker);
                } catch (RejectedExecutionException e) {
                    return "the server is stopping";
                }
            }
            current = running;
        }
        try {
            return current.get(bound.toMillis(), TimeUnit.MILLISECONDS) ? null : "the database does not answer";
        } catch (TimeoutException e) {
            return "the database did not answer within " + bound.toMillis() + " ms";
        } catch (ExecutionException e) {
            return "the database check failed: " + e.getCause().getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "the database check was interrupted";
        }
    }

    @Override
    public void close() {
        checker.shutdownNow();
    }
}
