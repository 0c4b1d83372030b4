package dev.outpost.cli;

import dev.outpost.server.OutpostServer;
import dev.outpost.server.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code outpost server}: runs the sync server until interrupted. Settings come from the
 * defaults, then the configuration file, then OUTPOST_* environment variables, then the flags.
 */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = {"Run the sync server. With no database URL it keeps an SQLite file in the data directory.",
                "Settings: defaults, then --config FILE, then OUTPOST_* environment variables, then these flags."})
final class ServerCommand implements Callable<Integer> {
    @Option(names = "--port", description = "port to listen on, 0 for any free one (default: 8080)")
    Integer port;

    @Option(names = "--host", description = "address to listen on; 0.0.0.0 for every interface (default: 127.0.0.1)")
    String host;

    @Option(names = "--data-dir", description = "directory for the signing secret and the embedded database (default: outpost-data)")
    Path dataDir;

    @Option(names = "--db", description = "database JDBC URL: jdbc:sqlite:FILE or jdbc:postgresql://HOST[:PORT]/DB?user=U&password=P"
            + " (default: jdbc:sqlite:<data-dir>/outpost.db)")
    String databaseUrl;

    @Option(names = "--db-pool-size", description = "most connections to PostgreSQL at once (default: 10)")
    Integer poolSize;

    @Option(names = "--config", description = "a JSON configuration file: token secret or identity provider key, limits,"
            + " conflict policies, counters and natural keys per collection (see docs/SERVER.md)")
    Path config;

    @Override
    public Integer call() throws Exception {
        OutpostServer.Builder builder = OutpostServer.builder();
        if (config != null) {
            builder.configFile(config);
        }
        builder.environment(System.getenv());
        if (host != null) {
            builder.host(host);
        }
        if (port != null) {
            builder.port(port);
        }
        if (databaseUrl != null) {
            builder.databaseUrl(databaseUrl);
        }
        if (poolSize != null) {
            builder.databasePoolSize(poolSize);
        }
        Path directory = dataDir != null ? dataDir
                : System.getenv("OUTPOST_DATA_DIR") != null ? Path.of(System.getenv("OUTPOST_DATA_DIR")) : Path.of("outpost-data");
        builder.dataDir(directory);
        boolean hadSecret = Files.exists(directory.resolve(Tokens.SECRET_FILE));
        OutpostServer server = builder.build();
        // A server given a secret or an identity provider's key by configuration makes no file.
        if (!hadSecret && Files.exists(directory.resolve(Tokens.SECRET_FILE))) {
            System.out.println("Created a token signing secret in " + directory.resolve(Tokens.SECRET_FILE));
        }
        server.start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "outpost-shutdown"));
        System.out.println("Outpost server listening on " + server.url() + " (data in " + directory.toAbsolutePath().normalize()
                + "). " + (server.tokens().canIssue()
                        ? "Get a token with: outpost token --user NAME --data-dir " + directory + (config == null ? "" : " --config " + config)
                        : "It accepts the tokens of the identity provider whose key it was given."));
        System.out.flush();
        stopped.await();
        return 0;
    }
}
