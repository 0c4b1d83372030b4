package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
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
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promise 1, by killing the process: a child JVM writes and reports each write whose call
 * returned; the test kills it with SIGKILL at a random moment, reopens the store and checks
 * that every acknowledged write is there exactly once and the file passes SQLite's integrity
 * check. A thread of the child rewrites and deletes a few records over and over (ops folded
 * into earlier ones, a CREATE cancelled by a DELETE): each must show its last acknowledged
 * state, or the write that was in flight. In DURABLE mode 200 rounds by default ({@code -Doutpost.killRounds=N} for more); in
 * PROCESS_SAFE mode half as many; and from a store file found corrupted (bytes overwritten) or
 * truncated, with a backup beside it, an eighth as many after the open has recovered it.
 */
class DurabilityKillTest {
    private static final int ROUNDS = Integer.getInteger("outpost.killRounds", 200);
    private static final long SEED = Long.getLong("outpost.killSeed", 20261123L);

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedWriteSurvivesAKilledProcessExactlyOnce() throws Exception {
        killLoop(dir.resolve("killed.db"), Durability.DURABLE, ROUNDS, new Random(SEED), new HashSet<>());
    }

    @Test
    void inProcessSafeModeEveryAcknowledgedWriteSurvivesAKilledProcessExactlyOnce() throws Exception {
        killLoop(dir.resolve("process-safe.db"), Durability.PROCESS_SAFE, Math.max(1, ROUNDS / 2), new Random(SEED + 1),
                new HashSet<>());
    }

    @Test
    void aCorruptedStoreIsRestoredFromItsBackupAndThenKeepsEveryAcknowledgedWriteThroughKills() throws Exception {
        Path file = dir.resolve("corrupted.db");
        Set<String> backedUp = storeWithBackup(file);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            byte[] garbage = new byte[8192];
            new Random(7).nextBytes(garbage);
            raf.seek(4096);
            raf.write(garbage);
        }
        recoversFromTheBackupAndSurvivesKills(file, backedUp, new Random(SEED + 2));
    }

    @Test
    void aTruncatedStoreIsRestoredFromItsBackupAndThenKeepsEveryAcknowledgedWriteThroughKills() throws Exception {
        Path file = dir.resolve("truncated.db");
        Set<String> backedUp = storeWithBackup(file);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() / 2);
        }
        recoversFromTheBackupAndSurvivesKills(file, backedUp, new Random(SEED + 3));
    }

    /**
     * The fixture: a store of 60 writes, a backup, then 20 more writes, closed cleanly.
     *
     * @return the ids written before the backup
     */
    private static Set<String> storeWithBackup(Path file) throws Exception {
        Set<String> backedUp = new HashSet<>();
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).build())) {
            for (int i = 0; i < 60; i++) {
                outpost.put("notes", "before-" + i, "{\"i\":" + i + ",\"text\":\"" + "x".repeat(300) + "\"}");
                backedUp.add("before-" + i);
            }
            outpost.backup();
            for (int i = 0; i < 20; i++) {
                outpost.put("notes", "after-" + i, "{\"i\":" + i + "}");
            }
        }
        return backedUp;
    }

    /**
     * Opens the damaged store, which must restore the backup and say what came back and what was
     * lost; then runs the kill loop on it, counting the backup's writes as acknowledged.
     */
    private void recoversFromTheBackupAndSurvivesKills(Path file, Set<String> backedUp, Random random) throws Exception {
        try (Outpost recovered = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).build())) {
            OpenReport report = recovered.openReport();
            assertThat(report.mode()).as(report.message()).isEqualTo(OpenReport.Mode.RECOVERED_FROM_BACKUP);
            assertThat(report.movedAside()).exists();
            assertThat(report.message()).contains("60 records and 60 pending ops came back")
                    .contains("changes written after that backup are lost");
            assertThat(recovered.get("notes", "after-0")).as("written after the backup").isEmpty();
        }
        Map<String, Integer> opsPerRecord = opsPerRecord(file);
        assertThat(opsPerRecord.keySet()).as("the records of the restored store").isEqualTo(backedUp);
        assertThat(integrityCheck(file)).isEqualTo("ok");
        Set<String> acknowledged = new HashSet<>(backedUp);
        killLoop(file, Durability.DURABLE, Math.max(1, ROUNDS / 8), random, acknowledged);
        try (Outpost reopened = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).build())) {
            assertThat(reopened.openReport().mode()).as("after the kills the store opens as it was")
                    .isEqualTo(OpenReport.Mode.OPENED);
            assertThat(reopened.get("notes", "after-0")).as("a lost write does not come back").isEmpty();
        }
    }

    /**
     * {@code rounds} times: starts a child writing to {@code file} in {@code durability} mode,
     * kills it after a random number of acknowledged writes, and checks the store; adds the
     * writes acknowledged to {@code acknowledged}.
     */
    private void killLoop(Path file, Durability durability, int rounds, Random random, Set<String> acknowledged)
            throws Exception {
        int before = acknowledged.size();
        int killedMidWrite = 0;
        Rewrites rewritten = new Rewrites();

        for (int round = 0; round < rounds; round++) {
            Path errors = dir.resolve("child-errors.txt");
            Process child = new ProcessBuilder(childCommand(file, "r" + round + "-", 1 + random.nextInt(4), durability))
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
                } else {
                    rewritten.heard(line);
                }
            }
            child.toHandle().destroyForcibly();
            while ((line = out.readLine()) != null) {
                if (line.startsWith("ack ")) {
                    acknowledged.add(line.substring(4));
                } else {
                    rewritten.heard(line);
                }
            }
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
            killedMidWrite += child.exitValue() != 0 ? 1 : 0;

            Map<String, Integer> opsPerRecord = opsPerRecord(file);
            for (String id : acknowledged) {
                assertThat(opsPerRecord.get(id)).as("acknowledged write %s after round %d (%s)", id, round, durability)
                        .isEqualTo(1);
            }
            assertThat(integrityCheck(file)).as("integrity after round %d (%s)", round, durability).isEqualTo("ok");
            try (Outpost reopened = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).build())) {
                assertThat(reopened.openReport().mode()).as("open after round %d (%s)", round, durability)
                        .isEqualTo(OpenReport.Mode.OPENED);
                assertThat(reopened.pendingCount()).isGreaterThanOrEqualTo(acknowledged.size());
                rewritten.check(reopened, "after round " + round + " (" + durability + ")");
            }
        }
        assertThat(killedMidWrite).isEqualTo(rounds);
        assertThat(acknowledged.size() - before).as("writes acknowledged in the %d rounds", rounds).isGreaterThan(rounds);
        assertThat(rewritten.acknowledged).as("rewrites and deletes acknowledged in the %d rounds", rounds).isPositive();
    }

    /**
     * What the child's rewriting thread said of each of its records: the value (or
     * {@code deleted}) of the last write whose call returned, and of the write it had begun
     * after that one, if any. After a kill the record must show one of the two: the
     * acknowledged write, or the one in flight if it landed ({@code deleted} also stands for a
     * record never written).
     */
    private static final class Rewrites {
        private final Map<String, String> last = new HashMap<>();
        private final Map<String, String> inFlight = new HashMap<>();
        private int acknowledged;

        void heard(String line) {
            String[] words = line.split(" ");
            if (words.length != 3) {
                return;
            }
            if (words[0].equals("try")) {
                inFlight.put(words[1], words[2]);
            } else if (words[0].equals("set")) {
                last.put(words[1], words[2]);
                inFlight.remove(words[1]);
                acknowledged++;
            }
        }

        void check(Outpost store, String when) throws OutpostException {
            Set<String> ids = new HashSet<>(last.keySet());
            ids.addAll(inFlight.keySet());
            for (String id : ids) {
                Optional<LocalRecord> record = store.get("notes", id);
                String shown = record.map(r -> r.data().get("v").asText()).orElse("deleted");
                List<String> allowed = new ArrayList<>();
                allowed.add(last.getOrDefault(id, "deleted"));
                if (inFlight.containsKey(id)) {
                    allowed.add(inFlight.get(id));
                }
                assertThat(shown).as("rewritten record %s %s", id, when).isIn(allowed);
                // What the kill left is what every later check must find: no later child writes this record.
                last.put(id, shown);
                inFlight.remove(id);
            }
        }
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
    static List<String> childCommand(Path file, String prefix, int threads, Durability durability) {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> entries = new ArrayList<>();
        for (String property : new String[] {"jdk.module.path", "java.class.path"}) {
            String value = System.getProperty(property);
            if (value != null && !value.isEmpty()) {
                entries.add(value);
            }
        }
        return List.of(java, "-XX:TieredStopAtLevel=1", "-Xshare:auto", "-cp", String.join(File.pathSeparator, entries),
                KillLoopWriter.class.getName(), file.toString(), prefix, String.valueOf(threads), durability.name());
    }
}
