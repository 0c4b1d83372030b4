package dev.outpost.bench;

import dev.outpost.testdb.TestDatabases;
import java.sql.SQLException;
import java.util.function.Consumer;

/**
 * The PostgreSQL schemas a suite's runs use: a fresh one per run in the embedded PostgreSQL
 * (saying so when it starts), dropped afterwards so runs do not share its files' cache.
 */
final class BenchDatabases {
    private final Consumer<String> say;
    private boolean started;

    BenchDatabases(Consumer<String> say) {
        this.say = say;
    }

    /** A fresh schema's URL, the server started on first use. */
    String freshPostgresUrl() {
        if (!started) {
            say.accept("starting the embedded PostgreSQL 14 (fsync=on, synchronous_commit=on)");
            started = true;
        }
        return TestDatabases.freshPostgresUrl();
    }

    /** Drops the schema a URL names; a failure is said, not thrown (the run's figures stand). */
    void drop(String url) {
        try {
            TestDatabases.dropSchema(url);
        } catch (SQLException | IllegalArgumentException e) {
            say.accept("  (could not drop the schema of " + url + ": " + e.getMessage() + ")");
        }
    }
}
