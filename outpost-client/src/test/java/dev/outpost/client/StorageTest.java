package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.SampleRecords;
import dev.outpost.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Compression of large payloads, the storage quota, the retention purge and the durable
 * write path, over real files.
 */
class StorageTest {
    @TempDir
    Path dir;

    private static ObjectNode callLog(int n) {
        return SampleRecords.callLog(n);
    }

    @Test
    void payloadsOverOneKilobyteAreStoredCompressedAndReachTheServerIntact() throws Exception {
        ObjectNode record = callLog(7);
        int jsonSize = Wire.write(record).getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        assertThat(jsonSize).isGreaterThan(4000);
        Path file = dir.resolve("compressed.db");
        try (TestServer server = TestServer.start();
                Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).build())) {
            outpost.put("calls", "c7", record);
            outpost.put("calls", "small", "{\"a\":1}");

            try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file);
                    Statement statement = db.createStatement();
                    ResultSet rows = statement.executeQuery(
                            "SELECT record_id, codec, length(data), size FROM ops ORDER BY record_id")) {
                rows.next();
                assertThat(rows.getString(1)).isEqualTo("c7");
                assertThat(rows.getInt(2)).as("codec of the large payload").isEqualTo(1);
                assertThat(rows.getInt(4)).isEqualTo(jsonSize);
                assertThat(rows.getInt(3)).as("stored bytes").isLessThan(jsonSize * 4 / 10);
                rows.next();
                assertThat(rows.getInt(2)).as("codec of the small payload").isZero();
            }

            assertThat(outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(server.records("ann").get("calls/c7")).isEqualTo(record);
        }
    }

    @Test
    void aWriteThatWouldPassTheQuotaFailsAndChangesNothing() throws Exception {
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("quota.db"))
                .storageQuota(256 * 1024).build())) {
            OutpostException refused = null;
            int written = 0;
            for (int n = 0; n < 1000 && refused == null; n++) {
                try {
                    outpost.put("calls", "c" + n, callLog(n));
                    written++;
                } catch (OutpostException e) {
                    refused = e;
                }
            }
            assertThat(refused).as("the quota was reached").isNotNull();
            assertThat(refused.category()).isEqualTo(OutpostException.Category.QUOTA);
            assertThat(refused.code()).isEqualTo("STORAGE_QUOTA_EXCEEDED");
            assertThat(refused.getMessage()).contains("calls/c" + written).contains("262144");
            assertThat(outpost.get("calls", "c" + written)).isEmpty();
            assertThat(outpost.pendingCount()).isEqualTo(written);
            for (int n = 0; n < written; n++) {
                assertThat(outpost.get("calls", "c" + n)).as("record %d kept", n).isPresent();
            }

            assertThat(outpost.delete("calls", "c0")).as("a delete does not grow the store").isTrue();
            WriteBatch batch = outpost.newBatch();
            for (int n = 2000; n < 2050; n++) {
                batch.put("calls", "c" + n, callLog(n));
            }
            assertThatThrownBy(batch::commit).isInstanceOfSatisfying(OutpostException.class,
                    e -> assertThat(e.category()).isEqualTo(OutpostException.Category.QUOTA));
            assertThat(outpost.get("calls", "c2000")).isEmpty();
        }
    }

    @Test
    void finishedOpsAndDeadLettersArePurgedAfterTheRetentionPeriodAndPendingOpsAreNot() throws Exception {
        FakeClock clock = new FakeClock();
        Path file = dir.resolve("retention.db");
        try (TestServer server = TestServer.start()) {
            OutpostConfig config = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).serverUrl(server.url()).clock(clock)
                    .tokenProvider(TokenProvider.fixed(server.token("ann"))).build();
            try (Outpost outpost = Outpost.open(config)) {
                outpost.put("notes", "synced", "{\"a\":1}");
                outpost.sync();
                outpost.put("notes", "waiting", "{\"b\":2}");
                assertThat(outpost.queueStats().applied()).isEqualTo(1);
            }
            clock.advance(Duration.ofDays(29));
            try (Outpost outpost = Outpost.open(config)) {
                assertThat(outpost.queueStats().applied()).as("kept for 30 days").isEqualTo(1);
            }
            clock.advance(Duration.ofDays(2));
            try (Outpost outpost = Outpost.open(config)) {
                QueueStats stats = outpost.queueStats();
                assertThat(stats.applied()).as("purged after 30 days").isZero();
                assertThat(stats.pending()).as("pending ops are never purged").isEqualTo(1);
                assertThat(outpost.get("notes", "synced")).as("the record itself stays").isPresent();
            }
        }
    }

    /** A record the server refuses as too large (its limit is 256 KiB), so its op dies at once. */
    private static String oversized() {
        return "{\"blob\":\"" + "x".repeat(300 * 1024) + "\"}";
    }

    @Test
    void deadLettersOlderThanTheRetentionPeriodArePurgedAndYoungerOnesStay() throws Exception {
        FakeClock clock = new FakeClock();
        try (TestServer server = TestServer.start()) {
            OutpostConfig config = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("dead.db"))
                    .serverUrl(server.url()).clock(clock).tokenProvider(TokenProvider.fixed(server.token("ann"))).build();
            try (Outpost outpost = Outpost.open(config)) {
                outpost.put("notes", "old", oversized());
                outpost.sync();
                clock.advance(Duration.ofDays(20));
                outpost.put("notes", "young", oversized());
                outpost.sync();
                assertThat(outpost.deadLetters()).extracting(DeadLetter::recordId).containsExactly("old", "young");

                clock.advance(Duration.ofDays(9));
                outpost.sync();
                assertThat(outpost.deadLetters()).as("29 and 9 days old").extracting(DeadLetter::recordId)
                        .containsExactly("old", "young");

                clock.advance(Duration.ofDays(2));
                outpost.put("notes", "waiting", "{\"a\":1}");
                assertThat(outpost.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
                assertThat(outpost.deadLetters()).as("after a sync, 31 and 11 days old").extracting(DeadLetter::recordId)
                        .containsExactly("young");
                assertThat(outpost.queueStats().dead()).isEqualTo(1);
                assertThat(outpost.get("notes", "old")).as("the purged dead create no longer shows").isEmpty();
                assertThat(outpost.get("notes", "young")).isPresent();
            }
            clock.advance(Duration.ofDays(20));
            try (Outpost outpost = Outpost.open(config)) {
                assertThat(outpost.deadLetters()).as("at open, 31 days old").isEmpty();
                assertThat(outpost.queueStats().dead()).isZero();
                assertThat(outpost.get("notes", "young")).isEmpty();
                assertThat(outpost.get("notes", "waiting")).isPresent();
            }
        }
    }

    @Test
    void aRetentionOfSevenDaysPurgesFinishedOpsAndDeadLettersAfterSevenDays() throws Exception {
        FakeClock clock = new FakeClock();
        try (TestServer server = TestServer.start()) {
            OutpostConfig config = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("week.db"))
                    .serverUrl(server.url()).clock(clock).tokenProvider(TokenProvider.fixed(server.token("ann")))
                    .retention(Duration.ofDays(7)).build();
            assertThat(config.retention()).isEqualTo(Duration.ofDays(7));
            try (Outpost outpost = Outpost.open(config)) {
                outpost.put("notes", "synced", "{\"a\":1}");
                outpost.put("notes", "rejected", oversized());
                outpost.sync();
                QueueStats stats = outpost.queueStats();
                assertThat(stats.applied()).isEqualTo(1);
                assertThat(stats.dead()).isEqualTo(1);
            }
            clock.advance(Duration.ofDays(6).plusHours(23));
            try (Outpost outpost = Outpost.open(config)) {
                QueueStats stats = outpost.queueStats();
                assertThat(stats.applied() + stats.dead()).as("kept for 7 days").isEqualTo(2);
            }
            clock.advance(Duration.ofHours(2));
            try (Outpost outpost = Outpost.open(config)) {
                QueueStats stats = outpost.queueStats();
                assertThat(stats.applied()).as("applied op purged after 7 days").isZero();
                assertThat(stats.dead()).as("dead letter purged after 7 days").isZero();
                assertThat(outpost.get("notes", "synced")).isPresent();
            }
        }
    }

    @Test
    void aDurableStoreReachedThroughASymbolicLinkForcesTheLogBesideTheRealFile() throws Exception {
        Path real = Files.createDirectories(dir.resolve("real"));
        Path link = Files.createSymbolicLink(dir.resolve("linked.db"), real.resolve("store.db"));
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(link)
                .durability(Durability.DURABLE).build())) {
            for (int i = 0; i < 20; i++) {
                outpost.put("notes", "n" + i, "{\"i\":" + i + "}");
            }
            assertThat(Files.exists(real.resolve("store.db-wal"))).isTrue();
            assertThat(Files.exists(dir.resolve("linked.db-wal"))).as("no log beside the link").isFalse();
        }
        try (Outpost reopened = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(link).build())) {
            assertThat(reopened.list("notes")).hasSize(20);
            assertThat(reopened.pendingCount()).isEqualTo(20);
        }
    }
}
