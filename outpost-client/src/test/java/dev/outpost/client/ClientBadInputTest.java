package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.Wire;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every public entry point of the client, given bad input: a clear error and nothing lost. */
class ClientBadInputTest {
    @TempDir
    Path dir;

    private Outpost open(String name) throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name)).build());
    }

    @Test
    void invalidNamesAreRefusedAndChangeNothing() throws Exception {
        try (Outpost outpost = open("a.db")) {
            outpost.put("notes", "n1", "{\"title\":\"kept\"}");

            assertThatThrownBy(() -> outpost.put("", "n2", "{}"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("collection ''");
            assertThatThrownBy(() -> outpost.put("no/slash", "n2", "{}"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no/slash");
            assertThatThrownBy(() -> outpost.put("notes", " ", "{}"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("record id");
            assertThatThrownBy(() -> outpost.put("notes", "x".repeat(201), "{}"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most 200");
            assertThatThrownBy(() -> outpost.list(".hidden"))
                    .isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> outpost.get("notes", null))
                    .isInstanceOf(IllegalArgumentException.class);

            assertThat(outpost.pendingCount()).isEqualTo(1);
            assertThat(outpost.list("notes")).hasSize(1);
        }
    }

    @Test
    void dataThatIsNotAJsonObjectIsRefused() throws Exception {
        try (Outpost outpost = open("a.db")) {
            assertThatThrownBy(() -> outpost.put("notes", "n1", "[1,2]"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("JSON object");
            assertThatThrownBy(() -> outpost.put("notes", "n1", "{\"unclosed\":"))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not valid JSON");
            assertThatThrownBy(() -> outpost.put("notes", "n1", (String) null))
                    .isInstanceOf(NullPointerException.class);
            assertThatThrownBy(() -> outpost.update("notes", "n1", "42"))
                    .isInstanceOf(IllegalArgumentException.class);
            String tooDeep = "{\"a\":".repeat(Wire.MAX_RECORD_DEPTH + 1) + "1" + "}".repeat(Wire.MAX_RECORD_DEPTH + 1);
            assertThatThrownBy(() -> outpost.put("notes", "n1", tooDeep))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at most " + Wire.MAX_RECORD_DEPTH);
            assertThat(outpost.pendingCount()).isZero();
        }
    }

    @Test
    void updatingARecordThatDoesNotExistIsAValidationError() throws Exception {
        try (Outpost outpost = open("a.db")) {
            assertThatThrownBy(() -> outpost.update("notes", "ghost", "{\"a\":1}"))
                    .isInstanceOf(OutpostException.class)
                    .satisfies(e -> {
                        OutpostException error = (OutpostException) e;
                        assertThat(error.category()).isEqualTo(OutpostException.Category.VALIDATION);
                        assertThat(error.code()).isEqualTo("RECORD_NOT_FOUND");
                        assertThat(error.getMessage()).contains("notes/ghost");
                    });
            assertThat(outpost.delete("notes", "ghost")).isFalse();
            assertThat(outpost.pendingCount()).isZero();
        }
    }

    @Test
    void writesThatChangeNothingQueueNothing() throws Exception {
        try (Outpost outpost = open("a.db")) {
            outpost.put("notes", "n1", "{\"a\":1}");
            outpost.put("notes", "n1", "{\"a\":1}");
            outpost.update("notes", "n1", "{\"a\":1}");
            outpost.update("notes", "n1", "{\"missing\":null}");
            assertThat(outpost.pendingCount()).isEqualTo(1);
        }
    }

    @Test
    void theDefaultsAreTheSeeds() {
        OutpostConfig config = OutpostConfig.builder().storeFile(dir.resolve("d.db")).build();
        assertThat(config.syncPolicy().automatic()).isTrue();
        assertThat(config.syncPolicy().interval()).isEqualTo(Duration.ofSeconds(30));
        assertThat(config.syncPolicy().meteredAfter()).isEqualTo(Duration.ofHours(24));
        assertThat(config.syncPolicy().meteredQueueBytes()).isEqualTo(1024 * 1024);
        assertThat(config.syncPolicy().wifiOnlyInBackground()).isFalse();
        assertThat(config.pushBatchSize()).isEqualTo(100);
        assertThat(config.priorityWeights()).containsExactly(1, 2, 4, 8);
        RetryPolicy retry = config.retryPolicy();
        assertThat(retry.maxRetries()).isEqualTo(5);
        assertThat(java.util.stream.IntStream.rangeClosed(1, retry.maxRetries()).mapToObj(retry::baseDelay))
                .containsExactly(Duration.ofSeconds(1), Duration.ofSeconds(2), Duration.ofSeconds(4), Duration.ofSeconds(8),
                        Duration.ofSeconds(16));
        assertThat(config.coalescing()).isTrue();
        assertThat(config.durability()).isEqualTo(Durability.DURABLE);
        assertThat(config.retention()).isEqualTo(Duration.ofDays(30));
        assertThat(config.storageQuota()).isEqualTo(100L * 1024 * 1024);
        assertThat(config.conflictPolicy("posts")).isEqualTo(ClientConflictPolicy.LAST_MODIFIED_WINS);
        assertThat(config.conflictPolicy("comments")).isEqualTo(ClientConflictPolicy.CLIENT_WINS);
        assertThat(config.conflictPolicy("messages")).isEqualTo(ClientConflictPolicy.CLIENT_WINS);
        assertThat(config.conflictPolicy("profiles")).isEqualTo(ClientConflictPolicy.MERGE);
        assertThat(config.conflictPolicy("shared-resources")).isEqualTo(ClientConflictPolicy.SERVER_WINS);
        assertThat(OutpostConfig.builder().storeFile(dir.resolve("d.db")).noStorageQuota().build().storageQuota()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void priorityWeightsAndRetriesOutOfRangeAreRefusedNamingThem() {
        assertThatThrownBy(() -> OutpostConfig.builder().priorityWeights(0, 2, 4, 8))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("LOW").hasMessageContaining("got 0");
        assertThatThrownBy(() -> OutpostConfig.builder().priorityWeights(1, 2, 4, 1001))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("CRITICAL").hasMessageContaining("1001");
        assertThat(OutpostConfig.builder().storeFile(dir.resolve("d.db")).priorityWeights(3, 3, 3, 3).build().priorityWeights()).containsExactly(3, 3, 3, 3);
        assertThatThrownBy(() -> new RetryPolicy(-1, Duration.ofSeconds(1), Duration.ofSeconds(16), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxRetries").hasMessageContaining("-1");
        assertThatThrownBy(() -> new RetryPolicy(5, Duration.ofSeconds(2), Duration.ofSeconds(1), 0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxDelay");
        assertThatThrownBy(() -> new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofSeconds(16), 1.5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("jitter");
    }

    @Test
    void configurationRefusesBadValuesNamingThem() {
        OutpostConfig.Builder builder = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL);
        assertThatThrownBy(() -> builder.serverUrl("not a url"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not a url");
        assertThatThrownBy(() -> builder.serverUrl("ftp://host/"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("http");
        assertThatThrownBy(() -> builder.serverUrl("/relative"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.pushBatchSize(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got 0");
        assertThatThrownBy(() -> builder.pushBatchSize(1001))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1001");
        assertThatThrownBy(() -> builder.pullPageSize(-5))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-5");
        assertThatThrownBy(() -> builder.pushesInFlight(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("pushesInFlight").hasMessageContaining("got 0");
        assertThatThrownBy(() -> builder.pushesInFlight(17))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("17");
        assertThatThrownBy(() -> builder.requestTimeout(Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> builder.tokenProvider(null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(builder::build)
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("storeFile");
    }

    @Test
    void aDataDirectoryHoldsTheStoreAndAFileGivenAsOneIsRefused() throws Exception {
        Path data = dir.resolve("app-data");
        try (Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).dataDirectory(data).build())) {
            outpost.put("notes", "n1", "{\"title\":\"kept\"}");
        }
        assertThat(data.resolve(OutpostConfig.STORE_FILE_NAME)).isRegularFile();
        try (Outpost again = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(data.resolve("outpost.db")).build())) {
            assertThat(again.get("notes", "n1")).hasValueSatisfying(record -> assertThat(record.data().get("title").asText())
                    .isEqualTo("kept"));
        }

        Path file = Files.writeString(dir.resolve("a-file"), "not a directory");
        assertThatThrownBy(() -> OutpostConfig.builder().dataDirectory(file))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("a-file").hasMessageContaining("not a directory");
        assertThat(file).hasContent("not a directory");
        assertThatThrownBy(() -> OutpostConfig.builder().dataDirectory(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void syncWithNoServerConfiguredReportsOfflineAndKeepsTheOps() throws Exception {
        try (Outpost outpost = open("a.db")) {
            outpost.put("notes", "n1", "{}");
            SyncResult result = outpost.sync();
            assertThat(result.status()).isEqualTo(SyncResult.Status.OFFLINE);
            assertThat(result.message()).contains("no server");
            assertThat(result.pending()).isEqualTo(1);
        }
    }

    @Test
    void withRecoveryOffAFileThatIsNotADatabaseIsRefusedWithAStorageErrorAndLeftAlone() throws Exception {
        Path file = dir.resolve("garbage.db");
        byte[] garbage = new byte[8192];
        new Random(1).nextBytes(garbage);
        Files.write(file, garbage);

        assertThatThrownBy(() -> Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).recoverCorruptStore(false).build()))
                .isInstanceOf(OutpostException.class)
                .satisfies(e -> {
                    OutpostException error = (OutpostException) e;
                    assertThat(error.category()).isEqualTo(OutpostException.Category.STORAGE);
                    assertThat(error.code()).isEqualTo("STORE_DAMAGED");
                    assertThat(error.getMessage()).contains(file.toString());
                });
        assertThat(Files.readAllBytes(file)).isEqualTo(garbage);
    }

    @Test
    void aStoreWrittenByANewerOutpostIsRefused() throws Exception {
        Path file = dir.resolve("future.db");
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement()) {
            statement.execute("PRAGMA user_version = 99");
        }

        assertThatThrownBy(() -> Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).build()))
                .isInstanceOf(OutpostException.class)
                .hasMessageContaining("schema version 99")
                .satisfies(e -> assertThat(((OutpostException) e).code()).isEqualTo("STORE_TOO_NEW"));
    }

    @Test
    void theDeviceIdIsCreatedOnceAndKept() throws Exception {
        String first;
        try (Outpost outpost = open("a.db")) {
            first = outpost.deviceId();
        }
        try (Outpost outpost = open("a.db")) {
            assertThat(outpost.deviceId()).isEqualTo(first);
        }
        try (Outpost other = open("b.db")) {
            assertThat(other.deviceId()).isNotEqualTo(first);
        }
    }

    @Test
    void nullFieldsAreDroppedSoCreateAndUpdateAgree() throws Exception {
        try (Outpost outpost = open("a.db")) {
            LocalRecord record = outpost.put("notes", "n1", "{\"a\":1,\"b\":null,\"c\":{\"d\":null,\"e\":2}}");
            assertThat(record.data()).isEqualTo(Wire.object("{\"a\":1,\"c\":{\"e\":2}}"));
        }
    }
}
