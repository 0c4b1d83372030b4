package dev.outpost.server.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.protocol.Wire;
import dev.outpost.server.NaturalKey;
import dev.outpost.server.OutpostServer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Reads the server's configuration file (JSON) into a builder; every fault names its field.
 *
 * <pre>{@code
 * {"host": "0.0.0.0", "port": 8080, "database": "jdbc:postgresql://db:5432/outpost?user=outpost&password=secret",
 *  "databasePoolSize": 10,
 *  "auth": {"rsaPublicKeyFile": "idp-public.pem", "issuer": "https://id.example.com", "audience": "outpost"},
 *  (or "auth": {"hmacSecretFile": "hs256.key"}, or "auth": {"hmacSecret": "<base64 of 32 or more bytes>"})
 *  "tokenClockSkewSeconds": 60,
 *  "limits": {"maxBodyBytes": 4194304, "maxOpsPerPush": 1000, "maxRecordBytes": 262144, "maxRecordDepth": 32,
 *             "maxPullLimit": 1000},
 *  "defaultConflictPolicy": "SERVER_WINS",
 *  "collections": {
 *    "posts": {"conflictPolicy": "LAST_WRITE_WINS"},
 *    "profiles": {"conflictPolicy": "MERGE", "counters": ["visits"]},
 *    "calls": {"naturalKey": {"exact": ["lineId", "number", "direction"],
 *                             "within": {"startedAt": 1000, "durationSeconds": 1}}}}}
 * }</pre>
 */
public final class ConfigFile {
    private static final Set<String> TOP = Set.of("host", "port", "database", "databasePoolSize", "auth", "tokenClockSkewSeconds", "limits", "defaultConflictPolicy", "collections");
    private static final Set<String> AUTH = Set.of("hmacSecret", "hmacSecretFile", "rsaPublicKeyFile", "issuer", "audience");
    private static final Set<String> LIMITS = Set.of("maxBodyBytes", "maxOpsPerPush", "maxRecordBytes", "maxRecordDepth", "maxPullLimit");
    private static final Set<String> COLLECTION = Set.of("conflictPolicy", "counters", "naturalKey");

    private ConfigFile() {
    }

    /**
     * Applies the file at {@code file} to {@code builder}.
     *
     * @throws IllegalArgumentException naming the file and field, if the file cannot be read or
     *     holds an unknown field or a bad value
     */
    public static void apply(Path file, OutpostServer.Builder builder) {
        JsonNode root;
        try {
            root = Wire.tree(Files.readAllBytes(file));
        } catch (JsonProcessingException e) {
            throw fault(file, "is not valid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw fault(file, "cannot be read: " + e.getMessage());
        }
        if (root == null || !root.isObject()) {
            throw fault(file, "must hold a JSON object");
        }
        onlyKnown(file, root, TOP, "");
        try {
            if (root.has("host")) {
                builder.host(text(file, root, "host"));
            }
            if (root.has("port")) {
                builder.port(number(file, root, "port"));
            }
            if (root.has("database")) {
                builder.databaseUrl(text(file, root, "database"));
            }
            if (root.has("databasePoolSize")) {
                builder.databasePoolSize(number(file, root, "databasePoolSize"));
            }
            JsonNode auth = root.get("auth");
            if (auth != null) {
                auth(file, auth, builder);
            }
            if (root.has("tokenClockSkewSeconds")) {
                builder.tokenClockSkew(Duration.ofSeconds(number(file, root, "tokenClockSkewSeconds")));
            }
            JsonNode limits = root.get("limits");
            if (limits != null) {
                object(file, limits, "limits");
                onlyKnown(file, limits, LIMITS, "limits.");
                if (limits.has("maxBodyBytes")) {
                    builder.maxBodyBytes(number(file, limits, "maxBodyBytes"));
                }
                if (limits.has("maxOpsPerPush")) {
                    builder.maxOpsPerPush(number(file, limits, "maxOpsPerPush"));
                }
                if (limits.has("maxRecordBytes")) {
                    builder.maxRecordBytes(number(file, limits, "maxRecordBytes"));
                }
                if (limits.has("maxRecordDepth")) {
                    builder.maxRecordDepth(number(file, limits, "maxRecordDepth"));
                }
                if (limits.has("maxPullLimit")) {
                    builder.maxPullLimit(number(file, limits, "maxPullLimit"));
                }
            }
            if (root.has("defaultConflictPolicy")) {
                builder.defaultConflictPolicy(policy(file, text(file, root, "defaultConflictPolicy"), "defaultConflictPolicy"));
            }
            JsonNode collections = root.get("collections");
            if (collections != null) {
                object(file, collections, "collections");
                for (Iterator<Map.Entry<String, JsonNode>> entries = collections.fields(); entries.hasNext(); ) {
                    Map.Entry<String, JsonNode> entry = entries.next();
                    collection(file, builder, entry.getKey(), entry.getValue());
                }
            }
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("configuration file ")) {
                throw e;
            }
            throw fault(file, "has a bad value: " + e.getMessage());
        }
    }

    /**
     * The way tokens are checked: an HMAC secret (given, or in a file) or an identity
     * provider's RSA public key with its issuer and audience; one of them.
     */
    private static void auth(Path file, JsonNode auth, OutpostServer.Builder builder) {
        object(file, auth, "auth");
        onlyKnown(file, auth, AUTH, "auth.");
        boolean secret = auth.has("hmacSecret");
        boolean secretFile = auth.has("hmacSecretFile");
        boolean rsa = auth.has("rsaPublicKeyFile") || auth.has("issuer") || auth.has("audience");
        if ((secret ? 1 : 0) + (secretFile ? 1 : 0) + (rsa ? 1 : 0) != 1) {
            throw fault(file, "field auth takes one of: hmacSecret, hmacSecretFile, or rsaPublicKeyFile with issuer and audience");
        }
        if (secret) {
            JsonNode value = auth.get("hmacSecret");
            if (!value.isTextual()) {
                throw fault(file, "auth.hmacSecret must be a string: the base64 of at least 32 random bytes");
            }
            try {
                builder.tokenSecret(value.asText());
            } catch (IllegalArgumentException e) {
                throw fault(file, "auth.hmacSecret is not usable: " + e.getMessage());
            }
        } else if (secretFile) {
            try {
                builder.tokenSecretFile(beside(file, text(file, auth, "hmacSecretFile")));
            } catch (IllegalArgumentException e) {
                if (e.getMessage().startsWith("configuration file ")) {
                    throw e;
                }
                throw fault(file, "auth.hmacSecretFile is not usable: " + e.getMessage());
            }
        } else {
            if (!auth.has("rsaPublicKeyFile") || !auth.has("issuer") || !auth.has("audience")) {
                throw fault(file, "field auth needs rsaPublicKeyFile, issuer and audience together");
            }
            Path key = beside(file, text(file, auth, "rsaPublicKeyFile"));
            try {
                builder.tokenPublicKey(key, text(file, auth, "issuer"), text(file, auth, "audience"));
            } catch (IllegalArgumentException e) {
                if (e.getMessage().startsWith("configuration file ")) {
                    throw e;
                }
                throw fault(file, "auth.rsaPublicKeyFile is not usable: " + e.getMessage());
            }
        }
    }

    /** A path named in the file: as it is if absolute, else taken from the file's directory. */
    private static Path beside(Path file, String name) {
        Path path = Path.of(name);
        return path.isAbsolute() ? path : file.toAbsolutePath().getParent().resolve(path);
    }

    private static void collection(Path file, OutpostServer.Builder builder, String name, JsonNode settings) {
        String where = "collections." + name;
        object(file, settings, where);
        onlyKnown(file, settings, COLLECTION, where + ".");
        if (settings.has("conflictPolicy")) {
            builder.conflictPolicy(name, policy(file, text(file, settings, "conflictPolicy"), where + ".conflictPolicy"));
        }
        JsonNode counters = settings.get("counters");
        if (counters != null) {
            if (!counters.isArray() || counters.isEmpty()) {
                throw fault(file, where + ".counters must be a non-empty array of field names");
            }
            String[] fields = new String[counters.size()];
            for (int i = 0; i < fields.length; i++) {
                if (!counters.get(i).isTextual()) {
                    throw fault(file, where + ".counters[" + i + "] must be a field name");
                }
                fields[i] = counters.get(i).asText();
            }
            builder.counterFields(name, fields);
        }
        JsonNode key = settings.get("naturalKey");
        if (key != null) {
            object(file, key, where + ".naturalKey");
            onlyKnown(file, key, Set.of("exact", "within"), where + ".naturalKey.");
            NaturalKey.Builder natural = NaturalKey.builder();
            JsonNode exact = key.get("exact");
            if (exact != null) {
                if (!exact.isArray()) {
                    throw fault(file, where + ".naturalKey.exact must be an array of field names");
                }
                for (JsonNode field : exact) {
                    natural.exact(field.asText());
                }
            }
            JsonNode within = key.get("within");
            if (within != null) {
                object(file, within, where + ".naturalKey.within");
                for (Iterator<Map.Entry<String, JsonNode>> fields = within.fields(); fields.hasNext(); ) {
                    Map.Entry<String, JsonNode> field = fields.next();
                    if (!field.getValue().isNumber()) {
                        throw fault(file, where + ".naturalKey.within." + field.getKey() + " must be a number");
                    }
                    natural.within(field.getKey(), field.getValue().asDouble());
                }
            }
            try {
                builder.naturalKey(name, natural.build());
            } catch (IllegalStateException e) {
                throw fault(file, where + ".naturalKey needs at least one field in exact or within");
            }
        }
    }

    private static ConflictPolicy policy(Path file, String value, String where) {
        try {
            return ConflictPolicy.valueOf(value);
        } catch (IllegalArgumentException e) {
            throw fault(file, where + " must be SERVER_WINS, CLIENT_WINS, LAST_WRITE_WINS, MERGE or MANUAL (got '" + value + "')");
        }
    }

    private static void onlyKnown(Path file, JsonNode node, Set<String> known, String prefix) {
        for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name)) {
                throw fault(file, "has an unknown field " + prefix + name + " (known: " + String.join(", ", known.stream().sorted().toList()) + ")");
            }
        }
    }

    private static void object(Path file, JsonNode node, String where) {
        if (!node.isObject()) {
            throw fault(file, where + " must be a JSON object");
        }
    }

    private static String text(Path file, JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (!value.isTextual()) {
            throw fault(file, field + " must be a string (got " + value + ")");
        }
        return value.asText();
    }

    private static int number(Path file, JsonNode node, String field) {
        JsonNode value = node.get(field);
        if (!value.isInt()) {
            throw fault(file, field + " must be a whole number" + (value.isIntegralNumber() ? " below 2^31" : "") + " (got " + value + ")");
        }
        return value.asInt();
    }

    private static IllegalArgumentException fault(Path file, String what) {
        return new IllegalArgumentException("configuration file " + file + " " + what);
    }
}
