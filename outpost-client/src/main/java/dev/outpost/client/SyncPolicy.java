package dev.outpost.client;

import java.time.Duration;
import java.util.Objects;

/**
 * When Outpost syncs by itself, and on what network. Immutable; made by {@link #builder()}.
 *
 * <p>The defaults follow the seeds: sync every 30 s, one second after writes (writes in that
 * second go together), when the network comes back and when the app comes to the foreground
 * or goes to the background. On a metered link (cellular) automatic syncs wait for an
 * unmetered one unless changes have waited 24 h, the queue holds more than 1 MB, a CRITICAL
 * change waits, or the app asks ({@link Outpost#syncNow()}, which always runs). After 5 syncs
 * in a row fail on the server, automatic syncs pause for 30 s, then try one (circuit breaker,
 * the pause doubling up to 10 min while the server keeps failing).
 *
 * <pre>{@code
 * OutpostConfig.builder()...
 *         .syncPolicy(SyncPolicy.builder().interval(Duration.ofMinutes(5)).wifiOnlyInBackground(true).build())
 * }</pre>
 */
public final class SyncPolicy {
    /** Syncs only when the app calls {@link Outpost#sync()} or {@link Outpost#syncNow()}. */
    public static final SyncPolicy MANUAL = builder().automatic(false).build();
    /** The defaults described above. */
    public static final SyncPolicy DEFAULTS = builder().build();

    private final boolean automatic;
    private final Duration interval;
    private final Duration writeDebounce;
    private final boolean wifiOnlyInBackground;
    private final Duration meteredAfter;
    private final long meteredQueueBytes;
    private final int breakerFailures;
    private final Duration breakerCoolDown;

    private SyncPolicy(Builder builder) {
        this.automatic = builder.automatic;
        this.interval = builder.interval;
        this.writeDebounce = builder.writeDebounce;
        this.wifiOnlyInBackground = builder.wifiOnlyInBackground;
        this.meteredAfter = builder.meteredAfter;
        this.meteredQueueBytes = builder.meteredQueueBytes;
        this.breakerFailures = builder.breakerFailures;
        this.breakerCoolDown = builder.breakerCoolDown;
    }

    /** A builder with the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** Whether Outpost syncs by itself at all. */
    public boolean automatic() {
        return automatic;
    }

    /** The period of scheduled syncs; zero for none. */
    public Duration interval() {
        return interval;
    }

    /** How long after a write its sync starts; null when writes start no sync. */
    public Duration writeDebounce() {
        return writeDebounce;
    }

    /** Whether syncs while the app is in the background wait for Wi-Fi or ethernet (CRITICAL changes excepted). */
    public boolean wifiOnlyInBackground() {
        return wifiOnlyInBackground;
    }

    /** How long changes may wait before an automatic sync uses a metered link anyway. */
    public Duration meteredAfter() {
        return meteredAfter;
    }

    /** Queued bytes above which an automatic sync uses a metered link. */
    public long meteredQueueBytes() {
        return meteredQueueBytes;
    }

    /** Server failures in a row that open the circuit. */
    public int breakerFailures() {
        return breakerFailures;
    }

    /** How long an open circuit holds automatic syncs back at first. */
    public Duration breakerCoolDown() {
        return breakerCoolDown;
    }

    /** Builds a {@link SyncPolicy}; each setter checks its value at once. */
    public static final class Builder {
        private boolean automatic = true;
        private Duration interval = Duration.ofSeconds(30);
        private Duration writeDebounce = Duration.ofSeconds(1);
        private boolean wifiOnlyInBackground;
        private Duration meteredAfter = Duration.ofHours(24);
        private long meteredQueueBytes = 1024 * 1024;
        private int breakerFailures = 5;
        private Duration breakerCoolDown = Duration.ofSeconds(30);

        private Builder() {
        }

        /** Whether Outpost syncs by itself; default true. */
        public Builder automatic(boolean automatic) {
            this.automatic = automatic;
            return this;
        }

        /** The period of scheduled syncs, at least 1 s, or zero for none; default 30 s. */
        public Builder interval(Duration interval) {
            Objects.requireNonNull(interval, "interval");
            if (interval.isNegative() || (!interval.isZero() && interval.compareTo(Duration.ofSeconds(1)) < 0)) {
                throw new IllegalArgumentException("interval must be zero (no scheduled syncs) or at least 1 s, got " + interval);
            }
            this.interval = interval;
            return this;
        }

        /**
         * How long after a write its sync starts, 0 to 10 min; writes in between go in the same
         * sync. Default 1 s.
         */
        public Builder syncOnWrite(Duration debounce) {
            Objects.requireNonNull(debounce, "debounce");
            if (debounce.isNegative() || debounce.compareTo(Duration.ofMinutes(10)) > 0) {
                throw new IllegalArgumentException("the write debounce must be from 0 to 10 min, got " + debounce);
            }
            this.writeDebounce = debounce;
            return this;
        }

        /** Writes start no sync; they go with the next scheduled or requested one. */
        public Builder noSyncOnWrite() {
            this.writeDebounce = null;
            return this;
        }

        /**
         * Whether background syncs wait for Wi-Fi or ethernet; default false. It needs a
         * {@link NetworkMonitor} that tells the link type ({@link OutpostConfig.Builder#networkMonitor}):
         * the default one cannot, and {@link OutpostConfig.Builder#build()} refuses the two together.
         */
        public Builder wifiOnlyInBackground(boolean wifiOnly) {
            this.wifiOnlyInBackground = wifiOnly;
            return this;
        }

        /** How long changes may wait before a metered link is used anyway, at least 1 min; default 24 h. */
        public Builder meteredAfter(Duration wait) {
            Objects.requireNonNull(wait, "meteredAfter");
            if (wait.compareTo(Duration.ofMinutes(1)) < 0) {
                throw new IllegalArgumentException("meteredAfter must be at least 1 min, got " + wait);
            }
            this.meteredAfter = wait;
            return this;
        }

        /** Queued bytes above which a metered link is used, at least 0; default 1 MB (1,048,576). */
        public Builder meteredQueueBytes(long bytes) {
            if (bytes < 0) {
                throw new IllegalArgumentException("meteredQueueBytes must not be negative, got " + bytes);
            }
            this.meteredQueueBytes = bytes;
            return this;
        }

        /**
         * The circuit breaker: {@code failures} (1 to 100) server failures in a row open it for
         * {@code coolDown} (1 s to 1 h), doubling while failures go on, up to 10 min or the
         * cool-down if longer. Default 5 and 30 s.
         */
        public Builder circuitBreaker(int failures, Duration coolDown) {
            Objects.requireNonNull(coolDown, "coolDown");
            if (failures < 1 || failures > 100) {
                throw new IllegalArgumentException("circuit breaker failures must be from 1 to 100, got " + failures);
            }
            if (coolDown.compareTo(Duration.ofSeconds(1)) < 0 || coolDown.compareTo(Duration.ofHours(1)) > 0) {
                throw new IllegalArgumentException("circuit breaker cool-down must be from 1 s to 1 h, got " + coolDown);
            }
            this.breakerFailures = failures;
            this.breakerCoolDown = coolDown;
            return this;
        }

        public SyncPolicy build() {
            return new SyncPolicy(this);
        }
    }
}
