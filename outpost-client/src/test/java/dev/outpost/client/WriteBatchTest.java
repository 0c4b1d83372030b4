package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class WriteBatchTest {
    @TempDir
    Path dir;

    private Outpost open() throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("batch.db")).build());
    }

    @Test
    void aBatchAppliesEveryWriteInOrder() throws Exception {
        try (Outpost outpost = open()) {
            outpost.put("notes", "old", "{\"a\":1}");
            List<LocalRecord> results = outpost.newBatch()
                    .put("notes", "n1", "{\"title\":\"one\"}")
                    .put("notes", "n2", "{\"title\":\"two\"}")
                    .update("notes", "n1", dev.outpost.protocol.Wire.object("{\"done\":true}"))
                    .delete("notes", "old")
                    .commit();

            assertThat(results).hasSize(4);
            assertThat(results.get(2).data().get("done").asBoolean()).isTrue();
            assertThat(results.get(3)).isNull();
            assertThat(outpost.list("notes")).extracting(LocalRecord::id).containsExactly("n1", "n2");
        }
    }

    @Test
    void aBatchWithOneWriteThatCannotApplyAppliesNothing() throws Exception {
        try (Outpost outpost = open()) {
            WriteBatch batch = outpost.newBatch()
                    .put("notes", "n1", "{\"title\":\"one\"}")
                    .update("notes", "missing", dev.outpost.protocol.Wire.object("{\"a\":1}"))
                    .put("notes", "n2", "{\"title\":\"two\"}");

            assertThatThrownBy(batch::commit).isInstanceOf(OutpostException.class).hasMessageContaining("notes/missing");
            assertThat(outpost.list("notes")).isEmpty();
            assertThat(outpost.pendingCount()).isZero();

            outpost.put("notes", "n3", "{}");
            assertThat(outpost.pendingCount()).isEqualTo(1);
        }
    }

    @Test
    void aBatchIsCommittedOnlyOnceAndRefusesBadWritesAtOnce() throws Exception {
        try (Outpost outpost = open()) {
            WriteBatch batch = outpost.newBatch().put("notes", "n1", "{}");
            batch.commit();
            assertThatThrownBy(batch::commit).isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> batch.put("notes", "n2", "{}")).isInstanceOf(IllegalStateException.class);
            WriteBatch fresh = outpost.newBatch();
            assertThatThrownBy(() -> fresh.put("bad/name", "n1", "{}")).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> fresh.put("notes", "n1", "[]")).isInstanceOf(IllegalArgumentException.class);
            assertThat(fresh.size()).isZero();
        }
    }

    @Test
    void concurrentWritersEachGetTheirOwnOutcome() throws Exception {
        try (Outpost outpost = open()) {
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<?>> futures = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                futures.add(pool.submit(() -> {
                    for (int i = 0; i < 100; i++) {
                        outpost.put("notes", "t" + thread + "-" + i, "{\"i\":" + i + "}");
                        if (i % 10 == 0) {
                            assertThatThrownBy(() -> outpost.update("notes", "absent-" + thread, "{\"a\":1}"))
                                    .isInstanceOf(OutpostException.class);
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> future : futures) {
                future.get();
            }
            pool.shutdown();
            assertThat(outpost.list("notes")).hasSize(800);
            assertThat(outpost.pendingCount()).isEqualTo(800);
        }
    }
}
