package dev.outpost.cli;

import dev.outpost.protocol.Names;
import dev.outpost.server.OutpostServer;
import dev.outpost.server.ScopeAccess;
import dev.outpost.server.Tokens;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code outpost token}: prints a bearer token the server with this data directory accepts. */
@Command(name = "token", mixinStandardHelpOptions = true,
        description = "Print a bearer token for USER that the server using this data directory accepts.")
final class TokenCommand implements Callable<Integer> {
    private static final Pattern TTL = Pattern.compile("(\\d{1,6})([smhd])");

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--user", required = true, description = "the user the token is for")
    String user;

    @Option(names = "--data-dir", defaultValue = "outpost-data",
            description = "the server's data directory, which holds its signing secret (default: ${DEFAULT-VALUE})")
    Path dataDir;

    @Option(names = "--config", description = "the server's JSON configuration file; its auth.hmacSecret or auth.hmacSecretFile,"
            + " if set, signs the token instead of the data directory's secret (as do OUTPOST_JWT_SECRET and OUTPOST_JWT_SECRET_FILE)")
    Path config;

    @Option(names = "--ttl", defaultValue = "30d", description = "how long the token is valid: a number and s, m, h or d (default: ${DEFAULT-VALUE})")
    String ttl;

    @Option(names = "--scope", paramLabel = "NAME=ACCESS",
            description = "grant a shared scope: NAME=read or NAME=read-write; repeat for more")
    List<String> scopes = new ArrayList<>();

    @Override
    public Integer call() {
        if (user.isBlank()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--user must not be blank");
        }
        Duration lifetime = parseTtl();
        Map<String, ScopeAccess> granted = parseScopes();
        // The server's own settings decide its secret: the configuration file, then the environment.
        OutpostServer.Builder settings = OutpostServer.builder();
        if (config != null) {
            settings.configFile(config);
        }
        settings.environment(System.getenv()).dataDir(dataDir);
        boolean hadDirectory = Files.isDirectory(dataDir);
        Tokens tokens = settings.build().tokens();
        if (!tokens.canIssue()) {
            throw new CommandLine.ParameterException(spec.commandLine(), "this server accepts the tokens of an identity provider"
                    + " (auth.rsaPublicKeyFile or OUTPOST_JWT_PUBLIC_KEY_FILE); get tokens from that provider");
        }
        if (!hadDirectory && Files.exists(dataDir.resolve(Tokens.SECRET_FILE))) {
            spec.commandLine().getErr().println("note: " + dataDir + " did not exist; created it with a new signing secret."
                    + " Start the server with --data-dir " + dataDir + " so it accepts this token.");
        }
        System.out.println(tokens.issue(user, lifetime, granted));
        return 0;
    }

    private Map<String, ScopeAccess> parseScopes() {
        Map<String, ScopeAccess> granted = new LinkedHashMap<>();
        for (String scope : scopes) {
            int equals = scope.lastIndexOf('=');
            String name = equals < 0 ? scope : scope.substring(0, equals);
            String access = equals < 0 ? "" : scope.substring(equals + 1);
            ScopeAccess chosen = access.equals("read") ? ScopeAccess.READ : access.equals("read-write") ? ScopeAccess.READ_WRITE : null;
            if (chosen == null || !Names.isValidCollection(name)) {
                throw new CommandLine.ParameterException(spec.commandLine(), "--scope must be NAME=read or NAME=read-write, NAME "
                        + Names.collectionRule() + " (got '" + scope + "')");
            }
            granted.put(name, chosen);
        }
        return granted;
    }

    private Duration parseTtl() {
        Matcher matcher = TTL.matcher(ttl);
        if (!matcher.matches() || Long.parseLong(matcher.group(1)) == 0) {
            throw new CommandLine.ParameterException(spec.commandLine(),
                    "--ttl must be a positive number followed by s, m, h or d, such as 12h or 30d (got '" + ttl + "')");
        }
        long amount = Long.parseLong(matcher.group(1));
        return switch (matcher.group(2)) {
            case "s" -> Duration.ofSeconds(amount);
            case "m" -> Duration.ofMinutes(amount);
            case "h" -> Duration.ofHours(amount);
            default -> Duration.ofDays(amount);
        };
    }
}
