package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One store file is open in one place at a time: a second open fails STORE_IN_USE. */
class StoreInUseTest {
    @TempDir
    Path dir;

    private static OutpostConfig config(Path file) {
        return OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).build();
    }

    private static void assertInUse(Path file) {
        assertThatThrownBy(() -> Outpost.open(config(file))).isInstanceOfSatisfying(OutpostException.class, e -> {
            assertThat(e.category()).isEqualTo(OutpostException.Category.STORAGE);
            assertThat(e.code()).isEqualTo("STORE_IN_USE");
            assertThat(e.getMessage()).contains(file.toString());
        });
    }

    @Test
    void aSecondOpenOfAnOpenStoreInTheSameProcessFailsAndTheFirstKeepsWorking() throws Exception {
        Path file = dir.resolve("one.db");
        try (Outpost first = Outpost.open(config(file))) {
            first.put("notes", "n1", "{\"a\":1}");
            assertInUse(file);
            assertInUse(dir.resolve(".").resolve("one.db"));
            first.put("notes", "n2", "{\"a\":2}");
            assertThat(first.get("notes", "n1")).isPresent();
        }
        try (Outpost again = Outpost.open(config(file))) {
            assertThat(again.openReport().mode()).isEqualTo(OpenReport.Mode.OPENED);
            assertThat(again.get("notes", "n2")).as("open again once the first is closed").isPresent();
        }
    }

    @Test
    void aStoreOpenInAnotherProcessIsRefusedUntilThatProcessEnds() throws Exception {
        Path file = dir.resolve("shared.db");
        Process child = new ProcessBuilder(DurabilityKillTest.childCommand(file, "child-", 1, Durability.DURABLE))
                .redirectError(dir.resolve("child-errors.txt").toFile()).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            assertThat(out.readLine()).isEqualTo("ready");
            assertInUse(file);
        } finally {
            child.toHandle().destroyForcibly();
            assertThat(child.waitFor(30, TimeUnit.SECONDS)).isTrue();
        }
        try (Outpost after = Outpost.open(config(file))) {
            assertThat(after.openReport().mode()).as("a killed process leaves no lock behind")
                    .isNotEqualTo(OpenReport.Mode.MEMORY_ONLY);
        }
    }

}
