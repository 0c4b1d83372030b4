package dev.outpost.cli;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.Conflict;
import dev.outpost.client.DeadLetter;
import dev.outpost.client.LocalRecord;
import dev.outpost.client.OpInfo;
import dev.outpost.client.OpQuery;
import dev.outpost.client.OpState;
import dev.outpost.client.Outpost;
import dev.outpost.client.OutpostConfig;
import dev.outpost.client.OutpostException;
import dev.outpost.client.QueueStats;
import dev.outpost.client.Resolution;
import dev.outpost.client.SyncPolicy;
import dev.outpost.client.SyncResult;
import dev.outpost.client.TokenProvider;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

/**
 * {@code outpost client}: a local store driven from the shell. Exit codes: 0 done, 1 failed or
 * not found, 2 bad usage, 3 sync offline.
 */
@Command(name = "client", mixinStandardHelpOptions = true,
        description = {"Drive a local store from the shell: write and read records, sync with a server, see the queue.",
                "The token may come from OUTPOST_TOKEN instead of --token."},
        subcommands = {ClientCommand.Put.class, ClientCommand.Get.class, ClientCommand.Delete.class, ClientCommand.ListRecords.class,
                ClientCommand.Sync.class, ClientCommand.Status.class, ClientCommand.Conflicts.class, ClientCommand.Dead.class})
final class ClientCommand implements Runnable {
    private final java.util.Map<String, String> environment;

    ClientCommand() {
        this(System.getenv());
    }

    /** A command that reads OUTPOST_TOKEN from {@code environment}. */
    ClientCommand(java.util.Map<String, String> environment) {
        this.environment = environment;
    }

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--store", required = true, description = "the local store's SQLite file (created if missing)")
    Path store;

    @Option(names = "--server", description = "the server's base URL, such as http://127.0.0.1:8080")
    String server;

    @Option(names = "--token", description = "the bearer token (default: $OUTPOST_TOKEN)")
    String token;

    @Option(names = "--shared", paramLabel = "COLLECTION=SCOPE",
            description = "keep COLLECTION in the shared scope SCOPE that the token grants; repeatable")
    Map<String, String> shared = new LinkedHashMap<>();

    @Override
    public void run() {
        throw new CommandLine.ParameterException(spec.commandLine(),
                "name what to do: put, get, delete, list, sync, status, conflicts or dead");
    }

    Outpost open() throws OutpostException {
        OutpostConfig.Builder config = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(store);
        if (server != null) {
            config.serverUrl(server);
        }
        shared.forEach(config::sharedScope);
        String bearer = bearer();
        if (bearer != null) {
            config.tokenProvider(TokenProvider.fixed(bearer));
        }
        return Outpost.open(config.build());
    }

    /** The token from --token or OUTPOST_TOKEN; null if neither is set. A blank one is bad usage. */
    private String bearer() {
        String bearer = token != null ? token : environment.get("OUTPOST_TOKEN");
        if (bearer != null && bearer.isBlank()) {
            throw new CommandLine.ParameterException(spec.commandLine(), (token != null ? "--token" : "OUTPOST_TOKEN")
                    + " is blank; give the bearer token the server issued (outpost token --user NAME)");
        }
        return bearer;
    }

    /** Refuses a sync with a server but no token, which the server could only refuse. */
    void requireToken() {
        if (server != null && bearer() == null) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "syncing with " + server + " needs a token: give --token or set OUTPOST_TOKEN");
        }
    }

    /** The COLLECTION and ID parameters of the commands that address one record. */
    static final class RecordRef {
        @Parameters(index = "0", paramLabel = "COLLECTION")
        String collection;
        @Parameters(index = "1", paramLabel = "ID")
        String id;

        /** Says the record is not on this device; returns the exit code for it. */
        int missing() {
            System.err.println("no record " + collection + "/" + id + " on this device");
            return 1;
        }
    }

    static PrintStream out() {
        return System.out;
    }

    @Command(name = "put", description = "Create a record or replace its fields.")
    static final class Put implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;
        @Mixin
        RecordRef record;
        @Parameters(index = "2", paramLabel = "JSON", description = "the record, a JSON object")
        String json;
        @Option(names = "--priority", defaultValue = "NORMAL", description = "LOW, NORMAL, HIGH or CRITICAL (default: ${DEFAULT-VALUE})")
        Priority priority;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                LocalRecord written = outpost.put(record.collection, record.id, json, priority);
                out().println(Wire.write(written.data()));
                return 0;
            }
        }
    }

    @Command(name = "get", description = "Print a record's fields as JSON; exit 1 if there is none.")
    static final class Get implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;
        @Mixin
        RecordRef record;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                var found = outpost.get(record.collection, record.id);
                if (found.isEmpty()) {
                    return record.missing();
                }
                out().println(Wire.write(found.get().data()));
                return 0;
            }
        }
    }

    @Command(name = "delete", description = "Delete a record; exit 1 if there was none.")
    static final class Delete implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;
        @Mixin
        RecordRef record;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                if (!outpost.delete(record.collection, record.id)) {
                    return record.missing();
                }
                return 0;
            }
        }
    }

    @Command(name = "list", description = "List a collection's records.")
    static final class ListRecords implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;
        @Parameters(index = "0", paramLabel = "COLLECTION")
        String collection;
        @Option(names = "--json", description = "print a JSON array of {id, version, state, data}")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                List<LocalRecord> records = outpost.list(collection);
                if (json) {
                    ArrayNode array = Wire.mapper().createArrayNode();
                    for (LocalRecord record : records) {
                        ObjectNode item = array.addObject();
                        item.put("id", record.id()).put("version", record.version()).put("state", record.state().name());
                        item.set("data", record.data());
                    }
                    out().println(Wire.write(array));
                } else {
                    for (LocalRecord record : records) {
                        out().printf("%s\tv%d\t%s\t%s%n", record.id(), record.version(), record.state(), Wire.write(record.data()));
                    }
                }
                return 0;
            }
        }
    }

    @Command(name = "sync", description = "Push queued changes and pull the server's; exit 3 if offline, 1 if it failed.")
    static final class Sync implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                client.requireToken();
                SyncResult result = outpost.sync();
                if (result.status() == SyncResult.Status.COMPLETED) {
                    out().println(result.status() + ": " + result.message());
                } else {
                    System.err.println(result.status() + (result.failure() == null ? "" : " (" + result.failure() + ")") + ": "
                            + result.message() + "; " + result.pending() + (result.pending() == 1 ? " change stays" : " changes stay")
                            + " queued");
                }
                return switch (result.status()) {
                    case COMPLETED -> 0;
                    case OFFLINE, DEFERRED -> 3;
                    case FAILED -> 1;
                };
            }
        }
    }

    @Command(name = "status", description = "Say where the device's changes stand.")
    static final class Status implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;
        @Option(names = "--json", description = "print the queue's figures as JSON")
        boolean json;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                QueueStats stats = outpost.queueStats();
                if (json) {
                    ObjectNode node = Wire.mapper().createObjectNode();
                    node.put("pending", stats.pending()).put("applied", stats.applied()).put("conflicts", stats.conflicts())
                            .put("dead", stats.dead()).put("discarded", stats.discarded()).put("pendingBytes", stats.pendingBytes());
                    ObjectNode byPriority = node.putObject("pendingByPriority");
                    stats.pendingByPriority().forEach((priority, count) -> byPriority.put(priority.name(), count));
                    if (stats.oldestPendingAt() != null) {
                        node.put("oldestPendingAt", stats.oldestPendingAt().toString());
                    }
                    if (stats.nextAttemptAt() != null) {
                        node.put("nextAttemptAt", stats.nextAttemptAt().toString());
                    }
                    if (!Double.isNaN(stats.successRate())) {
                        node.put("successRate", stats.successRate());
                    }
                    node.put("deviceId", outpost.deviceId());
                    node.put("statusLine", outpost.statusLine());
                    node.put("store", outpost.openReport().mode().name());
                    out().println(Wire.write(node));
                } else {
                    out().println(outpost.statusLine());
                    out().printf("device %s: %d pending, %d applied, %d in conflict, %d dead%n", outpost.deviceId(),
                            stats.pending(), stats.applied(), stats.conflicts(), stats.dead());
                }
                return 0;
            }
        }
    }

    @Command(name = "conflicts", description = {"List conflicts: those waiting for a decision (PROMPT_USER collections,",
            "resolvers that deferred or failed) and ops whose change the server's record replaced.",
            "Settle a waiting one with --use-server ID or --use-local ID."})
    static final class Conflicts implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;
        @Option(names = "--json", description = "print a JSON array")
        boolean json;
        @Option(names = "--use-server", paramLabel = "CONFLICT_ID", description = "settle it for the server's record")
        String useServer;
        @Option(names = "--use-local", paramLabel = "CONFLICT_ID", description = "settle it for this device's change (sent again)")
        String useLocal;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                if (useServer != null && useLocal != null) {
                    throw new CommandLine.ParameterException(new CommandLine(this), "give --use-server or --use-local, not both");
                }
                if (useServer != null || useLocal != null) {
                    String id = useServer != null ? useServer : useLocal;
                    outpost.resolveConflict(id, useServer != null ? Resolution.useServer() : Resolution.useLocal());
                    out().println("settled " + id + (useServer != null ? " for the server's record" : " for this device's change"));
                    return 0;
                }
                List<Conflict> waiting = outpost.conflicts();
                List<OpInfo> ops = outpost.ops(OpQuery.builder().states(OpState.CONFLICT).order(OpQuery.Order.NEWEST_FIRST)
                        .limit(1000).build());
                if (json) {
                    ArrayNode array = Wire.mapper().createArrayNode();
                    for (Conflict conflict : waiting) {
                        array.addObject().put("kind", "waiting").put("id", conflict.id()).put("collection", conflict.collection())
                                .put("recordId", conflict.recordId()).put("opId", conflict.opId())
                                .put("remoteVersion", conflict.remoteVersion()).put("detectedAt", conflict.detectedAt().toString())
                                .put("error", conflict.error());
                    }
                    for (OpInfo op : ops) {
                        array.addObject().put("kind", "server-kept").put("opId", op.opId()).put("collection", op.collection())
                                .put("recordId", op.recordId()).put("type", op.type().name()).put("createdAt", op.createdAt().toString());
                    }
                    out().println(Wire.write(array));
                } else {
                    for (Conflict conflict : waiting) {
                        out().printf("waiting\t%s\t%s/%s\tserver v%d\t%s%s%n", conflict.id(), conflict.collection(), conflict.recordId(),
                                conflict.remoteVersion(), conflict.detectedAt(), conflict.error() == null ? "" : "\t" + conflict.error());
                    }
                    for (OpInfo op : ops) {
                        out().printf("server-kept\t%s\t%s/%s\t%s\t%s%n", op.opId(), op.collection(), op.recordId(), op.type(),
                                op.createdAt());
                    }
                }
                return 0;
            }
        }
    }

    @Command(name = "dead", description = "List the dead-letter queue, or replay or discard one of its ops.")
    static final class Dead implements Callable<Integer> {
        @ParentCommand
        ClientCommand client;
        @Option(names = "--json", description = "print a JSON array")
        boolean json;
        @Option(names = "--replay", paramLabel = "OP_ID", description = "put this dead op back in the queue")
        String replay;
        @Option(names = "--discard", paramLabel = "OP_ID", description = "drop this dead op")
        String discard;

        @Override
        public Integer call() throws Exception {
            try (Outpost outpost = client.open()) {
                if (replay != null && discard != null) {
                    throw new CommandLine.ParameterException(new CommandLine(this), "give --replay or --discard, not both");
                }
                if (replay != null) {
                    out().println("replayed as " + outpost.replay(replay));
                    return 0;
                }
                if (discard != null) {
                    outpost.discard(discard);
                    out().println("discarded " + discard);
                    return 0;
                }
                List<DeadLetter> letters = outpost.deadLetters();
                if (json) {
                    ArrayNode array = Wire.mapper().createArrayNode();
                    for (DeadLetter letter : letters) {
                        ObjectNode item = array.addObject().put("opId", letter.opId()).put("collection", letter.collection())
                                .put("recordId", letter.recordId()).put("type", letter.type().name())
                                .put("attempts", letter.attempts()).put("reason", letter.reason())
                                .put("createdAt", letter.createdAt().toString()).put("diedAt", letter.diedAt().toString());
                        item.set("data", letter.data());
                    }
                    out().println(Wire.write(array));
                } else {
                    for (DeadLetter letter : letters) {
                        out().printf("%s\t%s/%s\t%s\t%s%n", letter.opId(), letter.collection(), letter.recordId(), letter.type(),
                                letter.reason());
                    }
                }
                return 0;
            }
        }
    }
}
