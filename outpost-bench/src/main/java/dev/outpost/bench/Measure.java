package dev.outpost.bench;

import java.lang.management.CompilationMXBean;
import java.lang.management.ManagementFactory;

/** What the suites measure with: rates over wall time, the heap in use, a warm JIT. */
final class Measure {
    /** A warm-up round counts as settled when the JIT spent less than this share of it compiling. */
    private static final double SETTLED_COMPILE_SHARE = 0.03;
    private static final long MAX_WARM_UP_NANOS = 30_000_000_000L;

    private Measure() {
    }

    /** One round of warm-up work; {@code round} counts from 0, so each round can use new names. */
    @FunctionalInterface
    interface WarmUpRound {
        void run(int round) throws Exception;
    }

    /**
     * Runs warm-up rounds until the JIT compiler is quiet: a round during which it compiled for
     * less than 3% of the round's time, after at least two rounds, or 30 s at most. Code
     * that is still being compiled runs slower, and a long-running server or app is measured
     * once it no longer is. Without a compilation time from the JVM, runs two rounds.
     */
    static WarmUp warmUp(WarmUpRound work) throws Exception {
        CompilationMXBean jit = ManagementFactory.getCompilationMXBean();
        boolean timed = jit != null && jit.isCompilationTimeMonitoringSupported();
        long deadline = System.nanoTime() + MAX_WARM_UP_NANOS;
        int round = 0;
        while (true) {
            long compiledBefore = timed ? jit.getTotalCompilationTime() : 0;
            long started = System.nanoTime();
            work.run(round++);
            long roundMillis = (System.nanoTime() - started) / 1_000_000;
            long compiledMillis = timed ? jit.getTotalCompilationTime() - compiledBefore : 0;
            boolean settled = !timed || compiledMillis < SETTLED_COMPILE_SHARE * roundMillis;
            if (round >= 2 && (settled || System.nanoTime() > deadline)) {
                return new WarmUp(round, !timed ? "the JVM gives no compilation time, so two rounds"
                        : settled ? "until the JIT compiler was quiet" : "stopped at the time limit with the JIT compiler still busy");
            }
        }
    }

    /** How a warm-up ended: the rounds run, and why it stopped, in words. */
    record WarmUp(int rounds, String ending) {
        /** Says so in words, for a report line. */
        String describe() {
            return rounds + " rounds, " + ending;
        }
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
