package dev.outpost.testing;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.Callable;
import java.util.concurrent.Delayed;
import java.util.concurrent.Executors;
import java.util.concurrent.FutureTask;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * A scheduled executor that runs nothing by itself: a test runs what is due with
 * {@link #runDue()} or moves a {@link FakeClock} forward with {@link #advance}, and the tasks
 * run on the test's own thread, in the order of their times (then of their submission). So
 * code that waits a debounce or a period is tested without sleeping or threads racing.
 *
 * <p>{@link #shutdown()} runs the tasks already due, as a real executor finishes the tasks
 * submitted before it, and drops delayed and periodic ones; later submissions are refused.
 * Not thread-safe beyond what a test's one thread needs: submissions from other threads are
 * taken, but run only when the test runs them.
 */
public final class FakeScheduler extends AbstractExecutorService implements ScheduledExecutorService {
    private final FakeClock clock;
    private final PriorityQueue<Task<?>> tasks = new PriorityQueue<>();
    private long submitted;
    private boolean shutdown;

    /** A scheduler whose time is {@code clock}'s. */
    public FakeScheduler(FakeClock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
    }

    /** Runs every task due now, including those the tasks submit due now; returns how many ran. */
    public int runDue() {
        int ran = 0;
        for (Task<?> next = takeDue(clock.millis()); next != null; next = takeDue(clock.millis())) {
            next.runNow();
            ran++;
        }
        return ran;
    }

    /**
     * Moves the clock forward by {@code step}, running each task when the clock reaches its
     * time; returns how many ran.
     */
    public int advance(Duration step) {
        long target = clock.millis() + step.toMillis();
        int ran = runDue();
        for (Task<?> next = takeDue(target); next != null; next = takeDue(target)) {
            if (next.due > clock.millis()) {
                clock.set(Instant.ofEpochMilli(next.due));
            }
            next.runNow();
            ran++;
        }
        clock.set(Instant.ofEpochMilli(Math.max(target, clock.millis())));
        return ran;
    }

    /** How many tasks wait (due now or later, periodic ones included). */
    public synchronized int waiting() {
        return tasks.size();
    }

    private synchronized Task<?> takeDue(long until) {
        Task<?> head = tasks.peek();
        return head != null && head.due <= until ? tasks.poll() : null;
    }

    private synchronized <V> Task<V> add(Task<V> task) {
        if (shutdown) {
            throw new RejectedExecutionException("the fake scheduler is shut down");
        }
        task.order = submitted++;
        tasks.add(task);
        return task;
    }

    private synchronized void requeue(Task<?> task) {
        if (!shutdown) {
            tasks.add(task);
        }
    }

    private synchronized void remove(Task<?> task) {
        tasks.remove(task);
    }

    @Override
    public void execute(Runnable command) {
        schedule(command, 0, TimeUnit.MILLISECONDS);
    }

    @Override
    public ScheduledFuture<?> schedule(Runnable command, long delay, TimeUnit unit) {
        return schedule(Executors.callable(command), delay, unit);
    }

    @Override
    public <V> ScheduledFuture<V> schedule(Callable<V> callable, long delay, TimeUnit unit) {
        return add(new Task<>(callable, clock.millis() + Math.max(0, unit.toMillis(delay)), 0));
    }

    @Override
    public ScheduledFuture<?> scheduleAtFixedRate(Runnable command, long initialDelay, long period, TimeUnit unit) {
        if (period <= 0) {
            throw new IllegalArgumentException("period must be positive, got " + period);
        }
        return add(new Task<>(Executors.callable(command), clock.millis() + Math.max(0, unit.toMillis(initialDelay)),
                Math.max(1, unit.toMillis(period))));
    }

    @Override
    public ScheduledFuture<?> scheduleWithFixedDelay(Runnable command, long initialDelay, long delay, TimeUnit unit) {
        return scheduleAtFixedRate(command, initialDelay, delay, unit);
    }

    @Override
    public void shutdown() {
        List<Task<?>> due = new ArrayList<>();
        List<Task<?>> dropped;
        synchronized (this) {
            if (shutdown) {
                return;
            }
            for (Task<?> task = takeDue(clock.millis()); task != null; task = takeDue(clock.millis())) {
                if (task.period == 0) {
                    due.add(task);
                }
            }
            shutdown = true;
            dropped = new ArrayList<>(tasks);
            tasks.clear();
        }
        dropped.forEach(task -> task.cancel(false));
        due.forEach(Task::runNow);
    }

    @Override
    public List<Runnable> shutdownNow() {
        synchronized (this) {
            shutdown = true;
            List<Runnable> left = new ArrayList<>(tasks);
            tasks.clear();
            return left;
        }
    }

    @Override
    public synchronized boolean isShutdown() {
        return shutdown;
    }

    @Override
    public synchronized boolean isTerminated() {
        return shutdown;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) {
        return true;
    }

    private final class Task<V> extends FutureTask<V> implements ScheduledFuture<V> {
        private final long period;
        private long order;
        private long due;

        Task(Callable<V> callable, long due, long period) {
            super(callable);
            this.due = due;
            this.period = period;
        }

        void runNow() {
            if (period == 0) {
                run();
            } else if (runAndReset()) {
                due += period;
                requeue(this);
            }
        }

        @Override
        public boolean cancel(boolean mayInterruptIfRunning) {
            boolean cancelled = super.cancel(mayInterruptIfRunning);
            if (cancelled) {
                remove(this);
            }
            return cancelled;
        }

        @Override
        public long getDelay(TimeUnit unit) {
            return unit.convert(due - clock.millis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public int compareTo(Delayed other) {
            if (other instanceof Task<?> task) {
                int byTime = Long.compare(due, task.due);
                return byTime != 0 ? byTime : Long.compare(order, task.order);
            }
            return Long.compare(getDelay(TimeUnit.MILLISECONDS), other.getDelay(TimeUnit.MILLISECONDS));
        }
    }
}
