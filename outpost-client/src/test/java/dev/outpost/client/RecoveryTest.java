package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.io.RandomAccessFile;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Backups, the integrity check on open, recovery of damaged stores and the memory-only fallback. */
class RecoveryTest {
    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();

    private OutpostConfig.Builder config(Path file) {
        return OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).clock(clock);
    }

    private Path storeWithBackup(Path file) throws Exception {
        try (Outpost outpost = Outpost.open(config(file).build())) {
            for (int i = 0; i < 50; i++) {
                outpost.put("notes", "before-" + i, "{\"i\":" + i + ",\"text\":\"" + "x".repeat(200) + "\"}");
            }
            outpost.backup();
            clock.advance(Duration.ofMinutes(5));
            outpost.put("notes", "after", "{\"written\":\"after the backup\"}");
        }
        return file;
    }

    private static List<Path> backups(Path directory) throws Exception {
        try (Stream<Path> files = Files.list(directory)) {
            return files.filter(path -> path.getFileName().toString().endsWith(".db")).sorted().toList();
        }
    }

    @Test
    void aBackupIsACompleteStoreThatOpens() throws Exception {
        Path file = dir.resolve("a.db");
        BackupInfo info;
        try (Outpost outpost = Outpost.open(config(file).build())) {
            outpost.put("notes", "n1", "{\"a\":1}");
            info = outpost.backup();
        }
        assertThat(info.file()).exists().hasParent(dir.resolve("a.db.backups"));
        assertThat(info.takenAt()).isEqualTo(clock.instant());
        assertThat(info.bytes()).isEqualTo(Files.size(info.file()));
        Path copy = dir.resolve("copy.db");
        Files.copy(info.file(), copy);
        try (Outpost restored = Outpost.open(config(copy).build())) {
            assertThat(restored.get("notes", "n1")).isPresent();
            assertThat(restored.pendingCount()).isEqualTo(1);
            assertThat(restored.openReport().mode()).isEqualTo(OpenReport.Mode.OPENED);
        }
    }

    @Test
    void onlyTheNewestBackupsAreKept() throws Exception {
        try (Outpost outpost = Outpost.open(config(dir.resolve("b.db")).backupsKept(2).build())) {
            for (int i = 0; i < 4; i++) {
                outpost.put("notes", "n" + i, "{}");
                outpost.backup();
                clock.advance(Duration.ofSeconds(1));
            }
        }
        assertThat(backups(dir.resolve("b.db.backups"))).hasSize(2);
    }

    @Test
    void aBackupTakenWhileAnotherThreadWritesHoldsAWholePrefixOfThoseWrites() throws Exception {
        Path file = dir.resolve("busy.db");
        List<BackupInfo> taken = new ArrayList<>();
        AtomicReference<Exception> failed = new AtomicReference<>();
        try (Outpost outpost = Outpost.open(config(file).durability(Durability.PROCESS_SAFE).backupsKept(3).build())) {
            for (int i = 0; i < 500; i++) {
                outpost.put("notes", "seed-" + i, "{\"text\":\"" + "x".repeat(500) + "\"}");
            }
            AtomicBoolean stop = new AtomicBoolean();
            AtomicInteger written = new AtomicInteger();
            Thread writer = new Thread(() -> {
                try {
                    while (!stop.get()) {
                        int n = written.get();
                        outpost.put("log", String.format("w%06d", n), "{\"n\":" + n + "}");
                        written.incrementAndGet();
                    }
                } catch (OutpostException | RuntimeException e) {
                    failed.set(e);
                }
            });
            writer.start();
            for (int i = 0; i < 3; i++) {
                // Each backup starts once the writer has written since the last one.
                for (int seen = written.get(); written.get() == seen && failed.get() == null; ) {
                    Thread.onSpinWait();
                }
                taken.add(outpost.backup());
                clock.advance(Duration.ofSeconds(1));
            }
            stop.set(true);
            writer.join();
        }
        assertThat(failed.get()).isNull();
        for (BackupInfo info : taken) {
            try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + info.file());
                    Statement statement = db.createStatement()) {
                try (ResultSet check = statement.executeQuery("PRAGMA integrity_check")) {
                    check.next();
                    assertThat(check.getString(1)).isEqualTo("ok");
                }
                List<String> ids = new ArrayList<>();
                try (ResultSet rows = statement.executeQuery("SELECT id FROM records WHERE collection = 'log' ORDER BY id")) {
                    while (rows.next()) {
                        ids.add(rows.getString(1));
                    }
                }
                assertThat(ids).as("the writes in " + info.file().getFileName())
                        .isEqualTo(IntStream.range(0, ids.size()).mapToObj(n -> String.format("w%06d", n)).toList());
                try (ResultSet rows = statement.executeQuery("SELECT count(*) FROM ops WHERE collection = 'log'")) {
                    rows.next();
                    assertThat(rows.getInt(1)).as("an op for each record").isEqualTo(ids.size());
                }
                try (ResultSet rows = statement.executeQuery("SELECT count(*) FROM records WHERE collection = 'notes'")) {
                    rows.next();
                    assertThat(rows.getInt(1)).isEqualTo(500);
                }
            }
        }
    }

    @Test
    void aSyncTakesABackupWhenTheLastIsOlderThanTheInterval() throws Exception {
        try (TestServer server = TestServer.start();
                Outpost outpost = Outpost.open(config(dir.resolve("c.db")).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).backupInterval(Duration.ofHours(1)).build())) {
            Path backupDir = dir.resolve("c.db.backups");
            outpost.put("notes", "n1", "{}");
            outpost.sync();
            // The backup runs after the sync has returned; the next sync begins once it is done.
            outpost.sync();
            assertThat(backups(backupDir)).hasSize(1);
            clock.advance(Duration.ofMinutes(30));
            outpost.sync();
            outpost.sync();
            assertThat(backups(backupDir)).as("not due yet").hasSize(1);
            clock.advance(Duration.ofMinutes(31));
            outpost.sync();
        }
        assertThat(backups(dir.resolve("c.db.backups"))).as("closing waits for the backup a sync started").hasSize(2);
    }

    @Test
    void backupsAreTakenOnTheirScheduleByTheClockWithoutAnySync() throws Exception {
        Path file = dir.resolve("scheduled.db");
        Path backupDir = dir.resolve("scheduled.db.backups");
        try (Outpost outpost = Outpost.open(config(file).backupInterval(Duration.ofHours(6)).backupsKept(10).build())) {
            outpost.put("notes", "n1", "{}");
            BackupInfo first = outpost.checkBackupSchedule();
            assertThat(first).as("a store with no backup gets one at the first check").isNotNull();
            assertThat(first.takenAt()).isEqualTo(clock.instant());

            clock.advance(Duration.ofHours(6).minusMinutes(1));
            assertThat(outpost.checkBackupSchedule()).as("5 h 59 min after the last").isNull();
            clock.advance(Duration.ofMinutes(1));
            outpost.put("notes", "n2", "{}");
            BackupInfo second = outpost.checkBackupSchedule();
            assertThat(second).as("6 h after the last").isNotNull();
            assertThat(second.takenAt()).isEqualTo(clock.instant());

            clock.advance(Duration.ofHours(3));
            outpost.backup();
            clock.advance(Duration.ofHours(4));
            assertThat(outpost.checkBackupSchedule()).as("4 h after a backup on demand").isNull();
            clock.advance(Duration.ofHours(2));
            assertThat(outpost.checkBackupSchedule()).as("6 h after a backup on demand").isNotNull();
            assertThat(outpost.lastSync()).as("no sync ran").isEmpty();
        }
        assertThat(backups(backupDir)).hasSize(4);
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + backups(backupDir).get(1));
                Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("SELECT count(*) FROM records")) {
            rows.next();
            assertThat(rows.getInt(1)).as("records in the second scheduled backup").isEqualTo(2);
        }
    }

    @Test
    void aStoreInMemoryHasNoScheduledBackups() throws Exception {
        Path notADirectory = dir.resolve("plain-file");
        Files.writeString(notADirectory, "a file where a directory should be");
        try (Outpost outpost = Outpost.open(config(notADirectory.resolve("store.db")).build())) {
            assertThat(outpost.openReport().mode()).isEqualTo(OpenReport.Mode.MEMORY_ONLY);
            clock.advance(Duration.ofDays(2));
            assertThat(outpost.checkBackupSchedule()).isNull();
        }
    }

    @Test
    void aCorruptedStoreIsMovedAsideAndRestoredFromTheLastBackup() throws Exception {
        Path file = storeWithBackup(dir.resolve("corrupt.db"));
        byte[] intact = Files.readAllBytes(file);
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            byte[] garbage = new byte[4096];
            new Random(7).nextBytes(garbage);
            raf.seek(4096);
            raf.write(garbage);
        }
        byte[] damaged = Files.readAllBytes(file);
        assertThat(damaged).isNotEqualTo(intact);

        try (Outpost outpost = Outpost.open(config(file).build())) {
            OpenReport report = outpost.openReport();
            assertThat(report.mode()).isEqualTo(OpenReport.Mode.RECOVERED_FROM_BACKUP);
            assertThat(report.movedAside()).exists();
            assertThat(Files.readAllBytes(report.movedAside())).as("the damaged file is kept as it was").isEqualTo(damaged);
            assertThat(report.backupTakenAt()).isEqualTo(clock.instant().minus(Duration.ofMinutes(5)));
            assertThat(report.message()).contains("50 records and 50 pending ops came back").contains("after that backup are lost");
            for (int i = 0; i < 50; i++) {
                assertThat(outpost.get("notes", "before-" + i)).as("written before the backup").isPresent();
            }
            assertThat(outpost.get("notes", "after")).as("written after the backup").isEmpty();
            outpost.put("notes", "new", "{}");
            assertThat(outpost.pendingCount()).isEqualTo(51);
        }
    }

    private static void damage(Path file) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            byte[] garbage = new byte[4096];
            new Random(7).nextBytes(garbage);
            raf.seek(4096);
            raf.write(garbage);
        }
    }

    private OutpostConfig.Builder synced(Path file, TestServer server) {
        return config(file).serverUrl(server.url()).tokenProvider(TokenProvider.fixed(server.token("ann")));
    }

    /**
     * A backup taken while an update of n1 waited; the server then applied that update, and the
     * store was restored from the backup, where the update still waits. A later edit of n1 must
     * not be folded into it (the server would answer the old op id DUPLICATE and drop the edit).
     */
    @Test
    void afterARestoreAnEditOfARecordWhoseOpTheServerAppliedSinceTheBackupReachesTheServer() throws Exception {
        Path file = dir.resolve("edited.db");
        try (TestServer server = TestServer.start()) {
            try (Outpost outpost = Outpost.open(synced(file, server).build())) {
                outpost.put("notes", "n1", "{\"title\":\"first\"}");
                outpost.sync();
                outpost.update("notes", "n1", "{\"title\":\"second\"}");
                outpost.update("notes", "n1", "{\"tag\":\"t\"}");
                outpost.backup();
                assertThat(outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
            }
            damage(file);
            try (Outpost outpost = Outpost.open(synced(file, server).build())) {
                assertThat(outpost.openReport().mode()).isEqualTo(OpenReport.Mode.RECOVERED_FROM_BACKUP);
                assertThat(outpost.pendingCount()).as("the updates, applied since, wait again").isPositive();
                outpost.update("notes", "n1", "{\"body\":\"written after the restore\"}");
                for (int round = 0; round < 5 && outpost.pendingCount() > 0; round++) {
                    outpost.sync();
                }
                assertThat(outpost.pendingCount()).isZero();
                assertThat(server.records("ann").get("notes/n1")).isEqualTo(
                        Wire.object("{\"title\":\"second\",\"tag\":\"t\",\"body\":\"written after the restore\"}"));
                assertThat(outpost.get("notes", "n1").orElseThrow().data().get("body").asText())
                        .isEqualTo("written after the restore");
                assertThat(outpost.queueStats().dead() + outpost.queueStats().conflicts()).isZero();
            }
        }
    }

    /**
     * A backup taken while the create of c1 waited; the server then applied it, and the store
     * was restored from the backup. A delete of c1 must not cancel the create (the server holds
     * the record): it must reach the server.
     */
    @Test
    void afterARestoreADeleteOfARecordWhoseCreateTheServerAppliedSinceTheBackupReachesTheServer() throws Exception {
        Path file = dir.resolve("deleted.db");
        try (TestServer server = TestServer.start()) {
            try (Outpost outpost = Outpost.open(synced(file, server).durability(Durability.PROCESS_SAFE).build())) {
                outpost.put("notes", "keep", "{\"a\":1}");
                outpost.put("notes", "c1", "{\"a\":1}");
                outpost.backup();
                assertThat(outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
            }
            assertThat(server.records("ann")).containsOnlyKeys("notes/keep", "notes/c1");
            damage(file);
            try (Outpost outpost = Outpost.open(synced(file, server).durability(Durability.PROCESS_SAFE).build())) {
                assertThat(outpost.openReport().mode()).isEqualTo(OpenReport.Mode.RECOVERED_FROM_BACKUP);
                assertThat(outpost.delete("notes", "c1")).isTrue();
                assertThat(outpost.ops(OpQuery.builder().record("notes", "c1").states(OpState.PENDING).build()))
                        .extracting(OpInfo::type).containsExactly(OpType.CREATE, OpType.DELETE);
                for (int round = 0; round < 5 && outpost.pendingCount() > 0; round++) {
                    outpost.sync();
                }
                assertThat(outpost.pendingCount()).isZero();
                assertThat(server.records("ann")).containsOnlyKeys("notes/keep");
                assertThat(outpost.get("notes", "c1")).isEmpty();
            }
        }
    }

    @Test
    void aTruncatedStoreIsDetectedAndRestoredFromTheLastBackup() throws Exception {
        Path file = storeWithBackup(dir.resolve("truncated.db"));
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.setLength(raf.length() / 2);
        }
        try (Outpost outpost = Outpost.open(config(file).build())) {
            assertThat(outpost.openReport().mode()).isEqualTo(OpenReport.Mode.RECOVERED_FROM_BACKUP);
            assertThat(outpost.get("notes", "before-49")).isPresent();
        }
    }

    @Test
    void aDamagedStoreWithoutABackupIsMovedAsideIntactAndANewStoreBegun() throws Exception {
        Path file = dir.resolve("garbage.db");
        byte[] garbage = new byte[8192];
        new Random(1).nextBytes(garbage);
        Files.write(file, garbage);

        try (Outpost outpost = Outpost.open(config(file).build())) {
            OpenReport report = outpost.openReport();
            assertThat(report.mode()).isEqualTo(OpenReport.Mode.STARTED_EMPTY);
            assertThat(Files.readAllBytes(report.movedAside())).isEqualTo(garbage);
            assertThat(report.message()).contains("no usable backup").contains(file.toString());
            outpost.put("notes", "n1", "{}");
            assertThat(outpost.get("notes", "n1")).isPresent();
        }
    }

    @Test
    void withNoWritableStorageTheStoreLivesInMemoryAndSaysSo() throws Exception {
        Path notADirectory = dir.resolve("plain-file");
        Files.writeString(notADirectory, "a file where a directory should be");
        Path file = notADirectory.resolve("store.db");

        try (Outpost outpost = Outpost.open(config(file).build())) {
            assertThat(outpost.openReport().mode()).isEqualTo(OpenReport.Mode.MEMORY_ONLY);
            assertThat(outpost.openReport().message()).contains("memory only");
            outpost.put("notes", "n1", "{\"kept\":\"in memory\"}");
            assertThat(outpost.get("notes", "n1")).isPresent();
            assertThat(outpost.statusLine()).startsWith("Storage unavailable: 1 change waiting");
            assertThatThrownBy(outpost::backup).isInstanceOfSatisfying(OutpostException.class,
                    e -> assertThat(e.code()).isEqualTo("MEMORY_ONLY"));
        }
        assertThatThrownBy(() -> Outpost.open(config(file).memoryOnlyFallback(false).build()))
                .isInstanceOfSatisfying(OutpostException.class,
                        e -> assertThat(e.category()).isEqualTo(OutpostException.Category.STORAGE));
    }

    @Test
    void storageSettingsRefuseBadValues() {
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).backupsKept(0)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("0");
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).backupInterval(Duration.ofSeconds(5)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT5S");
        assertThatThrownBy(() -> OutpostConfig.builder().backupInterval(Duration.ofDays(366)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessage("backupInterval must be from 1 minute to 365 days, got PT8784H");
        assertThatThrownBy(() -> OutpostConfig.builder().backupInterval(Duration.ofSeconds(Long.MAX_VALUE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("backupInterval");
        assertThatThrownBy(() -> OutpostConfig.builder().backupInterval(Duration.ofHours(-1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT-1H");
        assertThatThrownBy(() -> OutpostConfig.builder().backupInterval(null))
                .isInstanceOf(NullPointerException.class).hasMessageContaining("backupInterval");
        assertThat(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("d.db")).build().backupInterval())
                .as("the default").isEqualTo(Duration.ofHours(24));
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).retention(Duration.ofMinutes(5)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storageQuota(1000)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1000");
    }
}
