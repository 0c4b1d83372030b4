package dev.outpost.client;

import java.time.Duration;
import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * How an op that the server failed to take (5xx, 429, an answer it could not read) is tried
 * again: after {@code initialDelay}, doubling each time up to {@code maxDelay}, shortened by a
 * random share of up to {@code jitter} so that devices do not retry in step. After its first
 * attempt an op is retried up to {@code maxRetries} times; when the last retry fails too, the
 * op moves to the dead-letter queue with the last error as its reason. Being offline is never
 * an attempt.
 *
 * @param maxRetries retries after the first attempt before an op is dead-lettered, at least 0
 *     (0: the first failure dead-letters it)
 * @param initialDelay the wait after the first failed attempt, positive
 * @param maxDelay the longest wait, at least {@code initialDelay}
 * @param jitter the share of each wait that may be cut at random, from 0 to 1
 */
public record RetryPolicy(int maxRetries, Duration initialDelay, Duration maxDelay, double jitter) {
    /**
     * The seeds' schedule: up to 5 retries, after waits of 1, 2, 4, 8 and 16 s, 20% jitter; the
     * op is dead-lettered when its 6th attempt fails.
     */
    public static final RetryPolicy DEFAULT = new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofSeconds(16), 0.2);

    public RetryPolicy {
        if (maxRetries < 0) {
            throw new IllegalArgumentException("maxRetries must be at least 0, got " + maxRetries);
        }
        Objects.requireNonNull(initialDelay, "initialDelay");
        Objects.requireNonNull(maxDelay, "maxDelay");
        if (initialDelay.isNegative() || initialDelay.isZero()) {
            throw new IllegalArgumentException("initialDelay must be positive, got " + initialDelay);
        }
        if (maxDelay.compareTo(initialDelay) < 0) {
            throw new IllegalArgumentException("maxDelay " + maxDelay + " must not be shorter than initialDelay " + initialDelay);
        }
        if (!(jitter >= 0 && jitter <= 1)) {
            throw new IllegalArgumentException("jitter must be from 0 to 1, got " + jitter);
        }
    }

    /**
     * The wait after failed attempt number {@code attempt} (1 for the first), before jitter.
     */
    public Duration baseDelay(int attempt) {
        if (attempt < 1) {
            throw new IllegalArgumentException("attempt must be at least 1, got " + attempt);
        }
        Duration delay = initialDelay;
        for (int i = 1; i < attempt && delay.compareTo(maxDelay) < 0; i++) {
            delay = delay.multipliedBy(2);
        }
        return delay.compareTo(maxDelay) > 0 ? maxDelay : delay;
    }

    /** The wait after failed attempt {@code attempt}, with jitter drawn from {@code random}. */
    public Duration delay(int attempt, RandomGenerator random) {
        Duration base = baseDelay(attempt);
        if (jitter == 0) {
            return base;
        }
        long millis = base.toMillis();
        return Duration.ofMillis(millis - (long) (millis * jitter * random.nextDouble()));
    }
}
