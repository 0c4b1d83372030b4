package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.SampleRecords;
import dev.outpost.testing.TestServer;
import java.math.BigInteger;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An op row the store cannot read back (JSON past the reader's limits, a damaged compressed
 * payload, a sealed field that does not open) is dead-lettered at its draw with the reason, so
 * it holds back only its own record; and values the store could not read back are refused when
 * they are written.
 */
class UnreadableOpTest {
    /** A number of 1,001 digits: Jackson writes it, and by default reads at most 1,000. */
    private static final String TOO_LONG_NUMBER = "1".repeat(1001);

    @TempDir
    Path dir;

    private TestServer server;

    @BeforeEach
    void start() {
        server = TestServer.start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private OutpostConfig.Builder config(String name) {
        return OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name)).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token("ann")));
    }

    private void sql(String name, String statement, Object... args) throws Exception {
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve(name));
                PreparedStatement update = db.prepareStatement(statement)) {
            for (int i = 0; i < args.length; i++) {
                update.setObject(i + 1, args[i]);
            }
            assertThat(update.executeUpdate()).as(statement).isPositive();
        }
    }

    @Test
    void anOpWhosePayloadIsPastTheReadersLimitsIsDeadLetteredAndTheOthersSync() throws Exception {
        List<DeadLetter> told = new CopyOnWriteArrayList<>();
        try (Outpost phone = Outpost.open(config("phone.db").listener(new OutpostListener() {
            @Override
            public void deadLettered(DeadLetter letter) {
                told.add(letter);
            }
        }).build())) {
            phone.put("notes", "bad", "{\"title\":\"one\"}");
            phone.put("notes", "good", "{\"title\":\"two\"}");
            sql("phone.db", "UPDATE ops SET data = ? WHERE record_id = 'bad'", "{\"n\":" + TOO_LONG_NUMBER + "}");

            SyncResult result = phone.sync();

            assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(result.dead()).isEqualTo(1);
            assertThat(server.records("ann")).containsKey("notes/good").doesNotContainKey("notes/bad");
            assertThat(phone.deadLetters()).singleElement().satisfies(letter -> {
                assertThat(letter.recordId()).isEqualTo("bad");
                assertThat(letter.data()).as("not readable, so not shown").isNull();
                assertThat(letter.reason()).startsWith("UNREADABLE_PAYLOAD").contains("1001")
                        .contains("replay it with new data or discard it");
            });
            assertThat(phone.get("notes", "bad").orElseThrow().state()).isEqualTo(SyncState.FAILED);
            assertThat(told).as("the app is told").extracting(DeadLetter::recordId).containsExactly("bad");
            phone.update("notes", "bad", "{\"tag\":\"later\"}");
            assertThat(phone.ops(OpQuery.builder().record("notes", "bad").states(OpState.PENDING).build()))
                    .as("a later write of the record waits behind the dead op").hasSize(1);

            phone.put("notes", "good", "{\"title\":\"two again\"}");
            assertThat(phone.sync().status()).as("later draws go on").isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(server.records("ann").get("notes/good").get("title").asText()).isEqualTo("two again");

            String opId = phone.deadLetters().get(0).opId();
            phone.replay(opId, Wire.object("{\"title\":\"one, written again\"}"));
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(server.records("ann").get("notes/bad").get("title").asText()).isEqualTo("one, written again");
            assertThat(phone.deadLetters()).isEmpty();
        }
    }

    @Test
    void anOpWhoseCompressedPayloadIsDamagedIsDeadLetteredAndCanBeDiscarded() throws Exception {
        ObjectNode large = SampleRecords.callLog(3);
        try (Outpost phone = Outpost.open(config("phone.db").build())) {
            phone.put("calls", "big", large);
            phone.put("calls", "small", "{\"minutes\":1}");
            sql("phone.db", "UPDATE ops SET data = ? WHERE record_id = 'big' AND codec = 1", new byte[] {1, 2, 3, 4, 5, 6, 7, 8});

            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

            assertThat(server.records("ann")).containsKey("calls/small").doesNotContainKey("calls/big");
            DeadLetter letter = phone.deadLetters().get(0);
            assertThat(letter.reason()).contains("compressed op payload");
            phone.discard(letter.opId());
            assertThat(phone.deadLetters()).isEmpty();
            assertThat(phone.get("calls", "big")).as("never on the server, and its only op discarded").isEmpty();
            assertThat(phone.pendingCount()).isZero();
        }
    }

    @Test
    void anOpWhoseSealedFieldDoesNotOpenIsDeadLetteredAndTheOthersSync() throws Exception {
        try (Outpost phone = Outpost.open(config("phone.db").sensitiveFields("calls", "number").build())) {
            phone.put("calls", "c1", "{\"number\":\"+447700900123\"}");
            phone.put("notes", "n1", "{\"title\":\"plain\"}");
        }
        // The keyset the queue was sealed with is gone; a new one opens nothing written before.
        try (Outpost phone = Outpost.open(config("phone.db").sensitiveFields("calls", "number")
                .keyProvider(KeyProvider.keysetFile(dir.resolve("another.keyset.json"))).build())) {
            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

            assertThat(server.records("ann")).containsKey("notes/n1").doesNotContainKey("calls/c1");
            assertThat(phone.deadLetters()).singleElement().satisfies(letter -> {
                assertThat(letter.recordId()).isEqualTo("c1");
                assertThat(letter.reason()).contains("could not be opened with the configured key").doesNotContain("+44");
            });
        }
    }

    @Test
    void aKeyProviderThatGivesNoKeyFailsTheSyncAndDeadLettersNothing() throws Exception {
        try (Outpost phone = Outpost.open(config("phone.db").sensitiveFields("calls", "number").build())) {
            phone.put("calls", "c1", "{\"number\":\"+447700900123\"}");
        }
        try (Outpost phone = Outpost.open(config("phone.db").sensitiveFields("calls", "number").keyProvider(() -> {
            throw new java.io.IOException("the key store is locked");
        }).build())) {
            assertThatThrownBy(phone::sync).rootCause().hasMessageContaining("the key store is locked");
            assertThat(phone.deadLetters()).as("a missing key may come back: nothing is given up").isEmpty();
            assertThat(phone.pendingCount()).isEqualTo(1);
        }
    }

    @Test
    void aPullTouchingARecordWithAnUnreadableOpIsStored() throws Exception {
        try (Outpost phone = Outpost.open(config("phone.db").build());
                Outpost laptop = Outpost.open(config("laptop.db").build())) {
            phone.put("notes", "n1", "{\"title\":\"first\",\"body\":\"b\"}");
            phone.sync();
            phone.update("notes", "n1", "{\"title\":\"phone\"}");
            sql("phone.db", "UPDATE ops SET data = ? WHERE record_id = 'n1' AND status = 'PENDING'",
                    "{\"n\":" + TOO_LONG_NUMBER + "}");
            laptop.sync();
            laptop.update("notes", "n1", "{\"body\":\"laptop\"}");
            laptop.sync();

            assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

            LocalRecord n1 = phone.get("notes", "n1").orElseThrow();
            assertThat(n1.data().get("body").asText()).as("the pulled change is in the view").isEqualTo("laptop");
            assertThat(n1.state()).isEqualTo(SyncState.FAILED);
            assertThat(phone.deadLetters()).hasSize(1);
        }
    }

    @Test
    void readingOrDeletingARecordWhoseStoredDataCannotBeReadFailsWithAStorageError() throws Exception {
        try (Outpost phone = Outpost.open(config("phone.db").build())) {
            phone.put("notes", "n1", "{\"title\":\"x\"}");
            sql("phone.db", "UPDATE records SET data = ? WHERE id = 'n1'", "{\"n\":" + TOO_LONG_NUMBER + "}");

            for (org.assertj.core.api.ThrowableAssert.ThrowingCallable call : new org.assertj.core.api.ThrowableAssert.ThrowingCallable[] {
                () -> phone.get("notes", "n1"), () -> phone.delete("notes", "n1"), () -> phone.list("notes"),
                () -> phone.put("notes", "n1", "{\"title\":\"y\"}")}) {
                assertThatThrownBy(call).isInstanceOfSatisfying(OutpostException.class, e -> {
                    assertThat(e.category()).isEqualTo(OutpostException.Category.STORAGE);
                    assertThat(e.getMessage()).contains("notes/n1").contains("cannot be read back");
                });
            }
        }
    }

    @Test
    void aValueTheStoreCouldNotReadBackIsRefusedWhenWritten() throws Exception {
        try (Outpost phone = Outpost.open(config("phone.db").build())) {
            ObjectNode number = Wire.mapper().createObjectNode().put("n", new BigInteger(TOO_LONG_NUMBER));
            ObjectNode name = Wire.mapper().createObjectNode().put("k".repeat(50_001), 1);
            ObjectNode text = Wire.mapper().createObjectNode();
            text.putObject("photo").put("b64", "a".repeat(20_000_001));
            assertThatThrownBy(() -> phone.put("notes", "n1", number)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("1001 digits").hasMessageContaining("could not read back");
            assertThatThrownBy(() -> phone.put("notes", "n1", name)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("field name of 50001 characters");
            assertThatThrownBy(() -> phone.put("notes", "n1", text)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("string of 20000001 characters");
            phone.put("notes", "n1", "{\"title\":\"x\"}");
            assertThatThrownBy(() -> phone.update("notes", "n1", number)).isInstanceOf(IllegalArgumentException.class);
            WriteBatch batch = phone.newBatch();
            assertThatThrownBy(() -> batch.put("notes", "n2", number)).isInstanceOf(IllegalArgumentException.class);
            assertThat(phone.pendingCount()).isEqualTo(1);
            assertThat(phone.get("notes", "n1").orElseThrow().data()).isEqualTo(Wire.object("{\"title\":\"x\"}"));

            ObjectNode longest = Wire.mapper().createObjectNode().put("n", new BigInteger("9".repeat(1000)));
            phone.put("notes", "n3", longest);
            assertThat(phone.get("notes", "n3").orElseThrow().data()).isEqualTo(longest);
        }
    }
}
