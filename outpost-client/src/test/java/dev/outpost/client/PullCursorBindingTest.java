package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.server.ScopeAccess;
import dev.outpost.server.Tokens;
import dev.outpost.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Promises 5 to 7 when the pull cursor a store holds no longer fits: the token grants a scope
 * it did not when the cursor was made, the store is another user's, or the server's database
 * was put back to an earlier state. Real devices with SQLite stores and a real server.
 */
class PullCursorBindingTest {
    @TempDir
    Path dir;

    private final List<AutoCloseable> open = new ArrayList<>();

    @AfterEach
    void close() throws Exception {
        for (int i = open.size() - 1; i >= 0; i--) {
            open.get(i).close();
        }
    }

    private TestServer server(Path dataDir) {
        TestServer server = TestServer.startIn(dataDir);
        open.add(server);
        return server;
    }

    private Outpost device(TestServer server, String name, TokenProvider tokens, UnaryOperator<OutpostConfig.Builder> configure)
            throws OutpostException {
        Outpost outpost = Outpost.open(configure.apply(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve(name + ".db"))
                .serverUrl(server.url())
                .tokenProvider(tokens)
                .requestTimeout(Duration.ofSeconds(5))).build());
        open.add(outpost);
        return outpost;
    }

    private static List<String> ids(Outpost outpost, String collection) throws OutpostException {
        return outpost.list(collection).stream().map(LocalRecord::id).sorted().toList();
    }

    @Test
    void aSharedScopeGrantedAfterTheDeviceHasPulledBringsTheChangesMadeBeforeTheGrant() throws Exception {
        TestServer server = server(dir.resolve("server"));
        UnaryOperator<OutpostConfig.Builder> teamProjects = builder -> builder.sharedScope("projects", "team");
        Outpost ann = device(server, "ann", TokenProvider.fixed(server.token("ann", Map.of("team", ScopeAccess.READ_WRITE))),
                teamProjects);
        AtomicReference<String> bobsToken = new AtomicReference<>(server.token("bob"));
        Outpost bob = device(server, "bob", rejected -> bobsToken.get(), teamProjects);
        ann.put("projects", "p1", "{\"name\":\"launch\"}");
        ann.sync();
        bob.put("notes", "n1", "{\"text\":\"bob's own\"}");
        assertThat(bob.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(bob.list("projects")).as("not granted yet").isEmpty();

        bobsToken.set(server.token("bob", Map.of("team", ScopeAccess.READ)));
        SyncResult granted = bob.sync();

        assertThat(granted.status()).as(granted.message()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(ids(bob, "projects")).containsExactly("p1");
        assertThat(ids(bob, "notes")).containsExactly("n1");
        assertThat(bob.sync().pulled()).as("the next sync reads on from the new cursor").isZero();
    }

    @Test
    void aStoreSyncedByAnotherUserFailsTheSyncWithAuthAndTakesNothingOfTheSecondUsers() throws Exception {
        TestServer server = server(dir.resolve("server"));
        Outpost bobsPhone = device(server, "bobs-phone", TokenProvider.fixed(server.token("bob")), UnaryOperator.identity());
        bobsPhone.put("notes", "b1", "{\"text\":\"bob's\"}");
        bobsPhone.sync();
        Outpost annsStore = device(server, "shared-file", TokenProvider.fixed(server.token("ann")), UnaryOperator.identity());
        annsStore.put("notes", "a1", "{\"text\":\"ann's\"}");
        assertThat(annsStore.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
        annsStore.close();
        open.remove(annsStore);

        Outpost reopenedByBob = device(server, "shared-file", TokenProvider.fixed(server.token("bob")), UnaryOperator.identity());
        SyncResult result = reopenedByBob.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.FAILED);
        assertThat(result.failure()).isEqualTo(OutpostException.Category.AUTH);
        assertThat(result.message()).contains("another user").contains("store of its own");
        assertThat(result.pulled()).isZero();
        assertThat(ids(reopenedByBob, "notes")).as("bob's b1 not applied to ann's store").containsExactly("a1");
    }

    @Test
    void aServerWhoseDatabaseWasPutBackToAnEarlierStateIsPulledFromTheBeginning() throws Exception {
        Path before = dir.resolve("before");
        TestServer original = server(before);
        Outpost phone = device(original, "phone", TokenProvider.fixed(original.token("bob")), UnaryOperator.identity());
        for (int i = 0; i < 3; i++) {
            phone.put("notes", "n" + i, "{\"i\":" + i + "}");
        }
        phone.sync();
        original.stop();
        open.remove(original);
        phone.close();
        open.remove(phone);
        // The database put back to an empty backup: the server keeps its secret, and its changes are numbered from 1 again.
        Path restoredDir = Files.createDirectories(dir.resolve("restored"));
        Files.copy(before.resolve(Tokens.SECRET_FILE), restoredDir.resolve(Tokens.SECRET_FILE));
        TestServer restored = server(restoredDir);
        Outpost tablet = device(restored, "tablet", TokenProvider.fixed(restored.token("bob")), UnaryOperator.identity());
        tablet.put("notes", "t1", "{\"from\":\"tablet\"}");
        tablet.sync();

        Outpost phoneAgain = device(restored, "phone", TokenProvider.fixed(restored.token("bob")), UnaryOperator.identity());
        SyncResult result = phoneAgain.sync();

        assertThat(result.status()).as(result.message()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(ids(phoneAgain, "notes")).contains("t1");
        assertThat(phoneAgain.get("notes", "t1").orElseThrow().data().get("from").asText()).isEqualTo("tablet");
    }
}
