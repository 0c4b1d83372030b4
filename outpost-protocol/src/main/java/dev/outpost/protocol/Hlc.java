package dev.outpost.protocol;

import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * A hybrid logical clock: timestamps that follow wall time, never go backwards on one node,
 * and order a change after every change its node had seen when it was made.
 *
 * <p>A timestamp is a string {@code MMMMMMMMMMMMM-CCCCC-NODE}: 13 digits of wall-clock
 * milliseconds since the epoch, 5 digits of logical counter, and the node (device) id.
 * Fixed widths make the string order the timestamp order, with the node id breaking ties, so
 * any two timestamps of different nodes are distinct and totally ordered.
 *
 * <p>Instances are thread-safe.
 */
public final class Hlc {
    private static final int MAX_COUNTER = 99_999;
    /** Where the node id begins: after 13 digits, '-', 5 digits and '-'. */
    private static final int NODE_AT = 20;

    private final String node;
    private final LongSupplier wallMillis;
    private long millis;
    private int counter;

    private Hlc(String node, LongSupplier wallMillis, long millis, int counter) {
        this.node = node;
        this.wallMillis = wallMillis;
        this.millis = millis;
        this.counter = counter;
    }

    /**
     * A clock for {@code node}, starting after {@code last} if given.
     *
     * @param node the node's id; must be a valid id (see {@link Names#isValidId})
     * @param wallMillis the wall clock, in milliseconds since the epoch (inject a fake in tests)
     * @param last the last timestamp this node issued before a restart, or null
     * @throws IllegalArgumentException if node is not a valid id or last is not a valid timestamp
     */
    public static Hlc create(String node, LongSupplier wallMillis, String last) {
        Objects.requireNonNull(wallMillis, "wallMillis");
        if (!Names.isValidId(node)) {
            throw new IllegalArgumentException("HLC node id '" + node + "' is not valid: " + Names.idRule());
        }
        if (last == null) {
            return new Hlc(node, wallMillis, 0, 0);
        }
        requireValid(last);
        return new Hlc(node, wallMillis, millisOf(last), counterOf(last));
    }

    /** A new timestamp for a local event, later than every timestamp this clock issued or observed. */
    public synchronized String now() {
        long wall = wallMillis.getAsLong();
        if (wall > millis) {
            millis = wall;
            counter = 0;
        } else {
            bump();
        }
        return format(millis, counter, node);
    }

    /**
     * Moves this clock past a timestamp received from another node, so that later local
     * timestamps order after it.
     *
     * @throws IllegalArgumentException if {@code remote} is not a valid timestamp
     */
    public synchronized void observe(String remote) {
        requireValid(remote);
        long remoteMillis = millisOf(remote);
        int remoteCounter = counterOf(remote);
        if (remoteMillis > millis || (remoteMillis == millis && remoteCounter > counter)) {
            millis = remoteMillis;
            counter = remoteCounter;
        }
    }

    /** The last timestamp issued or observed, for storing across restarts; null if none. */
    public synchronized String last() {
        return millis == 0 && counter == 0 ? null : format(millis, counter, node);
    }

    /** Whether {@code value} is a timestamp in this class's format, with a valid node id. */
    public static boolean isValid(String value) {
        if (value == null || value.length() < NODE_AT + 1 || value.charAt(13) != '-' || value.charAt(19) != '-') {
            return false;
        }
        for (int i = 0; i < NODE_AT - 1; i++) {
            if (i != 13 && (value.charAt(i) < '0' || value.charAt(i) > '9')) {
                return false;
            }
        }
        return Names.isValidId(value.substring(NODE_AT));
    }

    /** Orders two timestamps: negative if {@code a} is earlier. Nulls come first. */
    public static int compare(String a, String b) {
        if (a == null || b == null) {
            return a == null ? (b == null ? 0 : -1) : 1;
        }
        return a.compareTo(b);
    }

    private void bump() {
        if (counter == MAX_COUNTER) {
            millis++;
            counter = 0;
        } else {
            counter++;
        }
    }

    private static void requireValid(String value) {
        if (!isValid(value)) {
            throw new IllegalArgumentException("not a hybrid logical clock timestamp: '" + value
                    + "' (expected 13 digits of milliseconds, '-', 5 digits of counter, '-', node id)");
        }
    }

    private static long millisOf(String value) {
        return Long.parseLong(value.substring(0, 13));
    }

    private static int counterOf(String value) {
        return Integer.parseInt(value.substring(14, 19));
    }

    private static String format(long millis, int counter, String node) {
        StringBuilder text = new StringBuilder(NODE_AT + node.length());
        padded(text, Long.toString(millis), 13).append('-');
        padded(text, Integer.toString(counter), 5).append('-');
        return text.append(node).toString();
    }

    private static StringBuilder padded(StringBuilder text, String digits, int width) {
        for (int i = digits.length(); i < width; i++) {
            text.append('0');
        }
        return text.append(digits);
    }
}
