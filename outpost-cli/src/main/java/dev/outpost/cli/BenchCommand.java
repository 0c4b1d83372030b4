package dev.outpost.cli;

import dev.outpost.bench.BenchResult;
import dev.outpost.bench.QueueBench;
import dev.outpost.protocol.Wire;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code outpost bench}: the benchmark suites, with peers side by side in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Run benchmark suites, Outpost and the peers a user would pick instead side by side.",
                "Suites: queue (the client's durable op queue against Square Tape, SQLite and raw fsync)."})
final class BenchCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Parameters(arity = "0..1", defaultValue = "queue", paramLabel = "SUITE",
            description = "queue or all (default: ${DEFAULT-VALUE})")
    String suite;

    @Option(names = "--json", description = "print an array of {name, system, value, unit} objects")
    boolean json;

    @Option(names = "--ops", defaultValue = "2000", description = "operations per single-commit measurement (default: ${DEFAULT-VALUE})")
    int ops;

    @Option(names = "--pending", defaultValue = "1000000",
            description = "queued ops for the open and drain measurements (default: ${DEFAULT-VALUE})")
    int pending;

    @Option(names = "--dir", description = "where to put the benchmark's files (default: a temporary directory, deleted after)")
    Path dir;

    @Override
    public Integer call() throws Exception {
        if (!suite.equals("queue") && !suite.equals("all")) {
            throw new CommandLine.ParameterException(spec.commandLine(), "unknown suite '" + suite + "'; the suites are: queue, all");
        }
        if (ops < 100 || ops > 1_000_000) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--ops must be from 100 to 1000000 (got " + ops + ")");
        }
        if (pending < 1000 || pending > 10_000_000) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--pending must be from 1000 to 10000000 (got " + pending + ")");
        }
        PrintStream out = System.out;
        PrintStream progress = json ? System.err : System.out;
        Path work = dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("outpost-bench-");
        List<BenchResult> results = new ArrayList<>();
        try {
            progress.println("queue suite (" + Runtime.getRuntime().availableProcessors() + " cores, Java "
                    + Runtime.version() + ", files in " + work + ")");
            results.addAll(new QueueBench(work, ops, pending, progress).run());
        } finally {
            if (dir == null) {
                QueueBench.deleteTree(work);
            }
        }
        if (json) {
            out.println(Wire.write(results));
        } else {
            out.println();
            for (BenchResult result : results) {
                out.printf(Locale.ROOT, "%-62s %-8s %14.1f %s%n", result.name(), result.system(), result.value(), result.unit());
            }
        }
        return 0;
    }
}
