package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.testing.SampleRecords;
import dev.outpost.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quota counts the store's write-ahead log, and a pull that passes it is told. */
class QuotaFootprintTest {
    private static final long QUOTA = 256 * 1024;

    @TempDir
    Path dir;

    private static long footprint(Path file) throws Exception {
        Path wal = file.resolveSibling(file.getFileName() + "-wal");
        return Files.size(file) + (Files.exists(wal) ? Files.size(wal) : 0);
    }

    @Test
    void theStoreAndItsLogTogetherStayNearTheQuotaWhenWritesFillIt() throws Exception {
        Path file = dir.resolve("small.db");
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file)
                .storageQuota(QUOTA).build())) {
            long largest = 0;
            boolean refused = false;
            for (int n = 0; n < 2000 && !refused; n++) {
                try {
                    outpost.put("calls", "c" + n, SampleRecords.callLog(n));
                } catch (OutpostException e) {
                    assertThat(e.category()).isEqualTo(OutpostException.Category.QUOTA);
                    refused = true;
                }
                largest = Math.max(largest, footprint(file));
            }
            assertThat(refused).as("the quota was reached").isTrue();
            // The log alone used to grow to 1,000 pages (4 MB) before its first checkpoint.
            assertThat(largest).as("file and log on disk").isLessThanOrEqualTo(QUOTA + QUOTA / 4);
        }
    }

    @Test
    void aPullThatGrowsTheStorePastItsQuotaIsStoredAndToldToListeners() throws Exception {
        List<OutpostException> heard = new ArrayList<>();
        OutpostListener listener = new OutpostListener() {
            @Override
            public void quotaExceeded(OutpostException error) {
                heard.add(error);
            }
        };
        try (TestServer server = TestServer.start()) {
            try (Outpost writer = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                    .storeFile(dir.resolve("writer.db")).serverUrl(server.url())
                    .tokenProvider(TokenProvider.fixed(server.token("ann"))).build())) {
                WriteBatch batch = writer.newBatch();
                for (int n = 0; n < 600; n++) {
                    batch.put("calls", "c" + n, SampleRecords.callLog(n));
                }
                batch.commit();
                assertThat(writer.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
            }
            Path file = dir.resolve("reader.db");
            try (Outpost reader = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file)
                    .serverUrl(server.url()).tokenProvider(TokenProvider.fixed(server.token("ann")))
                    .storageQuota(QUOTA).listener(listener).build())) {
                SyncResult pulled = reader.sync();
                assertThat(pulled.status()).isEqualTo(SyncResult.Status.COMPLETED);
                assertThat(reader.get("calls", "c599")).as("the pull is stored whole").isPresent();
                assertThat(heard).hasSize(1);
                assertThat(heard.get(0).category()).isEqualTo(OutpostException.Category.QUOTA);
                assertThat(heard.get(0).code()).isEqualTo("STORAGE_QUOTA_EXCEEDED");
                assertThat(heard.get(0).getMessage()).contains(String.valueOf(QUOTA)).contains("pull");

                assertThat(reader.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
                assertThat(heard).as("a sync that pulls nothing tells nothing").hasSize(1);
            }
        }
    }
}
