package dev.outpost.cli;

import dev.outpost.server.OutpostServer;
import dev.outpost.server.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code outpost server}: runs the sync server until interrupted. */
@Command(name = "server", mixinStandardHelpOptions = true,
        description = "Run the sync server. With no --db it keeps an SQLite file in the data directory.")
final class ServerCommand implements Callable<Integer> {
    @Option(names = "--port", defaultValue = "8080", description = "port to listen on, 0 for any free one (default: ${DEFAULT-VALUE})")
    int port;

    @Option(names = "--host", defaultValue = "127.0.0.1",
            description = "address to listen on; 0.0.0.0 for every interface (default: ${DEFAULT-VALUE})")
    String host;

    @Option(names = "--data-dir", defaultValue = "outpost-data",
            description = "directory for the signing secret and the embedded database (default: ${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--db", description = "database JDBC URL (default: jdbc:sqlite:<data-dir>/outpost.db)")
    String databaseUrl;

    @Override
    public Integer call() throws Exception {
        boolean newSecret = !Files.exists(dataDir.resolve(Tokens.SECRET_FILE));
        OutpostServer server = OutpostServer.builder()
                .host(host)
                .port(port)
                .dataDir(dataDir)
                .databaseUrl(databaseUrl)
                .build();
        if (newSecret) {
            System.out.println("Created a token signing secret in " + dataDir.resolve(Tokens.SECRET_FILE));
        }
        server.start();
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "outpost-shutdown"));
        System.out.println("Outpost server listening on " + server.url() + " (data in " + dataDir.toAbsolutePath().normalize()
                + "). Get a token with: outpost token --user NAME --data-dir " + dataDir);
        System.out.flush();
        stopped.await();
        return 0;
    }
}
