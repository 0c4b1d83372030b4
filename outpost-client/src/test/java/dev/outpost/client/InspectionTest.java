package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.Priority;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Looking into the queue: op listings, figures and the status line for people. */
class InspectionTest {
    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();
    private TestServer server;
    private Outpost outpost;

    @BeforeEach
    void open() throws OutpostException {
        server = TestServer.start();
        outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("inspect.db")).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).clock(clock).coalescing(false).build());
    }

    @AfterEach
    void close() {
        outpost.close();
        server.close();
    }

    /** A record the server refuses as too large (its limit is 256 KiB), so its op dies. */
    private static String oversized() {
        return "{\"blob\":\"" + "x".repeat(300 * 1024) + "\"}";
    }

    @Test
    void opsAreListedByStatePriorityRecordAndAgeSortedAndPaged() throws Exception {
        outpost.put("notes", "a", "{\"n\":1}", Priority.LOW);
        clock.advance(Duration.ofMinutes(10));
        Instant tenMinutesIn = clock.instant();
        outpost.put("notes", "b", "{\"n\":2}", Priority.CRITICAL);
        outpost.put("tasks", "t", "{\"n\":3}", Priority.HIGH);
        outpost.update("notes", "a", "{\"n\":4}", Priority.NORMAL);

        List<OpInfo> all = outpost.ops(OpQuery.builder().build());
        assertThat(all).extracting(OpInfo::recordId).containsExactly("a", "b", "t", "a");
        assertThat(all).allSatisfy(op -> assertThat(op.state()).isEqualTo(OpState.PENDING));
        assertThat(all.get(0).payloadBytes()).isEqualTo("{\"n\":1}".length());

        assertThat(outpost.ops(OpQuery.builder().priority(Priority.CRITICAL).build()))
                .extracting(OpInfo::recordId).containsExactly("b");
        assertThat(outpost.ops(OpQuery.builder().record("notes", "a").build())).hasSize(2);
        assertThat(outpost.ops(OpQuery.builder().collection("tasks").build())).extracting(OpInfo::recordId).containsExactly("t");
        assertThat(outpost.ops(OpQuery.builder().createdBefore(tenMinutesIn).build()))
                .as("older than ten minutes").extracting(OpInfo::recordId).containsExactly("a");
        assertThat(outpost.ops(OpQuery.builder().order(OpQuery.Order.PRIORITY).build()))
                .extracting(OpInfo::priority)
                .containsExactly(Priority.CRITICAL, Priority.HIGH, Priority.NORMAL, Priority.NORMAL);
        assertThat(outpost.ops(OpQuery.builder().order(OpQuery.Order.NEWEST_FIRST).offset(1).limit(2).build()))
                .extracting(OpInfo::recordId).containsExactly("t", "b");

        outpost.sync();
        assertThat(outpost.ops(OpQuery.builder().states(OpState.APPLIED).build())).hasSize(4);
        assertThat(outpost.ops(OpQuery.builder().states(OpState.PENDING).build())).isEmpty();
    }

    @Test
    void aPendingOpNamesTheDeadOpItWaitsBehind() throws Exception {
        outpost.put("notes", "big", oversized());
        outpost.sync();
        String deadId = outpost.deadLetters().get(0).opId();
        outpost.put("notes", "big", "{\"small\":true}");

        OpInfo waiting = outpost.ops(OpQuery.builder().states(OpState.PENDING).build()).get(0);
        assertThat(waiting.waitingFor()).isEqualTo(deadId);
        OpInfo dead = outpost.ops(OpQuery.builder().states(OpState.DEAD).build()).get(0);
        assertThat(dead.lastError()).contains("RECORD_TOO_LARGE");
    }

    @Test
    void statsCountByStateAndPriorityAndMeasureAgeBytesSuccessAndProcessingTime() throws Exception {
        Instant start = clock.instant();
        outpost.put("notes", "a", "{\"n\":1}", Priority.LOW);
        outpost.put("notes", "b", "{\"n\":2}", Priority.HIGH);
        outpost.put("notes", "c", "{\"n\":3}", Priority.HIGH);

        QueueStats before = outpost.queueStats();
        assertThat(before.pending()).isEqualTo(3);
        assertThat(before.pendingByPriority()).containsEntry(Priority.HIGH, 2).containsEntry(Priority.LOW, 1)
                .doesNotContainKey(Priority.NORMAL);
        assertThat(before.pendingBytes()).isEqualTo(3 * "{\"n\":1}".length());
        assertThat(before.oldestPendingAt()).isEqualTo(start);
        assertThat(before.successRate()).isNaN();
        assertThat(before.meanProcessingTime()).isNull();

        clock.advance(Duration.ofSeconds(40));
        outpost.put("notes", "big", oversized());
        outpost.sync();

        QueueStats after = outpost.queueStats();
        assertThat(after.applied()).isEqualTo(3);
        assertThat(after.dead()).isEqualTo(1);
        assertThat(after.successRate()).isEqualTo(0.75);
        assertThat(after.meanProcessingTime()).isEqualTo(Duration.ofSeconds(40));
        assertThat(after.oldestPendingAt()).isNull();
        assertThat(after.total()).isEqualTo(4);
    }

    @Test
    void theStatusLineSaysWhereChangesStandInPlainWords() throws Exception {
        assertThat(outpost.statusLine()).isEqualTo("All changes synced");
        outpost.put("notes", "a", "{}");
        assertThat(outpost.statusLine()).isEqualTo("1 change waiting to sync");

        server.stop();
        outpost.put("notes", "b", "{}");
        outpost.sync();
        assertThat(outpost.statusLine()).isEqualTo("Offline: 2 changes will sync when connected");

        server.restart();
        outpost.sync();
        assertThat(outpost.statusLine()).isEqualTo("All changes synced");

        outpost.put("notes", "big", oversized());
        outpost.sync();
        assertThat(outpost.statusLine()).isEqualTo("1 change needs attention");
    }

    @Test
    void aRefusedTokenShowsInTheStatusLine() throws Exception {
        try (Outpost refused = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("refused.db"))
                .serverUrl(server.url()).tokenProvider(TokenProvider.fixed("not-a-token")).build())) {
            refused.put("notes", "a", "{}");
            refused.sync();
            assertThat(refused.statusLine()).isEqualTo("Sign-in needed: 1 change waiting");
        }
    }

    @Test
    void queriesRefuseBadPagesNamingTheValue() {
        assertThatThrownBy(() -> OpQuery.builder().limit(0)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0");
        assertThatThrownBy(() -> OpQuery.builder().limit(1001)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1001");
        assertThatThrownBy(() -> OpQuery.builder().offset(-1)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("-1");
        assertThatThrownBy(() -> outpost.ops(null)).isInstanceOf(NullPointerException.class);
    }
}
