package dev.outpost.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The whole machine's CPU time from Linux's {@code /proc/stat}, so a benchmark can say how
 * busy the cores were, other processes (a database server) included.
 */
final class MachineCpu {
    private MachineCpu() {
    }

    /** {busy, total} clock ticks of all cores so far, or null where {@code /proc/stat} cannot be read. */
    static long[] ticks() {
        try {
            String line = Files.readAllLines(Path.of("/proc/stat")).get(0);
            if (!line.startsWith("cpu ")) {
                return null;
            }
            String[] fields = line.substring(4).trim().split("\\s+");
            long total = 0;
            long idle = 0;
            // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
            for (int i = 0; i < Math.min(8, fields.length); i++) {
                long value = Long.parseLong(fields[i]);
                total += value;
                if (i == 3 || i == 4) {
                    idle += value;
                }
            }
            return new long[] {total - idle, total};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** How many cores were busy on average between two readings of {@link #ticks()}; -1 if unknown. */
    static double busyCores(long[] before, long[] after) {
        if (before == null || after == null || after[1] <= before[1]) {
            return -1;
        }
        return Runtime.getRuntime().availableProcessors() * (double) (after[0] - before[0]) / (after[1] - before[1]);
    }
}
