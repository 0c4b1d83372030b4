package dev.outpost.client.internal;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/**
 * Stops automatic syncs from pressing a failing server. After {@code threshold} syncs in a row
 * fail on the server (5xx, 429, unreadable answers) the circuit opens: automatic syncs are
 * deferred for the cool-down. When it has passed the circuit is half open and lets one sync
 * through: success closes it, failure opens it again for twice as long (up to
 * {@code maxCoolDown}). Syncs the app asks for always go through, and count like any other.
 */
public final class CircuitBreaker {
    /** The breaker's state. */
    public enum State {
        CLOSED, OPEN, HALF_OPEN
    }

    private final Clock clock;
    private final int threshold;
    private final Duration coolDown;
    private final Duration maxCoolDown;
    private int failures;
    private Duration currentCoolDown;
    private Instant openUntil;

    public CircuitBreaker(Clock clock, int threshold, Duration coolDown, Duration maxCoolDown) {
        if (threshold < 1) {
            throw new IllegalArgumentException("the failure threshold must be at least 1, got " + threshold);
        }
        this.clock = clock;
        this.threshold = threshold;
        this.coolDown = coolDown;
        this.maxCoolDown = maxCoolDown;
        this.currentCoolDown = coolDown;
    }

    public synchronized State state() {
        if (openUntil == null) {
            return State.CLOSED;
        }
        return clock.instant().isBefore(openUntil) ? State.OPEN : State.HALF_OPEN;
    }

    /** When an open circuit lets a sync through again; null unless open. */
    public synchronized Instant openUntil() {
        return state() == State.OPEN ? openUntil : null;
    }

    /** Whether an automatic sync may run now. */
    public synchronized boolean allows() {
        return state() != State.OPEN;
    }

    /** A sync reached the server and it answered well (or the network, not the server, failed). */
    public synchronized void succeeded() {
        failures = 0;
        openUntil = null;
        currentCoolDown = coolDown;
    }

    /** A sync failed on the server. */
    public synchronized void failed() {
        State before = state();
        failures++;
        if (before == State.HALF_OPEN) {
            currentCoolDown = currentCoolDown.multipliedBy(2).compareTo(maxCoolDown) > 0 ? maxCoolDown : currentCoolDown.multipliedBy(2);
            openUntil = clock.instant().plus(currentCoolDown);
        } else if (failures >= threshold) {
            openUntil = clock.instant().plus(currentCoolDown);
        }
    }
}
