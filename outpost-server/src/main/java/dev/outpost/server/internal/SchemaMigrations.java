package dev.outpost.server.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Arrays;
import java.util.Collection;
import java.util.List;
import javax.sql.DataSource;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.MigrationInfo;
import org.flywaydb.core.api.MigrationState;
import org.flywaydb.core.api.ResourceProvider;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.flywaydb.core.api.resource.LoadableResource;

/**
 * Brings a database's schema to the current version with Flyway, from the scripts
 * {@code db/<dialect>/V<n>__<name>.sql} in this module. The scripts are listed here and read
 * from the module itself (a named module's resources are not visible to a class-path scan).
 * A database whose schema is newer than this server's is refused before anything is changed.
 */
final class SchemaMigrations {
    /** The scripts of each dialect, oldest first; both dialects keep the same versions. */
    static final List<String> SCRIPTS = List.of("V1__sync_schema.sql", "V2__change_history_by_record.sql",
            "V3__manual_conflicts.sql");

    /** The table of the home-grown migrations that came before Flyway. */
    private static final String LEGACY_TABLE = "schema_version";

    private SchemaMigrations() {
    }

    static void migrate(DataSource dataSource, Dialect dialect) throws SQLException {
        int legacyVersion = legacyVersion(dataSource);
        FluentConfiguration config = Flyway.configure(SchemaMigrations.class.getClassLoader())
                .dataSource(dataSource)
                .resourceProvider(new Scripts(dialect))
                .cleanDisabled(true)
                .validateOnMigrate(true);
        if (legacyVersion > 0) {
            config.baselineOnMigrate(true).baselineVersion(String.valueOf(legacyVersion))
                    .baselineDescription("schema from before Flyway");
        }
        Flyway flyway = config.load();
        for (MigrationInfo applied : flyway.info().all()) {
            if (applied.getState() == MigrationState.FUTURE_SUCCESS || applied.getState() == MigrationState.FUTURE_FAILED) {
                throw new SQLException("the database's schema is at version " + applied.getVersion()
                        + " but this server knows only up to " + SCRIPTS.size() + "; it was written by a newer Outpost");
            }
        }
        if (legacyVersion > SCRIPTS.size()) {
            throw new SQLException("the database's schema is at version " + legacyVersion + " but this server knows only up to "
                    + SCRIPTS.size() + "; it was written by a newer Outpost");
        }
        flyway.migrate();
        if (legacyVersion > 0) {
            try (Connection connection = dataSource.getConnection(); Statement statement = connection.createStatement()) {
                statement.execute("DROP TABLE " + LEGACY_TABLE);
                if (!connection.getAutoCommit()) {
                    connection.commit();
                }
            }
        }
    }

    /**
     * The version recorded by the migrations that came before Flyway, or 0 if this database
     * has none (new, or already under Flyway).
     */
    private static int legacyVersion(DataSource dataSource) throws SQLException {
        try (Connection connection = dataSource.getConnection()) {
            try {
                if (!hasTable(connection, LEGACY_TABLE) || hasTable(connection, "flyway_schema_history")) {
                    return 0;
                }
                try (Statement statement = connection.createStatement();
                        ResultSet rows = statement.executeQuery("SELECT COALESCE(MAX(version), 0) FROM " + LEGACY_TABLE)) {
                    rows.next();
                    return rows.getInt(1);
                }
            } finally {
                if (!connection.getAutoCommit()) {
                    connection.rollback();
                }
            }
        }
    }

    private static boolean hasTable(Connection connection, String table) throws SQLException {
        try (ResultSet tables = connection.getMetaData().getTables(null, null, table, new String[] {"TABLE"})) {
            return tables.next();
        }
    }

    /** This module's scripts for one dialect, as Flyway resources. */
    private static final class Scripts implements ResourceProvider {
        private final List<LoadableResource> scripts;

        Scripts(Dialect dialect) {
            this.scripts = SCRIPTS.stream().<LoadableResource>map(name -> new Script("db/" + dialect.scripts() + "/" + name, name))
                    .toList();
        }

        @Override
        public LoadableResource getResource(String name) {
            return scripts.stream()
                    .filter(script -> script.getRelativePath().equals(name) || script.getAbsolutePath().equals(name))
                    .findFirst().orElse(null);
        }

        @Override
        public Collection<LoadableResource> getResources(String prefix, String[] suffixes) {
            return scripts.stream()
                    .filter(script -> script.getFilename().startsWith(prefix)
                            && Arrays.stream(suffixes).anyMatch(script.getFilename()::endsWith))
                    .toList();
        }
    }

    private static final class Script extends LoadableResource {
        private final String path;
        private final String name;

        Script(String path, String name) {
            this.path = path;
            this.name = name;
        }

        @Override
        public Reader read() {
            try (InputStream in = SchemaMigrations.class.getResourceAsStream("/" + path)) {
                if (in == null) {
                    throw new IllegalStateException("migration script " + path + " is missing from the build");
                }
                return new StringReader(new String(in.readAllBytes(), StandardCharsets.UTF_8));
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read migration script " + path, e);
            }
        }

        @Override
        public String getAbsolutePath() {
            return path;
        }

        @Override
        public String getAbsolutePathOnDisk() {
            return path;
        }

        @Override
        public String getFilename() {
            return name;
        }

        @Override
        public String getRelativePath() {
            return name;
        }
    }
}
