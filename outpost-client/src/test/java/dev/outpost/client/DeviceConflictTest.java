package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.ServerRecord;
import dev.outpost.protocol.Wire;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Conflicts settled on the device, through a real server whose collections are all
 * SERVER_WINS (it answers CONFLICT and keeps its record): the phone changes a record and syncs
 * first, the laptop changed the same record from the same version and syncs after, and the
 * laptop's policy, resolver or user decides.
 */
class DeviceConflictTest {
    private static TestServer server;

    @TempDir
    Path dir;

    private final String user = "user-" + UUID.randomUUID();
    private final FakeClock phoneClock = new FakeClock();
    private final FakeClock laptopClock = new FakeClock();
    private final List<Object[]> heard = new CopyOnWriteArrayList<>();
    private final List<Outpost> opened = new ArrayList<>();
    private Outpost phone;
    private Outpost laptop;

    @BeforeAll
    static void startServer() {
        server = TestServer.start();
    }

    @AfterAll
    static void stopServer() {
        server.close();
    }

    @AfterEach
    void closeDevices() {
        opened.forEach(Outpost::close);
    }

    private Outpost device(String name, FakeClock clock, UnaryOperator<OutpostConfig.Builder> configure)
            throws OutpostException {
        OutpostConfig.Builder builder = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve(name + ".db")).serverUrl(server.url()).clock(clock)
                .tokenProvider(TokenProvider.fixed(server.token(user)))
                .listener(new OutpostListener() {
                    @Override
                    public void conflictDetected(Conflict conflict, Resolution settledBy) {
                        heard.add(new Object[] {conflict, settledBy});
                    }
                });
        Outpost outpost = Outpost.open(configure.apply(builder).build());
        opened.add(outpost);
        return outpost;
    }

    private static ObjectNode json(String text) {
        return Wire.object(text);
    }

    private ObjectNode onServer(String collection, String id) {
        return server.records(user).get(collection + "/" + id);
    }

    /**
     * The phone and the laptop both change {@code collection/id} from the same version; the
     * phone syncs first. The laptop's change is later by {@code laptopLater} (earlier if negative).
     */
    private SyncResult bothEdit(String collection, String id, String initial, String phoneEdit, String laptopEdit,
            Duration laptopLater) throws OutpostException {
        phone.put(collection, id, initial);
        phone.sync();
        laptop.sync();
        laptopClock.advance(laptopLater.isNegative() ? Duration.ZERO : laptopLater);
        phoneClock.advance(laptopLater.isNegative() ? laptopLater.negated() : Duration.ZERO);
        phone.update(collection, id, phoneEdit);
        assertThat(phone.sync().applied()).isEqualTo(1);
        laptop.update(collection, id, laptopEdit);
        return laptop.sync();
    }

    private void assertConverged(String collection, String id) throws OutpostException {
        phone.sync();
        laptop.sync();
        ObjectNode expected = onServer(collection, id);
        assertThat(phone.get(collection, id).map(LocalRecord::data).orElse(null)).as("phone").isEqualTo(expected);
        assertThat(laptop.get(collection, id).map(LocalRecord::data).orElse(null)).as("laptop").isEqualTo(expected);
        assertThat(laptop.pendingCount()).isZero();
    }

    private Resolution heardFor(String recordId) {
        return heard.stream().filter(event -> ((Conflict) event[0]).recordId().equals(recordId))
                .map(event -> (Resolution) event[1]).reduce((first, second) -> second).orElseThrow();
    }

    // ---- policies, end to end ---------------------------------------------------------------

    @Test
    void eachSeededPolicySettlesItsCollectionAndEveryOtherCollectionIsServerWins() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, UnaryOperator.identity());
        List<String> collections = List.of("posts", "comments", "messages", "profiles", "tasks");
        for (String collection : collections) {
            phone.put(collection, "r1", "{\"t\":\"start\",\"a\":\"start\"}");
        }
        phone.sync();
        laptop.sync();
        phoneClock.advance(Duration.ofSeconds(5));
        for (String collection : collections) {
            phone.update(collection, "r1", "{\"t\":\"phone\",\"p\":1}");
            laptop.update(collection, "r1", "{\"t\":\"laptop\",\"l\":1}");
        }
        phone.sync();
        SyncResult laptopSync = laptop.sync();

        assertThat(laptopSync.conflicts()).isEqualTo(5);
        assertThat(laptopSync.applied()).as("the three changes that won went again in the same sync").isEqualTo(3);
        assertThat(laptopSync.pending()).isZero();
        assertThat(onServer("posts", "r1")).as("last modified wins: the phone's was later")
                .isEqualTo(json("{\"t\":\"phone\",\"a\":\"start\",\"p\":1}"));
        assertThat(onServer("comments", "r1")).as("client wins: the laptop's fields on top")
                .isEqualTo(json("{\"t\":\"laptop\",\"a\":\"start\",\"p\":1,\"l\":1}"));
        assertThat(onServer("messages", "r1")).isEqualTo(json("{\"t\":\"laptop\",\"a\":\"start\",\"p\":1,\"l\":1}"));
        assertThat(onServer("profiles", "r1")).as("merge: t changed on both goes to the later change")
                .isEqualTo(json("{\"t\":\"phone\",\"a\":\"start\",\"p\":1,\"l\":1}"));
        assertThat(onServer("tasks", "r1")).as("server wins").isEqualTo(json("{\"t\":\"phone\",\"a\":\"start\",\"p\":1}"));
        for (String collection : collections) {
            assertConverged(collection, "r1");
        }

        assertThat(heard).hasSize(5);
        Map<String, Resolution.Kind> kinds = new java.util.HashMap<>();
        heard.forEach(event -> kinds.put(((Conflict) event[0]).collection(), ((Resolution) event[1]).kind()));
        assertThat(kinds).containsExactlyInAnyOrderEntriesOf(Map.of("posts", Resolution.Kind.SERVER,
                "comments", Resolution.Kind.LOCAL, "messages", Resolution.Kind.LOCAL, "profiles", Resolution.Kind.MERGED,
                "tasks", Resolution.Kind.SERVER));
        assertThat(laptop.conflicts()).as("none waits for the app").isEmpty();
        assertThat(laptop.ops(OpQuery.builder().states(OpState.CONFLICT).build()))
                .as("the changes that lost stay on record").extracting(OpInfo::collection)
                .containsExactlyInAnyOrder("posts", "tasks");
    }

    @Test
    void lastModifiedWinsSendsTheLaptopsLaterChangeAgainAgainstTheServersVersion() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, b -> b.conflictPolicy("notes", ClientConflictPolicy.LAST_MODIFIED_WINS));
        SyncResult laptopSync = bothEdit("notes", "n1", "{\"t\":\"start\",\"keep\":1}", "{\"t\":\"phone\"}",
                "{\"t\":\"laptop\"}", Duration.ofSeconds(5));

        assertThat(laptopSync.conflicts()).isEqualTo(1);
        assertThat(laptopSync.applied()).isEqualTo(1);
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"laptop\",\"keep\":1}"));
        assertThat(server.changes(user)).as("create, phone, laptop").hasSize(3);
        assertConverged("notes", "n1");
        assertThat(laptop.get("notes", "n1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(heardFor("n1")).isEqualTo(Resolution.useLocal());
    }

    @Test
    void mergeKeepsEachSidesFieldsAndGivesAFieldChangedOnBothToTheLaterChange() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, b -> b.conflictPolicy("notes", ClientConflictPolicy.MERGE));
        bothEdit("notes", "n1", "{\"title\":\"t\",\"body\":\"b\",\"tag\":\"x\"}", "{\"title\":\"phone title\",\"tag\":\"phone\"}",
                "{\"body\":\"laptop body\",\"tag\":\"laptop\"}", Duration.ofSeconds(5));

        assertThat(onServer("notes", "n1"))
                .isEqualTo(json("{\"title\":\"phone title\",\"body\":\"laptop body\",\"tag\":\"laptop\"}"));
        assertConverged("notes", "n1");
        assertThat(heardFor("n1").kind()).isEqualTo(Resolution.Kind.MERGED);
    }

    @Test
    void clientWinsDeletesARecordTheServerChangedAndBringsBackOneTheServerDeleted() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, UnaryOperator.identity());
        phone.put("comments", "edited-there", "{\"text\":\"hi\"}");
        phone.put("comments", "deleted-there", "{\"text\":\"hello\",\"likes\":1}");
        phone.sync();
        laptop.sync();
        phone.update("comments", "edited-there", "{\"text\":\"hi, edited\"}");
        phone.delete("comments", "deleted-there");
        phone.sync();
        laptop.delete("comments", "edited-there");
        laptop.update("comments", "deleted-there", "{\"text\":\"hello, edited\"}");

        SyncResult laptopSync = laptop.sync();

        assertThat(laptopSync.conflicts()).isEqualTo(2);
        assertThat(laptopSync.applied()).isEqualTo(2);
        assertThat(onServer("comments", "edited-there")).as("the laptop's delete went again").isNull();
        assertThat(onServer("comments", "deleted-there")).as("created again as the laptop had it")
                .isEqualTo(json("{\"text\":\"hello, edited\",\"likes\":1}"));
        assertConverged("comments", "edited-there");
        assertConverged("comments", "deleted-there");
        Conflict deleted = (Conflict) heard.stream().filter(e -> ((Conflict) e[0]).recordId().equals("edited-there"))
                .findFirst().orElseThrow()[0];
        assertThat(deleted.local()).as("the laptop deleted it").isNull();
        assertThat(deleted.remote()).isEqualTo(json("{\"text\":\"hi, edited\"}"));
    }

    @Test
    void seededDefaultsApplyUnlessOverriddenAndAResolverReplacesAPolicy() {
        OutpostConfig defaults = OutpostConfig.builder().storeFile(dir.resolve("x.db")).build();
        assertThat(defaults.conflictPolicy("posts")).isEqualTo(ClientConflictPolicy.LAST_MODIFIED_WINS);
        assertThat(defaults.conflictPolicy("comments")).isEqualTo(ClientConflictPolicy.CLIENT_WINS);
        assertThat(defaults.conflictPolicy("messages")).isEqualTo(ClientConflictPolicy.CLIENT_WINS);
        assertThat(defaults.conflictPolicy("profiles")).isEqualTo(ClientConflictPolicy.MERGE);
        assertThat(defaults.conflictPolicy("shared-resources")).isEqualTo(ClientConflictPolicy.SERVER_WINS);
        assertThat(defaults.conflictResolvers()).isEmpty();

        ConflictResolver resolver = conflict -> Resolution.useServer();
        OutpostConfig configured = OutpostConfig.builder().storeFile(dir.resolve("x.db"))
                .conflictPolicy("posts", ClientConflictPolicy.PROMPT_USER)
                .defaultConflictPolicy(ClientConflictPolicy.CLIENT_WINS)
                .conflictResolver("profiles", resolver)
                .conflictResolver("notes", resolver).conflictPolicy("notes", ClientConflictPolicy.MERGE)
                .build();
        assertThat(configured.conflictPolicy("posts")).isEqualTo(ClientConflictPolicy.PROMPT_USER);
        assertThat(configured.conflictPolicy("comments")).as("seeded still").isEqualTo(ClientConflictPolicy.CLIENT_WINS);
        assertThat(configured.conflictPolicy("anything")).isEqualTo(ClientConflictPolicy.CLIENT_WINS);
        assertThat(configured.conflictPolicy("notes")).isEqualTo(ClientConflictPolicy.MERGE);
        assertThat(configured.conflictResolvers()).containsOnlyKeys("profiles");
    }

    // ---- PROMPT_USER ------------------------------------------------------------------------------

    /** The laptop's change to notes/n1 conflicts and waits; it then changes n1 once more. */
    private Conflict promptedConflict() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = openLaptopPrompting();
        SyncResult laptopSync = bothEdit("notes", "n1", "{\"t\":\"start\",\"keep\":1}", "{\"t\":\"phone\"}",
                "{\"t\":\"laptop\"}", Duration.ofSeconds(5));
        assertThat(laptopSync.conflicts()).isEqualTo(1);
        assertThat(laptopSync.applied()).isZero();
        List<Conflict> open = laptop.conflicts();
        assertThat(open).hasSize(1);
        laptop.update("notes", "n1", "{\"extra\":true}");
        assertThat(laptop.sync().pushed()).as("the later change waits behind the conflict").isZero();
        return open.get(0);
    }

    private Outpost openLaptopPrompting() throws OutpostException {
        return device("laptop", laptopClock, b -> b.conflictPolicy("notes", ClientConflictPolicy.PROMPT_USER));
    }

    private void reopenLaptop() throws OutpostException {
        laptop.close();
        opened.remove(laptop);
        laptop = openLaptopPrompting();
    }

    @Test
    void promptUserStoresBaseLocalAndRemoteShowsTheServersRecordAndHoldsTheRecordsLaterChanges() throws Exception {
        Conflict conflict = promptedConflict();

        assertThat(conflict.collection()).isEqualTo("notes");
        assertThat(conflict.recordId()).isEqualTo("n1");
        assertThat(conflict.base()).isEqualTo(json("{\"t\":\"start\",\"keep\":1}"));
        assertThat(conflict.local()).isEqualTo(json("{\"t\":\"laptop\",\"keep\":1}"));
        assertThat(conflict.remote()).isEqualTo(json("{\"t\":\"phone\",\"keep\":1}"));
        assertThat(conflict.remoteVersion()).isEqualTo(2);
        assertThat(conflict.remoteDeleted()).isFalse();
        assertThat(conflict.localHlc()).as("the laptop's change was later").isGreaterThan(conflict.remoteHlc());
        assertThat(conflict.detectedAt()).isEqualTo(laptopClock.instant());
        assertThat(conflict.error()).isNull();
        assertThat(heard).hasSize(1);
        assertThat(heardFor("n1")).isEqualTo(Resolution.later());

        LocalRecord shown = laptop.get("notes", "n1").orElseThrow();
        assertThat(shown.data()).as("the server's record, with the later change").isEqualTo(
                json("{\"t\":\"phone\",\"keep\":1,\"extra\":true}"));
        assertThat(shown.state()).isEqualTo(SyncState.CONFLICT);
        assertThat(laptop.list("notes")).extracting(LocalRecord::state).containsExactly(SyncState.CONFLICT);
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"phone\",\"keep\":1}"));
        assertThat(laptop.pendingCount()).isEqualTo(1);
        assertThat(laptop.ops(OpQuery.builder().states(OpState.PENDING).build())).extracting(OpInfo::waitingFor)
                .containsExactly(conflict.opId());
        assertThat(laptop.statusLine()).isEqualTo("1 conflict waits for review; 1 change waiting to sync");
    }

    @Test
    void useServerDropsTheLocalChangeAndLetsTheLaterChangesGo() throws Exception {
        Conflict conflict = promptedConflict();

        laptop.resolveConflict(conflict.id(), Resolution.useServer());

        assertThat(laptop.conflicts()).isEmpty();
        SyncResult result = laptop.sync();
        assertThat(result.applied()).isEqualTo(1);
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"phone\",\"keep\":1,\"extra\":true}"));
        assertConverged("notes", "n1");
        assertThat(laptop.get("notes", "n1").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(laptop.queueStats().conflicts()).as("the dropped change stays on record").isEqualTo(1);
    }

    @Test
    void forceUpdateAfterARestartSendsTheLocalChangeAgainstTheNewVersionBeforeTheLaterChanges() throws Exception {
        Conflict conflict = promptedConflict();
        reopenLaptop();
        assertThat(laptop.conflicts()).containsExactly(conflict);
        assertThat(laptop.get("notes", "n1").orElseThrow().state()).isEqualTo(SyncState.CONFLICT);

        laptop.resolveConflict(conflict.id(), Resolution.useLocal());

        assertThat(laptop.get("notes", "n1").orElseThrow().data()).isEqualTo(json("{\"t\":\"laptop\",\"keep\":1,\"extra\":true}"));
        SyncResult result = laptop.sync();
        assertThat(result.applied()).isEqualTo(2);
        assertThat(result.conflicts()).isZero();
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"laptop\",\"keep\":1,\"extra\":true}"));
        assertConverged("notes", "n1");
    }

    @Test
    void reviewLaterKeepsTheConflictAcrossRestartsUntilMergedDataSettlesIt() throws Exception {
        Conflict conflict = promptedConflict();

        laptop.resolveConflict(conflict.id(), Resolution.later());
        assertThat(laptop.conflicts()).containsExactly(conflict);
        reopenLaptop();
        assertThat(laptop.sync().pushed()).isZero();
        assertThat(laptop.conflicts()).containsExactly(conflict);

        laptop.resolveConflict(conflict.id(), Resolution.merged(json("{\"t\":\"phone and laptop\",\"keep\":1,\"gone\":null}")));

        assertThat(laptop.sync().applied()).isEqualTo(2);
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"phone and laptop\",\"keep\":1,\"extra\":true}"));
        assertConverged("notes", "n1");
        assertThat(laptop.conflicts()).isEmpty();
    }

    @Test
    void aConflictWhoseChangeTheServerAlreadyHoldsIsNotPutToTheUser() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = openLaptopPrompting();
        SyncResult laptopSync = bothEdit("notes", "n1", "{\"t\":\"start\"}", "{\"t\":\"same\"}", "{\"t\":\"same\"}",
                Duration.ofSeconds(5));
        assertThat(laptopSync.conflicts()).isEqualTo(1);
        assertThat(laptop.conflicts()).isEmpty();
        assertThat(heardFor("n1")).isEqualTo(Resolution.useServer());
        assertConverged("notes", "n1");
    }

    @Test
    void sensitiveFieldsOfAStoredConflictAreSealedAtRest() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, b -> b.conflictPolicy("notes", ClientConflictPolicy.PROMPT_USER)
                .sensitiveFields("notes", "secret"));
        bothEdit("notes", "n1", "{\"secret\":\"s-start\"}", "{\"secret\":\"s-phone\"}", "{\"secret\":\"s-laptop\"}",
                Duration.ofSeconds(5));

        Conflict conflict = laptop.conflicts().get(0);
        assertThat(conflict.base()).isEqualTo(json("{\"secret\":\"s-start\"}"));
        assertThat(conflict.local()).isEqualTo(json("{\"secret\":\"s-laptop\"}"));
        assertThat(conflict.remote()).isEqualTo(json("{\"secret\":\"s-phone\"}"));
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("laptop.db"));
                Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("SELECT base || local || remote FROM conflicts")) {
            rows.next();
            assertThat(rows.getString(1)).contains("secret").doesNotContain("s-start", "s-laptop", "s-phone");
        }
    }

    // ---- resolvers --------------------------------------------------------------------------------

    @Test
    void aThrowingResolverLeavesTheConflictPendingAndReportsIt() throws Exception {
        List<Conflict> asked = new CopyOnWriteArrayList<>();
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, b -> b.conflictResolver("notes", conflict -> {
            asked.add(conflict);
            throw new IllegalStateException("resolver bug");
        }));
        SyncResult laptopSync = bothEdit("notes", "n1", "{\"t\":\"start\"}", "{\"t\":\"phone\"}", "{\"t\":\"laptop\"}",
                Duration.ofSeconds(5));

        assertThat(laptopSync.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(laptopSync.conflicts()).isEqualTo(1);
        assertThat(asked).hasSize(1);
        List<Conflict> open = laptop.conflicts();
        assertThat(open).hasSize(1);
        assertThat(open.get(0).id()).isEqualTo(asked.get(0).id());
        assertThat(open.get(0).error()).contains("resolver bug").contains("notes");
        assertThat(open.get(0).local()).isEqualTo(json("{\"t\":\"laptop\"}"));
        assertThat(heard).hasSize(1);
        assertThat(((Conflict) heard.get(0)[0]).error()).contains("resolver bug");
        assertThat(heard.get(0)[1]).isEqualTo(Resolution.later());
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"phone\"}"));

        laptop.sync();
        assertThat(asked).as("asked once").hasSize(1);
        laptop.resolveConflict(open.get(0).id(), Resolution.useLocal());
        laptop.sync();
        assertThat(onServer("notes", "n1")).as("nothing was dropped").isEqualTo(json("{\"t\":\"laptop\"}"));
        assertConverged("notes", "n1");
    }

    @Test
    void aConflictStillWaitingForItsResolverWhenTheAppStoppedIsPutToItAtTheNextOpen() throws Exception {
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, b -> b.conflictResolver("notes", conflict -> {
            throw new IllegalStateException("not now");
        }));
        bothEdit("notes", "n1", "{\"t\":\"start\"}", "{\"t\":\"phone\"}", "{\"t\":\"laptop\"}", Duration.ofSeconds(5));
        laptop.close();
        opened.remove(laptop);
        // As if the app had stopped between storing the conflict and asking the resolver.
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + dir.resolve("laptop.db"));
                Statement statement = db.createStatement()) {
            assertThat(statement.executeUpdate("UPDATE conflicts SET awaiting_resolver = 1, error = NULL")).isEqualTo(1);
        }
        heard.clear();

        laptop = device("laptop", laptopClock, b -> b.conflictResolver("notes", conflict -> Resolution.useLocal()));

        assertThat(laptop.conflicts()).isEmpty();
        assertThat(heardFor("n1")).isEqualTo(Resolution.useLocal());
        assertThat(laptop.sync().applied()).isEqualTo(1);
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"laptop\"}"));
        assertConverged("notes", "n1");
    }

    @Test
    void aResolversMergedRecordIsSentInTheSameSync() throws Exception {
        List<Conflict> asked = new CopyOnWriteArrayList<>();
        phone = device("phone", phoneClock, UnaryOperator.identity());
        laptop = device("laptop", laptopClock, b -> b.conflictResolver("notes", conflict -> {
            asked.add(conflict);
            ObjectNode merged = conflict.remote().deepCopy();
            merged.put("t", conflict.remote().get("t").asText() + " + " + conflict.local().get("t").asText());
            return Resolution.merged(merged);
        }));
        SyncResult laptopSync = bothEdit("notes", "n1", "{\"t\":\"start\",\"keep\":1}", "{\"t\":\"phone\",\"p\":1}",
                "{\"t\":\"laptop\"}", Duration.ofSeconds(5));

        assertThat(laptopSync.conflicts()).isEqualTo(1);
        assertThat(laptopSync.applied()).isEqualTo(1);
        assertThat(asked).hasSize(1);
        assertThat(asked.get(0).base()).isEqualTo(json("{\"t\":\"start\",\"keep\":1}"));
        assertThat(asked.get(0).local()).isEqualTo(json("{\"t\":\"laptop\",\"keep\":1}"));
        assertThat(asked.get(0).remote()).isEqualTo(json("{\"t\":\"phone\",\"keep\":1,\"p\":1}"));
        assertThat(onServer("notes", "n1")).isEqualTo(json("{\"t\":\"phone + laptop\",\"keep\":1,\"p\":1}"));
        assertThat(heardFor("n1").kind()).isEqualTo(Resolution.Kind.MERGED);
        assertThat(laptop.conflicts()).isEmpty();
        assertConverged("notes", "n1");
    }

    @Test
    void aChangeTheServerKeepsAnsweringConflictEndsWaitingForTheAppInsteadOfKeepingTheSyncBusy() throws Exception {
        AtomicLong version = new AtomicLong(1);
        Transport busyRecord = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) {
                return new PushResponse(request.ops().stream().map(op -> {
                    long now = version.incrementAndGet();
                    return OpResult.conflict(op.opId(), new ServerRecord(op.collection(), op.recordId(), now, false,
                            json("{\"t\":\"server " + now + "\"}"), "9999999999999-00000-elsewhere"));
                }).toList());
            }

            @Override
            public PullResponse pull(String cursor, int limit, String token) {
                return new PullResponse(List.of(), "end", false);
            }
        };
        Outpost device = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("busy.db"))
                .transport(busyRecord).clock(phoneClock).conflictPolicy("notes", ClientConflictPolicy.CLIENT_WINS).build());
        opened.add(device);
        device.put("notes", "n1", "{\"t\":\"mine\"}");

        SyncResult result = device.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.conflicts()).as("sent again 8 times, then held").isEqualTo(9);
        List<Conflict> open = device.conflicts();
        assertThat(open).hasSize(1);
        assertThat(open.get(0).error()).contains("8 times");
        assertThat(open.get(0).local()).isEqualTo(json("{\"t\":\"mine\"}"));
        assertThat(device.get("notes", "n1").orElseThrow().state()).isEqualTo(SyncState.CONFLICT);
    }

    // ---- bad input --------------------------------------------------------------------------------

    @Test
    void badResolutionsAndSettingsAreRefusedWithClearErrors() throws Exception {
        Conflict conflict = promptedConflict();

        assertThatThrownBy(() -> laptop.resolveConflict("no-such-conflict", Resolution.useServer()))
                .isInstanceOfSatisfying(OutpostException.class, e -> {
                    assertThat(e.category()).isEqualTo(OutpostException.Category.VALIDATION);
                    assertThat(e.code()).isEqualTo("CONFLICT_NOT_FOUND");
                    assertThat(e.getMessage()).contains("no-such-conflict");
                });
        assertThatThrownBy(() -> laptop.resolveConflict(conflict.id(), null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> laptop.resolveConflict(null, Resolution.useServer())).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> Resolution.merged(null)).isInstanceOf(NullPointerException.class);
        ObjectNode deep = json("{}");
        ObjectNode inner = deep;
        for (int i = 0; i < 40; i++) {
            inner = inner.putObject("d");
        }
        assertThatThrownBy(() -> laptop.resolveConflict(conflict.id(), Resolution.merged(deep)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("levels");
        assertThat(laptop.conflicts()).as("nothing changed").containsExactly(conflict);

        laptop.resolveConflict(conflict.id(), Resolution.useServer());
        assertThatThrownBy(() -> laptop.resolveConflict(conflict.id(), Resolution.useLocal()))
                .isInstanceOfSatisfying(OutpostException.class, e -> {
                    assertThat(e.code()).isEqualTo("CONFLICT_ALREADY_RESOLVED");
                    assertThat(e.getMessage()).contains(conflict.id()).contains("notes/n1").contains("SERVER");
                });

        OutpostConfig.Builder builder = OutpostConfig.builder();
        assertThatThrownBy(() -> builder.conflictPolicy("bad/name", ClientConflictPolicy.MERGE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("'bad/name'");
        assertThatThrownBy(() -> builder.conflictResolver("", c -> Resolution.later()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("collection");
        assertThatThrownBy(() -> builder.conflictPolicy("notes", null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> builder.conflictResolver("notes", null)).isInstanceOf(NullPointerException.class);
        assertThatThrownBy(() -> builder.defaultConflictPolicy(null)).isInstanceOf(NullPointerException.class);
    }

    // ---- schema --------------------------------------------------------------------------------------

    @Test
    void aVersionFourStoreOpensAtTheCurrentVersionWithItsDataAndQueue() throws Exception {
        Path file = dir.resolve("v4.db");
        String deviceId = UUID.randomUUID().toString();
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement()) {
            for (String script : List.of("V1__local_store.sql", "V2__retry_schedule.sql", "V3__fewer_pages_per_write.sql",
                    "V4__codec_and_retention.sql")) {
                for (String sql : script(script).split(";\\s*\n")) {
                    String stripped = withoutComments(sql);
                    if (!stripped.isEmpty()) {
                        statement.execute(stripped);
                    }
                }
            }
            statement.execute("PRAGMA user_version = 4");
            statement.execute("INSERT INTO meta (key, value) VALUES ('device_id', '" + deviceId + "')");
            statement.execute("INSERT INTO records (collection, id, data, deleted, server_data, server_version, server_deleted) "
                    + "VALUES ('notes', 'old', '{\"title\":\"from v4\"}', 0, NULL, 0, 1)");
            statement.execute("INSERT INTO ops (seq, op_id, collection, record_id, type, base_version, data, hlc, priority, "
                    + "created_at, status, size, codec) VALUES (1, 'v4-op', 'notes', 'old', 'CREATE', NULL, "
                    + "'{\"title\":\"from v4\"}', '" + phoneClock.millis() + "-00000-" + deviceId + "', 'NORMAL', "
                    + phoneClock.millis() + ", 'PENDING', 20, 0)");
        }

        phone = device("v4", phoneClock, UnaryOperator.identity());

        assertThat(phone.deviceId()).isEqualTo(deviceId);
        assertThat(phone.get("notes", "old").orElseThrow().data()).isEqualTo(json("{\"title\":\"from v4\"}"));
        assertThat(phone.pendingCount()).isEqualTo(1);
        assertThat(phone.conflicts()).isEmpty();
        assertThat(phone.sync().applied()).isEqualTo(1);
        assertThat(onServer("notes", "old")).isEqualTo(json("{\"title\":\"from v4\"}"));
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("PRAGMA user_version")) {
            rows.next();
            assertThat(rows.getInt(1)).isEqualTo(8);
        }
    }

    /**
     * Version 5 kept each record's server state beside its view. Opened at version 6, a record
     * in sync keeps its state once and a record with a pending edit keeps both; each then
     * shows, changes and syncs as before, against the version it was at.
     */
    @Test
    void aVersionFiveStoreKeepsEachRecordsServerStateThroughTheMigration() throws Exception {
        Path file = dir.resolve("v5.db");
        phone = device("v5", phoneClock, UnaryOperator.identity());
        phone.put("notes", "synced", "{\"title\":\"in sync\"}");
        phone.put("notes", "edited", "{\"title\":\"first\"}");
        phone.sync();
        phone.put("notes", "edited", "{\"title\":\"edited offline\"}");
        phone.close();
        opened.remove(phone);
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement()) {
            // As version 5 wrote them: every live server state in its own column.
            statement.execute("UPDATE records SET server_data = data WHERE server_data IS NULL AND server_deleted = 0");
            statement.execute("DROP INDEX ops_unbased");
            statement.execute("ALTER TABLE conflicts DROP COLUMN remote_record_id");
            statement.execute("PRAGMA user_version = 5");
        }

        phone = device("v5", phoneClock, UnaryOperator.identity());

        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("SELECT id, server_data FROM records ORDER BY id")) {
            assertThat(rows.next()).isTrue();
            assertThat(rows.getString(1)).isEqualTo("edited");
            assertThat(json(rows.getString(2))).isEqualTo(json("{\"title\":\"first\"}"));
            assertThat(rows.next()).isTrue();
            assertThat(rows.getString(1)).isEqualTo("synced");
            assertThat(rows.getString(2)).as("stored once, as the view").isNull();
        }
        assertThat(phone.get("notes", "synced").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(phone.get("notes", "edited").orElseThrow().data()).isEqualTo(json("{\"title\":\"edited offline\"}"));
        phone.put("notes", "synced", "{\"title\":\"changed after\"}");
        SyncResult result = phone.sync();
        assertThat(result.applied()).isEqualTo(2);
        assertThat(result.conflicts()).isZero();
        assertThat(onServer("notes", "synced")).isEqualTo(json("{\"title\":\"changed after\"}"));
        assertThat(onServer("notes", "edited")).isEqualTo(json("{\"title\":\"edited offline\"}"));
        assertThat(phone.get("notes", "synced").orElseThrow().version()).isEqualTo(2);
    }

    /**
     * Version 6 stored a CREATE without a base version even when it was its record's first open
     * op. Opened at version 7, such a queue goes out as before: in order per record, each record's
     * view right after, and the answer to the first op of a record with a later op does not
     * make the view (which holds the later one too) the server's state.
     */
    @Test
    void aVersionSixQueueGoesOutInOrderAfterTheMigration() throws Exception {
        Path file = dir.resolve("v6.db");
        phone = device("v6", phoneClock, UnaryOperator.identity());
        phone.put("notes", "alone", "{\"title\":\"alone\"}");
        phone.put("notes", "twice", "{\"title\":\"first\"}");
        phone.close();
        opened.remove(phone);
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement()) {
            // As version 6 wrote them: every CREATE without a base version.
            statement.execute("UPDATE ops SET base_version = NULL WHERE type = 'CREATE'");
            statement.execute("DROP INDEX ops_unbased");
            statement.execute("ALTER TABLE conflicts DROP COLUMN remote_record_id");
            statement.execute("PRAGMA user_version = 6");
        }

        // The first push carries both CREATEs; the second, the UPDATE behind one of them, fails.
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(10));
        AtomicLong pushes = new AtomicLong();
        Transport failingSecondPush = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) throws OutpostException {
                if (pushes.incrementAndGet() == 2) {
                    throw new OutpostException(OutpostException.Category.NETWORK, "CUT", "the link went down");
                }
                return http.push(request, token);
            }

            @Override
            public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                return http.pull(cursor, limit, token);
            }
        };
        phone = device("v6", phoneClock, builder -> builder.coalescing(false).pushBatchSize(2).transport(failingSecondPush));
        phone.put("notes", "twice", "{\"title\":\"second\"}");

        assertThat(phone.sync().status()).isNotEqualTo(SyncResult.Status.COMPLETED);
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("SELECT server_data, server_version FROM records WHERE id = 'twice'")) {
            assertThat(rows.next()).isTrue();
            assertThat(rows.getString(1)).as("the server's state, kept apart from the view").isNotNull();
            assertThat(json(rows.getString(1))).as("the server's state, apart from the view with the pending UPDATE")
                    .isEqualTo(json("{\"title\":\"first\"}"));
            assertThat(rows.getLong(2)).isEqualTo(1);
        }
        assertThat(phone.get("notes", "twice").orElseThrow().data()).isEqualTo(json("{\"title\":\"second\"}"));

        SyncResult result = phone.sync();
        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.applied()).isEqualTo(1);
        assertThat(onServer("notes", "alone")).isEqualTo(json("{\"title\":\"alone\"}"));
        assertThat(onServer("notes", "twice")).isEqualTo(json("{\"title\":\"second\"}"));
        assertThat(phone.get("notes", "twice").orElseThrow().state()).isEqualTo(SyncState.SYNCED);
        assertThat(phone.get("notes", "alone").orElseThrow().version()).isEqualTo(1);
        try (Connection db = DriverManager.getConnection("jdbc:sqlite:" + file); Statement statement = db.createStatement();
                ResultSet rows = statement.executeQuery("PRAGMA user_version")) {
            rows.next();
            assertThat(rows.getInt(1)).isEqualTo(8);
        }
    }

    private static String script(String name) throws IOException {
        try (InputStream in = Outpost.class.getResourceAsStream("/dev/outpost/client/internal/" + name)) {
            if (in != null) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        }
        // Encapsulated in the module: read it from the source tree instead.
        return Files.readString(Path.of("src/main/resources/dev/outpost/client/internal/" + name));
    }

    private static String withoutComments(String sql) {
        StringBuilder out = new StringBuilder();
        for (String line : sql.split("\n")) {
            if (!line.strip().startsWith("--")) {
                out.append(line).append('\n');
            }
        }
        return out.toString().strip();
    }
}
