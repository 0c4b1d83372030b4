package dev.outpost.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.Wire;
import dev.outpost.server.NaturalKey;
import dev.outpost.testdb.TestDatabases;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The indexes behind natural-key lookups, on the run's database (SQLite, or PostgreSQL when chosen). */
class NaturalKeyIndexTest {
    private static final NaturalKey CALLS = NaturalKey.builder().exact("lineId", "number", "direction")
            .within("startedAt", 1000).within("durationSeconds", 1).build();

    @TempDir
    Path dir;

    private String url;

    @AfterEach
    void dropSchema() throws Exception {
        if (url != null && url.startsWith("jdbc:postgresql:")) {
            TestDatabases.dropSchema(url);
        }
    }

    private String url() {
        url = TestDatabases.postgresql() ? TestDatabases.freshPostgresUrl() : "jdbc:sqlite:" + dir.resolve("server.db");
        return url;
    }

    private static void start(String url, Map<String, NaturalKey> keys) throws Exception {
        JdbcSyncStore.open(url, 2, Clock.systemUTC(), 1 << 20, new Policies(Map.of(), ConflictPolicy.SERVER_WINS, Map.of(), keys))
                .close();
    }

    private static List<String> indexes(Connection db, Dialect dialect) throws Exception {
        List<String> names = new ArrayList<>();
        try (Statement statement = db.createStatement(); ResultSet rows = statement.executeQuery(dialect.naturalKeyIndexNames())) {
            while (rows.next()) {
                names.add(rows.getString(1));
            }
        }
        return names;
    }

    @Test
    void aNaturalKeyLookupIsAnIndexSearchOverTheCollectionsLiveRecords() throws Exception {
        String url = url();
        start(url, Map.of("calls", CALLS));
        Dialect dialect = Dialect.of(url);
        List<Object> args = new ArrayList<>();
        String lookup = NaturalKeyIndexes.lookup(dialect, "user:ann", "calls", CALLS, Wire.object(
                "{\"lineId\":\"l1\",\"number\":\"+15550100\",\"direction\":\"IN\",\"startedAt\":1700000000000,\"durationSeconds\":42}"),
                args);

        StringBuilder plan = new StringBuilder();
        try (Connection db = DriverManager.getConnection(url)) {
            if (dialect == Dialect.POSTGRESQL) {
                // On an empty table a scan is cheapest; what is asked here is whether the index can serve.
                try (Statement statement = db.createStatement()) {
                    statement.execute("SET enable_seqscan = off");
                }
            }
            String explain = (dialect == Dialect.POSTGRESQL ? "EXPLAIN " : "EXPLAIN QUERY PLAN ") + lookup;
            try (PreparedStatement statement = db.prepareStatement(explain)) {
                for (int i = 0; i < args.size(); i++) {
                    statement.setObject(i + 1, args.get(i));
                }
                try (ResultSet rows = statement.executeQuery()) {
                    int column = rows.getMetaData().getColumnCount();
                    while (rows.next()) {
                        plan.append(rows.getString(column)).append('\n');
                    }
                }
            }
        }

        assertThat(plan.toString()).contains(NaturalKeyIndexes.name("calls", CALLS)).doesNotContain("SCAN records");
    }

    @Test
    void theIndexesFollowTheConfigurationFromOneStartToTheNext() throws Exception {
        String url = url();
        Dialect dialect = Dialect.of(url);
        NaturalKey byNumber = NaturalKey.builder().exact("number").build();
        NaturalKey byTimeOnly = NaturalKey.builder().within("startedAt", 1000).build();

        start(url, Map.of("calls", CALLS, "sms", byNumber));
        try (Connection db = DriverManager.getConnection(url)) {
            assertThat(indexes(db, dialect)).containsExactlyInAnyOrder(NaturalKeyIndexes.name("calls", CALLS),
                    NaturalKeyIndexes.name("sms", byNumber));
        }
        start(url, Map.of("calls", byNumber, "sms", byTimeOnly));
        try (Connection db = DriverManager.getConnection(url)) {
            assertThat(indexes(db, dialect)).as("a key with no exact field has no index")
                    .containsExactly(NaturalKeyIndexes.name("calls", byNumber));
        }
        start(url, Map.of());
        try (Connection db = DriverManager.getConnection(url)) {
            assertThat(indexes(db, dialect)).isEmpty();
        }
    }
}
