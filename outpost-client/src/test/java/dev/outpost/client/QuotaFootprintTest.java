package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.testing.SampleRecords;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The quota counts the store's write-ahead log. */
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
}
