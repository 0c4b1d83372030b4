package dev.outpost.bench;

/** What the suites measure with: rates over wall time and the heap in use. */
final class Measure {
    private Measure() {
    }

    /** {@code count} per second since {@code startNanos} ({@link System#nanoTime()}). */
    static double rate(long count, long startNanos) {
        return count / ((System.nanoTime() - startNanos) / 1e9);
    }

    /** Asks for full collections, so that what the heap then holds is what is alive. */
    static void gc() {
        for (int i = 0; i < 3; i++) {
            System.gc();
        }
    }

    static long usedHeap() {
        Runtime runtime = Runtime.getRuntime();
        return runtime.totalMemory() - runtime.freeMemory();
    }
}
