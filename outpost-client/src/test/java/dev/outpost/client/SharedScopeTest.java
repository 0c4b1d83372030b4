package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.Wire;
import dev.outpost.server.ScopeAccess;
import dev.outpost.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Collections kept in a shared scope: real devices with SQLite stores and a real server. */
class SharedScopeTest {
    @TempDir
    Path dir;

    private TestServer server;
    private final List<Outpost> open = new ArrayList<>();

    @BeforeEach
    void startServer() {
        server = TestServer.start();
    }

    @AfterEach
    void stop() throws Exception {
        for (Outpost outpost : open) {
            outpost.close();
        }
        server.close();
    }

    /** A device of {@code user} whose token grants {@code grants}, with {@code projects} in scope {@code team}. */
    private Outpost device(String name, String user, Map<String, ScopeAccess> grants) throws OutpostException {
        return device(name, user, grants, builder -> builder.sharedScope("projects", "team"));
    }

    private Outpost device(String name, String user, Map<String, ScopeAccess> grants,
            UnaryOperator<OutpostConfig.Builder> configure) throws OutpostException {
        Outpost outpost = Outpost.open(configure.apply(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve(name + ".db"))
                .serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token(user, grants)))
                .requestTimeout(Duration.ofSeconds(5))).build());
        open.add(outpost);
        return outpost;
    }

    private static Map<String, Object> view(Outpost outpost, String collection) throws OutpostException {
        Map<String, Object> view = new HashMap<>();
        for (LocalRecord record : outpost.list(collection)) {
            view.put(record.id(), record.data());
        }
        return view;
    }

    @Test
    void teammatesSeeAndEditEachOthersRecordsInASharedCollectionWhileTheirOwnStayPrivate() throws Exception {
        Outpost ann = device("ann", "ann", Map.of("team", ScopeAccess.READ_WRITE));
        Outpost bob = device("bob", "bob", Map.of("team", ScopeAccess.READ_WRITE));
        ann.put("projects", "p1", "{\"name\":\"launch\",\"due\":\"june\"}");
        ann.put("notes", "n1", "{\"text\":\"ann's own\"}");
        assertThat(ann.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);

        bob.sync();
        assertThat(bob.get("projects", "p1").orElseThrow().data())
                .isEqualTo(Wire.object("{\"name\":\"launch\",\"due\":\"june\"}"));
        assertThat(bob.get("projects", "p1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(bob.list("notes")).isEmpty();

        bob.update("projects", "p1", "{\"due\":\"july\"}");
        bob.sync();
        ann.sync();

        assertThat(ann.get("projects", "p1").orElseThrow().data())
                .isEqualTo(Wire.object("{\"name\":\"launch\",\"due\":\"july\"}"));
        // The project lives in the team's scope, in neither user's own.
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
        assertThat(server.records("bob")).isEmpty();
    }

    @Test
    void teammatesWhoEditTheSameSharedRecordOfflineConvergeAfterTwoSyncs() throws Exception {
        Outpost ann = device("ann", "ann", Map.of("team", ScopeAccess.READ_WRITE));
        Outpost bob = device("bob", "bob", Map.of("team", ScopeAccess.READ_WRITE));
        ann.put("projects", "p1", "{\"name\":\"launch\"}");
        ann.sync();
        bob.sync();

        ann.update("projects", "p1", "{\"name\":\"launch v2\",\"owner\":\"ann\"}");
        bob.update("projects", "p1", "{\"name\":\"launch 2.0\"}");
        bob.delete("projects", "p1");
        bob.put("projects", "p2", "{\"name\":\"hiring\"}");
        for (int round = 0; round < 2; round++) {
            ann.sync();
            bob.sync();
        }

        assertThat(view(ann, "projects")).isEqualTo(view(bob, "projects")).containsKey("p2");
        assertThat(ann.pendingCount()).isZero();
        assertThat(bob.pendingCount()).isZero();
    }

    @Test
    void aWriteToAScopeTheTokenGrantsOnlyForReadingOrNotAtAllBecomesADeadLetterThatSaysSo() throws Exception {
        Outpost ann = device("ann", "ann", Map.of("team", ScopeAccess.READ_WRITE));
        ann.put("projects", "p1", "{\"name\":\"launch\"}");
        ann.sync();
        Outpost reader = device("reader", "rita", Map.of("team", ScopeAccess.READ));
        Outpost stranger = device("stranger", "sam", Map.of());

        reader.sync();
        reader.update("projects", "p1", "{\"name\":\"renamed\"}");
        reader.put("notes", "n1", "{\"text\":\"mine\"}");
        stranger.put("projects", "p9", "{\"name\":\"mine?\"}");
        reader.sync();
        stranger.sync();

        assertThat(reader.deadLetters()).singleElement().satisfies(dead -> {
            assertThat(dead.recordId()).isEqualTo("p1");
            assertThat(dead.reason()).contains("SCOPE_READ_ONLY");
        });
        assertThat(reader.get("projects", "p1").orElseThrow().state()).isEqualTo(SyncState.FAILED);
        assertThat(reader.get("notes", "n1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(stranger.deadLetters()).singleElement()
                .satisfies(dead -> assertThat(dead.reason()).contains("SCOPE_NOT_GRANTED"));
        ann.sync();
        assertThat(view(ann, "projects")).isEqualTo(Map.of("p1", Wire.object("{\"name\":\"launch\"}")));
    }

    @Test
    void aCollectionMovedIntoASharedScopeLaterGetsTheChangesEarlierPullsPassedOver() throws Exception {
        Outpost ann = device("ann", "ann", Map.of("team", ScopeAccess.READ_WRITE));
        ann.put("projects", "p1", "{\"name\":\"launch\"}");
        ann.sync();
        Outpost before = device("bob", "bob", Map.of("team", ScopeAccess.READ_WRITE), UnaryOperator.identity());
        before.sync();
        assertThat(before.list("projects")).isEmpty();
        before.close();
        open.remove(before);

        Outpost after = device("bob", "bob", Map.of("team", ScopeAccess.READ_WRITE));
        after.sync();

        assertThat(view(after, "projects")).isEqualTo(Map.of("p1", Wire.object("{\"name\":\"launch\"}")));
    }

    @Test
    void movingACollectionThatHoldsRecordsToAnotherScopeIsRefusedAndChangesNothing() throws Exception {
        Outpost first = device("ann", "ann", Map.of("team", ScopeAccess.READ_WRITE), UnaryOperator.identity());
        first.put("projects", "p1", "{\"name\":\"private plan\"}");
        first.close();
        open.remove(first);

        assertThatThrownBy(() -> device("ann", "ann", Map.of("team", ScopeAccess.READ_WRITE)))
                .isInstanceOfSatisfying(OutpostException.class, e -> {
                    assertThat(e.category()).isEqualTo(OutpostException.Category.VALIDATION);
                    assertThat(e.code()).isEqualTo("SCOPE_CHANGED");
                    assertThat(e.getMessage()).contains("projects").contains("shared scope team");
                });

        Outpost again = device("ann", "ann", Map.of("team", ScopeAccess.READ_WRITE), UnaryOperator.identity());
        assertThat(again.get("projects", "p1").orElseThrow().state()).isEqualTo(SyncState.PENDING);
        again.sync();
        assertThat(server.records("ann")).containsOnlyKeys("projects/p1");
    }

    @Test
    void aSharedScopeWithAnInvalidNameIsRefusedWhenConfigured() {
        OutpostConfig.Builder builder = OutpostConfig.builder();
        assertThatThrownBy(() -> builder.sharedScope("projects", "team acme"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scope 'team acme'");
        assertThatThrownBy(() -> builder.sharedScope("projects", null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scope 'null'");
        assertThatThrownBy(() -> builder.sharedScope("bad/name", "team"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("collection 'bad/name'");
    }
}
