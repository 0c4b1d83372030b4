package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promise 1, by killing the process: a child JVM writes and reports each write whose call
 * returned; the test kills it with SIGKILL at a random moment, reopens the store and checks
 * that every acknowledged write is there exactly once and the file passes SQLite's integrity
 * check. 200 rounds by default; {@code -Doutpost.killRounds=N} for more.
 */
class DurabilityKillTest {
    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedWriteSurvivesAKilledProcessExactlyOnce() throws Exception {
        int rounds = Integer.getInteger("outpost.killRounds", 200);
        Random random = new Random(Long.getLong("outpost.killSeed", 20261123L));
        Path file = dir.resolve("killed.db");
        Set<String> acknowledged = new HashSet<>();
        int killedMidWrite = 0;

        for (int round = 0; round < rounds; round++) {
            Path errors = dir.resolve("child-errors.txt");
            Process child = new ProcessBuilder(childCommand(file, "r" + round + "-", 1 + random.nextInt(4)))
                    .redirectError(errors.toFile())
                    .start();
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String first = out.readLine();
            if (!"ready".equals(first)) {
                child.waitFor(30, TimeUnit.SECONDS);
                throw new AssertionError("the child of round " + round + " did not start (printed " + first + ", exit "
                        + child.exitValue() + "):\n" + Files.readString(errors));
            }
            int killAfter = random.nextInt(40);
            String line;
            int seen = 0;
            while (seen < killAfter && (line = out.readLine()) != null) {
                if (line.startsWith("ack ")) {
                    acknowledged.add(line.substring(4));
                    seen++;
                }
            }
            child.toHandle().destroyForcibly();
            while ((line = out.readLine()) != null) {
                if (line.startsWith("ack ")) {
                    acknowledged.add(line.substring(4));
                }
            }
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            killedMidWrite += child.exitValue() != 0 ? 1 : 0;

            Map<String, Integer> opsPerRecord = opsPerRecord(file);
            for (String id : acknowledged) {
                assertThat(opsPerRecord.get(id)).as("acknowledged write %s after round %d", id, round).isEqualTo(1);
            }
            assertThat(integrityCheck(file)).as("integrity after round %d", round).isEqualTo("ok");
            try (Outpost reopened = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).build())) {
                assertThat(reopened.pendingCount()).isGreaterThanOrEqualTo(acknowledged.size());
            }
        }
        assertThat(killedMidWrite).isEqualTo(rounds);
        assertThat(acknowledged).hasSizeGreaterThan(rounds);
    }

    private static Map<String, Integer> opsPerRecord(Path file) throws Exception {
        Map<String, Integer> counts = new HashMap<>();
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("SELECT record_id, COUNT(*) FROM ops GROUP BY record_id")) {
            while (rows.next()) {
                counts.put(rows.getString(1), rows.getInt(2));
            }
        }
        return counts;
    }

    private static String integrityCheck(Path file) throws Exception {
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file);
                Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("PRAGMA integrity_check")) {
            rows.next();
            return rows.getString(1);
        }
    }

    /** The child JVM: this test JVM's java, with the module path and class path as one class path. */
    private static List<String> childCommand(Path file, String prefix, int threads) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> entries = new ArrayList<>();
        for (String property : new String[] {"jdk.module.path", "java.class.path"}) {
            String value = System.getProperty(property);
            if (value != null && !value.isEmpty()) {
                entries.add(value);
            }
        }
        return List.of(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", String.join(File.pathSeparator, entries),
                KillLoopWriter.class.getName(), file.toString(), prefix, String.valueOf(threads));
    }
}
