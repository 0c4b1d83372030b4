package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.SampleRecords;
import dev.outpost.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Sensitive fields sealed at rest with Tink, over real files and a real server. */
class EncryptionTest {
    private static final String SECRET_NUMBER = "+447700900123";

    @TempDir
    Path dir;

    private OutpostConfig.Builder config(Path file) {
        return OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(file).sensitiveFields("calls", "number", "content");
    }

    /** Every text value stored in the file's ops and records tables. */
    private static List<String> storedText(Path file) throws Exception {
        List<String> texts = new ArrayList<>();
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement()) {
            for (String sql : new String[] {"SELECT data FROM ops WHERE codec = 0", "SELECT result FROM ops",
                    "SELECT data FROM records", "SELECT server_data FROM records"}) {
                try (ResultSet rows = statement.executeQuery(sql)) {
                    while (rows.next()) {
                        if (rows.getString(1) != null) {
                            texts.add(rows.getString(1));
                        }
                    }
                }
            }
        }
        return texts;
    }

    @Test
    void sensitiveFieldsAreSealedInTheQueueAndTheLocalViewAndReadInTheClear() throws Exception {
        Path phoneFile = dir.resolve("phone.db");
        Path laptopFile = dir.resolve("laptop.db");
        try (TestServer server = TestServer.start();
                Outpost phone = Outpost.open(config(phoneFile).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
                Outpost laptop = Outpost.open(config(laptopFile).serverUrl(server.url())
                        .tokenProvider(TokenProvider.fixed(server.token("ann"))).build())) {
            phone.put("calls", "c1", "{\"number\":\"" + SECRET_NUMBER + "\",\"content\":{\"text\":\"call me back\"},\"minutes\":3}");
            phone.update("calls", "c1", "{\"content\":{\"text\":\"call me back today\"}}");

            assertThat(storedText(phoneFile)).isNotEmpty().allSatisfy(text -> assertThat(text)
                    .doesNotContain(SECRET_NUMBER).doesNotContain("call me back"));
            assertThat(storedText(phoneFile)).anySatisfy(text -> assertThat(text).contains("$outpost_sealed"));
            ObjectNode read = phone.get("calls", "c1").orElseThrow().data();
            assertThat(read.get("number").asText()).isEqualTo(SECRET_NUMBER);
            assertThat(read.get("content").get("text").asText()).isEqualTo("call me back today");
            assertThat(read.get("minutes").asInt()).isEqualTo(3);

            phone.sync();
            laptop.sync();
            assertThat(server.records("ann").get("calls/c1").get("number").asText()).as("sent in the clear").isEqualTo(SECRET_NUMBER);
            assertThat(laptop.get("calls", "c1").orElseThrow().data()).isEqualTo(read);
            assertThat(storedText(laptopFile)).isNotEmpty().allSatisfy(text -> assertThat(text).doesNotContain(SECRET_NUMBER));
            assertThat(storedText(phoneFile)).allSatisfy(text -> assertThat(text).doesNotContain(SECRET_NUMBER));
        }
    }

    @Test
    void largeRecordsAreSealedThenCompressedAndReadBack() throws Exception {
        Path file = dir.resolve("large.db");
        ObjectNode record = SampleRecords.callLog(3);
        try (Outpost outpost = Outpost.open(config(file).build())) {
            outpost.put("calls", "big", record);
            assertThat(outpost.get("calls", "big").orElseThrow().data()).isEqualTo(record);
            assertThat(outpost.deadLetters()).isEmpty();
        }
    }

    @Test
    void theDefaultKeysetFileIsCreatedOwnerOnly() throws Exception {
        Path file = dir.resolve("keys.db");
        try (Outpost outpost = Outpost.open(config(file).build())) {
            outpost.put("calls", "c1", "{\"number\":\"1\"}");
        }
        Path keyset = dir.resolve("keys.db.keyset.json");
        assertThat(keyset).exists();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyset))).isEqualTo("rw-------");
    }

    @Test
    void anEmptyKeysetFileLeftByACrashedCreationCountsAsNoKeyset() throws Exception {
        Path file = dir.resolve("crashed.db");
        Path keyset = dir.resolve("crashed.db.keyset.json");
        Files.createFile(keyset);
        try (Outpost outpost = Outpost.open(config(file).build())) {
            outpost.put("calls", "c1", "{\"number\":\"" + SECRET_NUMBER + "\"}");
            assertThat(outpost.get("calls", "c1").orElseThrow().data().get("number").asText()).isEqualTo(SECRET_NUMBER);
        }
        assertThat(Files.size(keyset)).isPositive();
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(keyset))).isEqualTo("rw-------");
        try (var names = Files.list(dir)) {
            assertThat(names.map(path -> path.getFileName().toString())).as("no temporary keyset left behind")
                    .noneMatch(name -> name.endsWith(".new"));
        }
        try (Outpost outpost = Outpost.open(config(file).build())) {
            assertThat(outpost.get("calls", "c1").orElseThrow().data().get("number").asText())
                    .as("the keyset written is the one read again").isEqualTo(SECRET_NUMBER);
        }
    }

    @Test
    void aKeysetFileThatHoldsAKeysetIsNeverReplaced() throws Exception {
        Path keyset = dir.resolve("shared.keyset.json");
        KeyProvider.keysetFile(keyset).aead();
        byte[] first = Files.readAllBytes(keyset);
        KeyProvider.keysetFile(keyset).aead();
        assertThat(Files.readAllBytes(keyset)).isEqualTo(first);
    }

    @Test
    void aStoreReadWithAnotherKeyFailsWithAKeyErrorAndShowsNothing() throws Exception {
        Path file = dir.resolve("keyed.db");
        try (Outpost outpost = Outpost.open(config(file).build())) {
            outpost.put("calls", "c1", "{\"number\":\"" + SECRET_NUMBER + "\"}");
        }
        try (Outpost other = Outpost.open(config(file).keyProvider(KeyProvider.keysetFile(dir.resolve("other.json"))).build())) {
            assertThatThrownBy(() -> other.get("calls", "c1")).isInstanceOfSatisfying(OutpostException.class, e -> {
                assertThat(e.category()).isEqualTo(OutpostException.Category.STORAGE);
                assertThat(e.code()).isEqualTo("KEY_UNAVAILABLE");
                assertThat(e.getMessage()).contains("number").contains("calls/c1").doesNotContain(SECRET_NUMBER);
            });
        }
    }

    @Test
    void aSealedValueCannotBeMovedToAnotherRecord() throws Exception {
        Path file = dir.resolve("moved.db");
        try (Outpost outpost = Outpost.open(config(file).build())) {
            outpost.put("calls", "a", "{\"number\":\"" + SECRET_NUMBER + "\"}");
            outpost.put("calls", "b", "{\"number\":\"other\"}");
        }
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file);
                PreparedStatement copy = db.prepareStatement(
                        "UPDATE records SET data = (SELECT data FROM records WHERE id = 'a') WHERE id = 'b'")) {
            copy.executeUpdate();
        }
        try (Outpost outpost = Outpost.open(config(file).build())) {
            assertThat(outpost.get("calls", "a").orElseThrow().data().get("number").asText()).isEqualTo(SECRET_NUMBER);
            assertThatThrownBy(() -> outpost.get("calls", "b")).isInstanceOfSatisfying(OutpostException.class,
                    e -> assertThat(e.code()).isEqualTo("KEY_UNAVAILABLE"));
        }
    }

    @Test
    void aFailingKeyProviderFailsTheWriteAndWritesNothingInTheClear() throws Exception {
        Path file = dir.resolve("nokey.db");
        try (Outpost outpost = Outpost.open(config(file).keyProvider(() -> {
            throw new java.io.IOException("the key store is locked");
        }).build())) {
            assertThatThrownBy(() -> outpost.put("calls", "c1", "{\"number\":\"" + SECRET_NUMBER + "\"}"))
                    .isInstanceOfSatisfying(OutpostException.class, e -> {
                        assertThat(e.code()).isEqualTo("KEY_UNAVAILABLE");
                        assertThat(e.getMessage()).contains("the key store is locked");
                    });
            assertThat(outpost.pendingCount()).isZero();
            outpost.put("notes", "n1", "{\"not\":\"sensitive\"}");
            assertThat(outpost.pendingCount()).isEqualTo(1);
        }
        assertThat(storedText(file)).allSatisfy(text -> assertThat(text).doesNotContain(SECRET_NUMBER));
    }

    @Test
    void sensitiveFieldSettingsRefuseBadNames() {
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).sensitiveFields("bad/name", "x"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad/name");
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).sensitiveFields("calls"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one");
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).sensitiveFields("calls", " "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("blank");
        assertThatThrownBy(() -> OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).keyProvider(null)).isInstanceOf(NullPointerException.class);
    }

    static ObjectNode json(String text) {
        return Wire.object(text);
    }
}
