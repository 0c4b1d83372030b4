package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.Wire;
import dev.outpost.server.OutpostServer;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each conflict policy of the server, over two real devices: the phone changes a record and
 * syncs; the laptop changed the same record from the same version and syncs after. Both end
 * with the server's record, which is what the collection's policy says.
 */
class ConflictPoliciesTest {
    @TempDir
    Path dir;

    private TestServer server;
    private final FakeClock phoneClock = new FakeClock();
    private final FakeClock laptopClock = new FakeClock();

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private Outpost device(String name, FakeClock clock) throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name + ".db")).serverUrl(server.url()).clock(clock)
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
    }

    /** Runs the scenario and returns the server's record; checks both devices hold it too. */
    private ObjectNode conflict(ConflictPolicy policy, String initial, String phoneEdit, String laptopEdit,
            Duration laptopLater, String... counters) throws Exception {
        server = TestServer.start(builder -> {
            OutpostServer.Builder configured = builder.conflictPolicy("notes", policy);
            return counters.length == 0 ? configured : configured.counterFields("notes", counters);
        });
        try (Outpost phone = device("phone", phoneClock); Outpost laptop = device("laptop", laptopClock)) {
            phone.put("notes", "n1", initial);
            phone.sync();
            laptop.sync();
            laptopClock.advance(laptopLater.isNegative() ? Duration.ZERO : laptopLater);
            phoneClock.advance(laptopLater.isNegative() ? laptopLater.negated() : Duration.ZERO);
            phone.update("notes", "n1", phoneEdit);
            laptop.update("notes", "n1", laptopEdit);
            phone.sync();
            SyncResult laptopSync = laptop.sync();
            phone.sync();

            ObjectNode onServer = server.records("ann").get("notes/n1");
            assertThat(phone.get("notes", "n1").orElseThrow().data()).as("phone").isEqualTo(onServer);
            assertThat(laptop.get("notes", "n1").orElseThrow().data()).as("laptop").isEqualTo(onServer);
            assertThat(laptop.pendingCount()).isZero();
            assertThat(laptopSync.merged() + laptopSync.conflicts()).as("the laptop's op was settled").isEqualTo(1);
            return onServer;
        }
    }

    @Test
    void serverWinsKeepsTheFirstChangeToArrive() throws Exception {
        assertThat(conflict(ConflictPolicy.SERVER_WINS, "{\"t\":\"start\"}", "{\"t\":\"phone\"}", "{\"t\":\"laptop\"}",
                Duration.ofSeconds(5))).isEqualTo(Wire.object("{\"t\":\"phone\"}"));
    }

    @Test
    void clientWinsAppliesTheLaterArrivingChangeOnTop() throws Exception {
        assertThat(conflict(ConflictPolicy.CLIENT_WINS, "{\"t\":\"start\",\"keep\":1}", "{\"t\":\"phone\",\"p\":1}",
                "{\"t\":\"laptop\"}", Duration.ofSeconds(5)))
                .isEqualTo(Wire.object("{\"t\":\"laptop\",\"keep\":1,\"p\":1}"));
    }

    @Test
    void lastWriteWinsByTimestampWhicheverArrivesFirst() throws Exception {
        assertThat(conflict(ConflictPolicy.LAST_WRITE_WINS, "{\"t\":\"start\"}", "{\"t\":\"phone\"}", "{\"t\":\"laptop\"}",
                Duration.ofSeconds(5))).as("the laptop wrote later").isEqualTo(Wire.object("{\"t\":\"laptop\"}"));
    }

    @Test
    void lastWriteWinsKeepsTheServersRecordWhenItWasWrittenLater() throws Exception {
        assertThat(conflict(ConflictPolicy.LAST_WRITE_WINS, "{\"t\":\"start\"}", "{\"t\":\"phone\"}", "{\"t\":\"laptop\"}",
                Duration.ofSeconds(-5))).as("the phone wrote later").isEqualTo(Wire.object("{\"t\":\"phone\"}"));
    }

    @Test
    void mergeKeepsFieldsChangedOnOneSideAndTheLaterValueOfFieldsChangedOnBoth() throws Exception {
        assertThat(conflict(ConflictPolicy.MERGE, "{\"title\":\"t\",\"body\":\"b\",\"tag\":\"x\"}",
                "{\"title\":\"phone title\",\"tag\":\"phone\"}", "{\"body\":\"laptop body\",\"tag\":\"laptop\"}",
                Duration.ofSeconds(5)))
                .isEqualTo(Wire.object("{\"title\":\"phone title\",\"body\":\"laptop body\",\"tag\":\"laptop\"}"));
    }

    @Test
    void mergeAddsBothSidesIncrementsOfACounter() throws Exception {
        assertThat(conflict(ConflictPolicy.MERGE, "{\"likes\":1,\"title\":\"t\"}", "{\"likes\":3}", "{\"likes\":2}",
                Duration.ofSeconds(5), "likes")).isEqualTo(Wire.object("{\"likes\":4,\"title\":\"t\"}"));
    }

    @Test
    void aDeleteAgainstAnEditUnderMergeGoesToTheLaterChange() throws Exception {
        server = TestServer.start(builder -> builder.conflictPolicy("notes", ConflictPolicy.MERGE));
        try (Outpost phone = device("phone", phoneClock); Outpost laptop = device("laptop", laptopClock)) {
            phone.put("notes", "n1", "{\"t\":\"start\"}");
            phone.sync();
            laptop.sync();
            laptopClock.advance(Duration.ofSeconds(5));
            phone.update("notes", "n1", "{\"t\":\"edited\"}");
            laptop.delete("notes", "n1");
            phone.sync();
            laptop.sync();
            phone.sync();
            Map<String, ObjectNode> records = server.records("ann");
            assertThat(records).doesNotContainKey("notes/n1");
            assertThat(phone.get("notes", "n1")).isEmpty();
            assertThat(laptop.get("notes", "n1")).isEmpty();
        }
    }

    @Test
    void policiesAreCheckedWhenConfigured() {
        assertThatThrownBy(() -> OutpostServer.builder().conflictPolicy("bad/name", ConflictPolicy.MERGE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad/name");
        assertThatThrownBy(() -> OutpostServer.builder().counterFields("notes"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("at least one");
        assertThatThrownBy(() -> OutpostServer.builder().conflictPolicy("notes", null)).isInstanceOf(NullPointerException.class);
    }
}
