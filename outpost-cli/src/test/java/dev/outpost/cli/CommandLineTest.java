package dev.outpost.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.bench.BenchResult;
import dev.outpost.protocol.Wire;
import dev.outpost.server.Tokens;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CommandLineTest {
    @TempDir
    Path dir;

    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();
    private PrintStream oldOut;
    private PrintStream oldErr;

    @BeforeEach
    void capture() {
        oldOut = System.out;
        oldErr = System.err;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    @AfterEach
    void restore() {
        System.setOut(oldOut);
        System.setErr(oldErr);
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void demoConvergesAndExitsZero() {
        int code = Main.run("demo", "--devices", "3", "--writes", "10", "--seed", "11");

        assertThat(code).as(out()).isZero();
        assertThat(out()).contains("CONVERGED").contains("0 ops lost, 0 applied twice");
    }

    @Test
    void tokenPrintsAJwtTheServerWithThatDataDirectoryAccepts() {
        int code = Main.run("token", "--user", "ann", "--data-dir", dir.toString(), "--ttl", "1h");

        assertThat(code).isZero();
        String token = out().strip();
        assertThat(Tokens.forDataDir(dir).verify(token)).isEqualTo("ann");
        assertThat(Files.exists(dir.resolve(Tokens.SECRET_FILE))).isTrue();
    }

    @Test
    void tokenIsSignedWithTheSecretTheServersConfigurationFileGives() throws Exception {
        byte[] secret = "a secret of the configuration, 32 bytes or more".getBytes(StandardCharsets.US_ASCII);
        Path config = Files.writeString(dir.resolve("server.json"),
                "{\"auth\": {\"hmacSecret\": \"" + java.util.Base64.getEncoder().encodeToString(secret) + "\"}}");

        int code = Main.run("token", "--user", "ann", "--data-dir", dir.resolve("data").toString(), "--config", config.toString());

        assertThat(code).as(err()).isZero();
        assertThat(Tokens.withSecret(secret, java.time.Clock.systemUTC()).verify(out().strip())).isEqualTo("ann");
        assertThat(Files.exists(dir.resolve("data").resolve(Tokens.SECRET_FILE))).isFalse();
    }

    @Test
    void tokenRefusesToSignForAServerOfAnIdentityProvider() throws Exception {
        java.security.KeyPairGenerator generator = java.security.KeyPairGenerator.getInstance("RSA");
        generator.initialize(2048);
        String pem = "-----BEGIN PUBLIC KEY-----\n" + java.util.Base64.getMimeEncoder().encodeToString(
                generator.generateKeyPair().getPublic().getEncoded()) + "\n-----END PUBLIC KEY-----\n";
        Files.writeString(dir.resolve("idp.pem"), pem);
        Path config = Files.writeString(dir.resolve("server.json"),
                "{\"auth\": {\"rsaPublicKeyFile\": \"idp.pem\", \"issuer\": \"https://id.example.com\", \"audience\": \"app\"}}");

        int code = Main.run("token", "--user", "ann", "--data-dir", dir.resolve("data").toString(), "--config", config.toString());

        assertThat(code).isEqualTo(2);
        assertThat(err()).contains("identity provider");
        assertThat(out()).isEmpty();
    }

    /** The server stops at its busy port, after it has said what it did with the secret. */
    @Test
    void serverGivenItsSecretByConfigurationDoesNotSayItCreatedOne() throws Exception {
        Path config = Files.writeString(dir.resolve("server.json"), "{\"auth\": {\"hmacSecret\": \""
                + java.util.Base64.getEncoder().encodeToString(new byte[32]) + "\"}}");
        try (java.net.ServerSocket busy = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            int code = Main.run("server", "--host", "127.0.0.1", "--port", String.valueOf(busy.getLocalPort()),
                    "--data-dir", dir.resolve("data").toString(), "--config", config.toString());

            assertThat(code).isEqualTo(1);
        }
        assertThat(err()).contains("cannot listen");
        assertThat(out()).doesNotContain("Created a token signing secret");
        assertThat(Files.exists(dir.resolve("data").resolve(Tokens.SECRET_FILE))).isFalse();
    }

    @Test
    void badFlagsAreRefusedWithUsageExitCodeAndAClearMessage() {
        assertThat(Main.run("token", "--data-dir", dir.toString())).isEqualTo(2);
        assertThat(err()).contains("--user");

        assertThat(Main.run("token", "--user", "ann", "--data-dir", dir.toString(), "--ttl", "forever")).isEqualTo(2);
        assertThat(err()).contains("--ttl must be a positive number");

        assertThat(Main.run("token", "--user", " ", "--data-dir", dir.toString())).isEqualTo(2);
        assertThat(err()).contains("--user must not be blank");

        assertThat(Main.run("demo", "--devices", "0")).isEqualTo(2);
        assertThat(err()).contains("--devices must be from 1 to 20");

        assertThat(Main.run("demo", "--fault-rate", "2")).isEqualTo(2);
        assertThat(err()).contains("--fault-rate must be from 0 to 0.9");

        assertThat(Main.run("server", "--port", "70000", "--data-dir", dir.toString())).isEqualTo(1);
        assertThat(err()).contains("port must be from 0 to 65535");

        assertThat(Main.run("server", "--port", "nine")).isEqualTo(2);
        assertThat(Main.run("frobnicate")).isEqualTo(2);
    }

    @Test
    void benchRefusesBadServerSuiteFlagsAndUnknownSuitesWithUsageExitCode() {
        assertThat(Main.run("bench", "server", "--server-ops", "99")).isEqualTo(2);
        assertThat(err()).contains("--server-ops must be from 100 to 10000000 (got 99)");

        assertThat(Main.run("bench", "server", "--server-batch", "0")).isEqualTo(2);
        assertThat(err()).contains("--server-batch must be from 1 to 1000 (got 0)");

        assertThat(Main.run("bench", "server", "--server-batch", "1001")).isEqualTo(2);
        assertThat(err()).contains("--server-batch must be from 1 to 1000 (got 1001)");

        assertThat(Main.run("bench", "server", "--server-devices", "1,0")).isEqualTo(2);
        assertThat(err()).contains("--server-devices must each be from 1 to 1024 (got 0)");

        assertThat(Main.run("bench", "server", "--server-devices", "2000")).isEqualTo(2);
        assertThat(err()).contains("--server-devices must each be from 1 to 1024 (got 2000)");

        assertThat(Main.run("bench", "server", "--server-devices", "many")).isEqualTo(2);
        assertThat(err()).contains("--server-devices");

        assertThat(Main.run("bench", "server", "--server-stores", "sqlite,mysql")).isEqualTo(2);
        assertThat(err()).contains("--server-stores must each be sqlite or postgresql (got 'mysql')");

        assertThat(Main.run("bench", "everything")).isEqualTo(2);
        assertThat(err()).contains("unknown suite 'everything'; the suites are: queue, server, sync, all");
    }

    @Test
    void benchRefusesBadSyncSuiteFlagsWithUsageExitCode() {
        assertThat(Main.run("bench", "sync", "--sync-ops", "99")).isEqualTo(2);
        assertThat(err()).contains("--sync-ops must be from 100 to 10000000 (got 99)");

        assertThat(Main.run("bench", "sync", "--sync-ops", "20000000")).isEqualTo(2);
        assertThat(err()).contains("--sync-ops must be from 100 to 10000000 (got 20000000)");

        assertThat(Main.run("bench", "sync", "--sync-ops", "lots")).isEqualTo(2);
        assertThat(err()).contains("--sync-ops");

        assertThat(Main.run("bench", "sync", "--sync-stores", "postgresql,oracle")).isEqualTo(2);
        assertThat(err()).contains("--sync-stores must each be sqlite or postgresql (got 'oracle')");
    }

    @Test
    void benchSyncPushesAndPullsThroughTheClientOnBothStoresAndPrintsEveryFigureAsJson() throws Exception {
        int code = Main.run("bench", "sync", "--json", "--sync-ops", "200", "--sync-stores", "sqlite,postgresql",
                "--dir", dir.resolve("bench").toString());

        assertThat(code).as(err()).isZero();
        assertThat(err()).contains("sync suite").contains("warm-up").doesNotContain("WARNING");
        List<BenchResult> results = List.of(Wire.read(out().strip(), BenchResult[].class));
        assertThat(results).extracting(r -> r.name() + " | " + r.system() + " | " + r.unit()).containsExactly(
                "durable enqueue of 200 ops, write batches of 1000 | outpost | ops/s",
                "open with 200 pending ops | outpost | ms",
                "heap retained after open with 200 pending ops | outpost | MB",
                "push of 200 queued ops by one device, batches of 100 | outpost-sqlite | ops/s",
                "push of 200 queued ops by one device, batches of 100: time inside transport calls (JSON, HTTP, server) "
                        + "| outpost-sqlite | %",
                "whole sync of the pushing device (push, then its own 200 changes pulled back), batches of 100, pages of 500 "
                        + "| outpost-sqlite | s",
                "pull of 200 changes into an empty store, pages of 500 | outpost-sqlite | changes/s",
                "push of 200 queued ops by one device, batches of 1000 | outpost-sqlite | ops/s",
                "push of 200 queued ops by one device, batches of 1000: time inside transport calls (JSON, HTTP, server) "
                        + "| outpost-sqlite | %",
                "whole sync of the pushing device (push, then its own 200 changes pulled back), batches of 1000, pages of 1000 "
                        + "| outpost-sqlite | s",
                "pull of 200 changes into an empty store, pages of 1000 | outpost-sqlite | changes/s",
                "push of 200 queued ops by one device, batches of 100 | outpost-postgresql | ops/s",
                "push of 200 queued ops by one device, batches of 100: time inside transport calls (JSON, HTTP, server) "
                        + "| outpost-postgresql | %",
                "whole sync of the pushing device (push, then its own 200 changes pulled back), batches of 100, pages of 500 "
                        + "| outpost-postgresql | s",
                "pull of 200 changes into an empty store, pages of 500 | outpost-postgresql | changes/s",
                "push of 200 queued ops by one device, batches of 1000 | outpost-postgresql | ops/s",
                "push of 200 queued ops by one device, batches of 1000: time inside transport calls (JSON, HTTP, server) "
                        + "| outpost-postgresql | %",
                "whole sync of the pushing device (push, then its own 200 changes pulled back), batches of 1000, pages of 1000 "
                        + "| outpost-postgresql | s",
                "pull of 200 changes into an empty store, pages of 1000 | outpost-postgresql | changes/s");
        assertThat(results).filteredOn(r -> r.unit().endsWith("/s") || r.unit().equals("s")).allMatch(r -> r.value() > 0);
        assertThat(results).filteredOn(r -> r.unit().equals("%")).allMatch(r -> r.value() > 0 && r.value() <= 100);
    }

    @Test
    void benchServerRunsOnBothStoresAndPrintsEveryFigureAsJson() throws Exception {
        int code = Main.run("bench", "server", "--json", "--server-ops", "100", "--server-devices", "1,2",
                "--server-stores", "sqlite,postgresql", "--dir", dir.resolve("bench").toString());

        assertThat(code).as(err()).isZero();
        assertThat(err()).contains("server suite").contains("0 failed push(es)").doesNotContain("WARNING");
        List<BenchResult> results = List.of(Wire.read(out().strip(), BenchResult[].class));
        assertThat(results).extracting(r -> r.name() + " | " + r.system() + " | " + r.unit()).contains(
                "durable insert of a ~250 B row, one commit each, 1 writer | sqlite | commits/s",
                "durable insert of ~250 B rows, 100 per commit, 1 writer | postgresql | rows/s",
                "push, 1 device, batches of 100 | outpost-sqlite | ops/s",
                "push, 1 device, batches of 100 | outpost-sqlite | ms p50",
                "push, 2 devices, batches of 100 | outpost-sqlite | ms p99",
                "push, 2 devices, batches of 100 | outpost-postgresql | ops/s",
                "push, 2 devices, batches of 100 | outpost-postgresql | failed pushes",
                "pull after the push of 2 devices, pages of 1000 | outpost-postgresql | changes/s");
        assertThat(results).hasSize(2 * (2 + 2 * 5));
        assertThat(results).filteredOn(r -> r.unit().equals("failed pushes")).allMatch(r -> r.value() == 0);
        assertThat(results).filteredOn(r -> r.unit().endsWith("/s")).allMatch(r -> r.value() > 0);
    }

    @Test
    void serverRefusesADatabaseUrlItCannotUse() {
        int code = Main.run("server", "--port", "0", "--data-dir", dir.toString(), "--db", "jdbc:mysql://localhost/x");

        assertThat(code).isEqualTo(1);
        assertThat(err()).contains("unsupported database URL").contains("jdbc:sqlite:");
    }

    @Test
    void serverRefusesABadConfigurationFileNamingTheField() throws Exception {
        java.nio.file.Path config = dir.resolve("bad.json");
        Files.writeString(config, "{\"collections\": {\"notes\": {\"conflictPolicy\": \"SOMETIMES\"}}}");

        int code = Main.run("server", "--port", "0", "--data-dir", dir.toString(), "--config", config.toString());

        assertThat(code).isEqualTo(1);
        assertThat(err()).contains("collections.notes.conflictPolicy").contains("SOMETIMES");
    }

    @Test
    void theClientCommandWritesReadsAndSyncsALocalStore() throws Exception {
        String store = dir.resolve("shell.db").toString();
        assertThat(Main.run("client", "--store", store, "put", "notes", "n1", "{\"title\":\"from the shell\"}")).isZero();
        assertThat(out()).contains("from the shell");
        assertThat(Main.run("client", "--store", store, "get", "notes", "n1")).isZero();
        assertThat(Main.run("client", "--store", store, "list", "notes", "--json")).isZero();
        assertThat(out()).contains("\"id\":\"n1\"").contains("\"state\":\"PENDING\"");
        assertThat(Main.run("client", "--store", store, "status", "--json")).isZero();
        assertThat(out()).contains("\"pending\":1").contains("\"statusLine\":\"1 change waiting to sync\"");
        assertThat(Main.run("client", "--store", store, "sync")).as("no server: offline").isEqualTo(3);

        try (dev.outpost.testing.TestServer server = dev.outpost.testing.TestServer.start()) {
            int code = Main.run("client", "--store", store, "--server", server.url(), "--token", server.token("ann"), "sync");
            assertThat(code).as(out() + err()).isZero();
            assertThat(server.records("ann")).containsKey("notes/n1");

            String teamToken = server.token("ann", java.util.Map.of("team", dev.outpost.server.ScopeAccess.READ_WRITE));
            assertThat(Main.run("client", "--store", store, "--shared", "projects=team", "put", "projects", "p1", "{}")).isZero();
            code = Main.run("client", "--store", store, "--shared", "projects=team", "--server", server.url(), "--token",
                    teamToken, "sync");
            assertThat(code).as(out() + err()).isZero();
            String other = dir.resolve("teammate.db").toString();
            code = Main.run("client", "--store", other, "--shared", "projects=team", "--server", server.url(), "--token",
                    server.token("bob", java.util.Map.of("team", dev.outpost.server.ScopeAccess.READ)), "sync");
            assertThat(code).as(out() + err()).isZero();
            assertThat(Main.run("client", "--store", other, "--shared", "projects=team", "list", "projects")).isZero();
            assertThat(out()).contains("p1");
        }
        assertThat(Main.run("client", "--store", store, "status")).as("projects holds team records").isEqualTo(1);
        assertThat(err()).contains("projects").contains("shared scope team").contains("cannot move");
        assertThat(Main.run("client", "--store", store, "--shared", "projects=team", "status")).isZero();
        assertThat(out()).contains("All changes synced");
        assertThat(Main.run("client", "--store", store, "--shared", "projects=team", "dead", "--json")).isZero();
        assertThat(Main.run("client", "--store", store, "--shared", "projects=team", "conflicts")).isZero();
        assertThat(Main.run("client", "--store", store, "--shared", "projects=team", "delete", "notes", "n1")).isZero();
    }

    @Test
    void theClientCommandRefusesBadInputWithAClearMessage() throws Exception {
        String store = dir.resolve("bad.db").toString();
        assertThat(Main.run("client", "put", "notes", "n1", "{}")).as("no --store").isEqualTo(2);
        assertThat(err()).contains("--store");
        assertThat(Main.run("client", "--store", store, "put", "notes", "n1", "[not json")).isEqualTo(1);
        assertThat(err()).contains("not valid JSON");
        assertThat(Main.run("client", "--store", store, "put", "bad/name", "n1", "{}")).isEqualTo(1);
        assertThat(err()).contains("bad/name");
        assertThat(Main.run("client", "--store", store, "put", "notes", "n1", "{}", "--priority", "URGENT")).isEqualTo(2);
        assertThat(Main.run("client", "--store", store, "get", "notes", "missing")).isEqualTo(1);
        assertThat(err()).contains("no record notes/missing");
        assertThat(Main.run("client", "--store", store, "--server", "ftp://x", "sync")).isEqualTo(1);
        assertThat(err()).contains("http");
        assertThat(Main.run("client", "--store", store, "dead", "--replay", "no-such-op")).isEqualTo(1);
        assertThat(err()).contains("no dead op has id no-such-op");
        assertThat(Main.run("client", "--store", store, "--shared", "projects=team acme", "status")).isEqualTo(1);
        assertThat(err()).contains("scope 'team acme'");
        assertThat(Main.run("client", "--store", store, "--shared", "projects", "status")).isEqualTo(2);
        assertThat(Main.run("client", "--store", store)).isEqualTo(2);
    }

    @Test
    void theClientCommandRefusesUnknownIdsAndMissingRecordsWithAClearMessage() {
        String store = dir.resolve("ids.db").toString();
        assertThat(Main.run("client", "--store", store, "put", "notes", "n1", "{}")).isZero();

        assertThat(Main.run("client", "--store", store, "conflicts", "--use-server", "no-such-conflict")).isEqualTo(1);
        assertThat(err()).contains("no-such-conflict");
        assertThat(Main.run("client", "--store", store, "conflicts", "--use-local", "other-conflict")).isEqualTo(1);
        assertThat(err()).contains("other-conflict");
        assertThat(Main.run("client", "--store", store, "conflicts", "--use-server", "a", "--use-local", "b")).isEqualTo(2);
        assertThat(err()).contains("not both");
        assertThat(Main.run("client", "--store", store, "dead", "--discard", "no-such-op")).isEqualTo(1);
        assertThat(err()).contains("no dead op has id no-such-op");
        assertThat(Main.run("client", "--store", store, "dead", "--replay", "a", "--discard", "b")).isEqualTo(2);
        assertThat(err()).contains("not both");
        assertThat(Main.run("client", "--store", store, "delete", "notes", "missing")).isEqualTo(1);
        assertThat(err()).contains("no record notes/missing");
        assertThat(Main.run("client", "--store", store, "delete", "bad/name", "n1")).isEqualTo(1);
        assertThat(err()).contains("bad/name");
        assertThat(out()).as("nothing claims success").doesNotContain("settled").doesNotContain("discarded");
        assertThat(Main.run("client", "--store", store, "get", "notes", "n1")).as("the store is untouched").isZero();
    }

    @Test
    void aClientSyncThatCannotReachTheServerExitsNonZeroSayingWhy() throws Exception {
        String store = dir.resolve("unreachable.db").toString();
        assertThat(Main.run("client", "--store", store, "put", "notes", "n1", "{}")).isZero();
        int port;
        try (java.net.ServerSocket free = new java.net.ServerSocket(0)) {
            port = free.getLocalPort();
        }

        int code = Main.run("client", "--store", store, "--server", "http://127.0.0.1:" + port, "--token", "t", "sync");

        assertThat(code).isEqualTo(3);
        assertThat(err()).contains("OFFLINE").contains("127.0.0.1:" + port).contains("1 change");
        assertThat(Main.run("client", "--store", store, "status", "--json")).isZero();
        assertThat(out()).contains("\"pending\":1");
    }

    @Test
    void aClientSyncWithAMissingOrBlankTokenFailsSayingSo() throws Exception {
        try (dev.outpost.testing.TestServer server = dev.outpost.testing.TestServer.start()) {
            String store = dir.resolve("tokenless.db").toString();
            assertThat(Main.run("client", "--store", store, "put", "notes", "n1", "{}")).isZero();

            assertThat(Main.run(java.util.Map.of(), "client", "--store", store, "--server", server.url(), "sync")).isEqualTo(2);
            assertThat(err()).contains("--token").contains("OUTPOST_TOKEN");
            assertThat(Main.run(java.util.Map.of("OUTPOST_TOKEN", "  "), "client", "--store", store, "--server", server.url(),
                    "sync")).isEqualTo(2);
            assertThat(err()).contains("OUTPOST_TOKEN is blank");
            assertThat(Main.run(java.util.Map.of(), "client", "--store", store, "--server", server.url(), "--token", "",
                    "sync")).isEqualTo(2);
            assertThat(err()).contains("--token is blank");
            assertThat(Main.run(java.util.Map.of("OUTPOST_TOKEN", "not-a-token"), "client", "--store", store, "--server",
                    server.url(), "sync")).isEqualTo(1);
            assertThat(err()).contains("AUTH").contains("401");
            assertThat(server.records("ann")).isEmpty();

            int code = Main.run(java.util.Map.of("OUTPOST_TOKEN", server.token("ann")), "client", "--store", store, "--server",
                    server.url(), "sync");
            assertThat(code).as(out() + err()).isZero();
            assertThat(server.records("ann")).containsOnlyKeys("notes/n1");
        }
    }

    @Test
    void tokenRefusesACorruptSecretFile() throws Exception {
        Files.writeString(dir.resolve(Tokens.SECRET_FILE), "not base64 !!!");

        int code = Main.run("token", "--user", "ann", "--data-dir", dir.toString());

        assertThat(code).isEqualTo(1);
        assertThat(err()).contains(Tokens.SECRET_FILE).contains("not base64");
    }
}
