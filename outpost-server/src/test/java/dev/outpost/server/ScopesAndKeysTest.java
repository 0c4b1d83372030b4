package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Shared scopes granted by a token claim, RS256 tokens of an identity provider, and the fields
 * only the server may set.
 */
class ScopesAndKeysTest {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;
    private static final String HLC = "1700000000000-00000-device";
    private static final KeyPair IDP = rsaKeys(2048);
    private static final String IDP_ISSUER = "https://id.example.com";
    private static final String IDP_AUDIENCE = "outpost-app";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private final List<OutpostServer> servers = new ArrayList<>();

    @AfterEach
    void stop() {
        servers.forEach(OutpostServer::close);
    }

    // ---- shared scopes ----

    @Test
    void aReadWriteGrantLetsAUserWriteASharedScopeThatEveryGranteeAndNoOneElsePulls() {
        OutpostServer server = start(UnaryOperator.identity());
        String alice = server.tokens().issue("alice", Duration.ofHours(1), Map.of("team", ScopeAccess.READ_WRITE));
        String bob = server.tokens().issue("bob", Duration.ofHours(1), Map.of("team", ScopeAccess.READ));
        String carol = server.tokens().issue("carol", Duration.ofHours(1));

        JsonNode result = push(server, alice, "alice-phone", createOp("plan", "team")).get(0);
        push(server, alice, "alice-phone", createOp("diary", null));

        assertThat(result.get("status").asText()).isEqualTo("APPLIED");
        assertThat(pulled(server, alice)).containsExactlyInAnyOrder("team:notes/plan", "own:notes/diary");
        assertThat(pulled(server, bob)).containsExactly("team:notes/plan");
        assertThat(pulled(server, carol)).isEmpty();
    }

    @Test
    void anOpOnAScopeGrantedForReadingOnlyOrNotAtAllIsRejectedAloneAndChangesNothing() {
        OutpostServer server = start(UnaryOperator.identity());
        String bob = server.tokens().issue("bob", Duration.ofHours(1), Map.of("team", ScopeAccess.READ));

        JsonNode results = push(server, bob, "bob-phone", createOp("a", "team"), createOp("b", "elsewhere"), createOp("c", null));

        assertThat(results.get(0).get("status").asText()).isEqualTo("REJECTED");
        assertThat(results.get(0).get("error").get("code").asText()).isEqualTo("SCOPE_READ_ONLY");
        assertThat(results.get(1).get("status").asText()).isEqualTo("REJECTED");
        assertThat(results.get(1).get("error").get("code").asText()).isEqualTo("SCOPE_NOT_GRANTED");
        assertThat(results.get(2).get("status").asText()).isEqualTo("APPLIED");
        String admin = server.tokens().issue("admin", Duration.ofHours(1), Map.of("team", ScopeAccess.READ_WRITE,
                "elsewhere", ScopeAccess.READ_WRITE));
        assertThat(pulled(server, admin)).isEmpty();
    }

    @Test
    void sharedConflictsAreListedAndSettledOnlyByUsersWhoMayWriteTheScope() {
        OutpostServer server = start(builder -> builder.conflictPolicy("notes", ConflictPolicy.MANUAL));
        String alice = server.tokens().issue("alice", Duration.ofHours(1), Map.of("team", ScopeAccess.READ_WRITE));
        String dave = server.tokens().issue("dave", Duration.ofHours(1), Map.of("team", ScopeAccess.READ_WRITE));
        String bob = server.tokens().issue("bob", Duration.ofHours(1), Map.of("team", ScopeAccess.READ));
        push(server, alice, "alice-phone", createOp("plan", "team"));
        push(server, alice, "alice-phone", updateOp("plan", "team", 1, "alice's"));
        JsonNode stale = push(server, dave, "dave-phone", updateOp("plan", "team", 1, "dave's")).get(0);
        assertThat(stale.get("status").asText()).isEqualTo("CONFLICT");

        JsonNode forAlice = TestJson.parse(send(server, get("/v1/conflicts"), alice).body()).get("conflicts");
        JsonNode forBob = TestJson.parse(send(server, get("/v1/conflicts"), bob).body()).get("conflicts");
        assertThat(forAlice).hasSize(1);
        assertThat(forBob).isEmpty();
        String id = forAlice.get(0).get("id").asText();
        HttpResponse<String> bobResolves = send(server, resolve(id, "CLIENT"), bob);
        assertThat(bobResolves.statusCode()).isEqualTo(404);
        assertThat(pulled(server, bob)).containsExactly("team:notes/plan", "team:notes/plan");

        HttpResponse<String> aliceResolves = send(server, resolve(id, "CLIENT"), alice);
        assertThat(aliceResolves.statusCode()).isEqualTo(200);
        assertThat(TestJson.parse(aliceResolves.body()).get("record").get("data").get("text").asText()).isEqualTo("dave's");
    }

    @Test
    void aTokenWhoseScopesClaimIsMalformedIsUnauthorized() {
        OutpostServer server = start(UnaryOperator.identity());
        byte[] secret = secretOf(server);
        for (Object claim : List.of(List.of("team"), Map.of("team", "admin"), Map.of("bad scope!", "read"), "team")) {
            String token = hmac(claims("alice", Tokens.ISSUER, Tokens.AUDIENCE).claim("scopes", claim).build(), secret);
            HttpResponse<String> response = send(server, get("/v1/pull"), token);
            assertThat(response.statusCode()).as("scopes %s", claim).isEqualTo(401);
            assertThat(response.body()).contains("scopes");
        }
    }

    @Test
    void issuingATokenForAnInvalidScopeNameIsRefused() {
        OutpostServer server = start(UnaryOperator.identity());

        assertThatThrownBy(() -> server.tokens().issue("alice", Duration.ofHours(1), Map.of("no spaces", ScopeAccess.READ)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("scope name");
    }

    // ---- RS256 tokens of an identity provider ----

    @Test
    void aServerGivenAnRsaPublicKeyAcceptsItsIdentityProvidersTokens() throws IOException {
        OutpostServer server = start(builder -> builder.tokenPublicKey(pem(IDP), IDP_ISSUER, IDP_AUDIENCE));
        String token = rs256(claims("alice", IDP_ISSUER, IDP_AUDIENCE).claim("scopes", Map.of("team", "read-write")).build(), IDP);

        JsonNode result = push(server, token, "alice-phone", createOp("plan", "team")).get(0);

        assertThat(result.get("status").asText()).isEqualTo("APPLIED");
        assertThat(pulled(server, token)).containsExactly("team:notes/plan");
    }

    @Test
    void anRsaServerRefusesHmacTokensMadeWithItsPublicKeyAndTokensOfOtherKeysIssuersOrAudiences() throws IOException {
        OutpostServer server = start(builder -> builder.tokenPublicKey(pem(IDP), IDP_ISSUER, IDP_AUDIENCE));
        JWTClaimsSet good = claims("alice", IDP_ISSUER, IDP_AUDIENCE).build();
        List<String> refused = List.of(
                hmac(good, IDP.getPublic().getEncoded()),
                rs256(good, rsaKeys(2048)),
                rs256(claims("alice", "https://evil.example.com", IDP_AUDIENCE).build(), IDP),
                rs256(claims("alice", IDP_ISSUER, "another-app").build(), IDP),
                rs256(claims("alice", IDP_ISSUER, IDP_AUDIENCE).expirationTime(Date.from(Instant.now().minusSeconds(600))).build(), IDP),
                Tokens.forDataDir(tmp.resolve("other")).issue("alice", Duration.ofHours(1)));

        for (String token : refused) {
            assertThat(send(server, get("/v1/pull"), token).statusCode()).isEqualTo(401);
        }
        assertThatThrownBy(() -> server.tokens().issue("alice", Duration.ofHours(1)))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("identity provider");
    }

    @Test
    void anHmacServerRefusesRs256Tokens() {
        OutpostServer server = start(UnaryOperator.identity());

        String token = rs256(claims("alice", Tokens.ISSUER, Tokens.AUDIENCE).build(), IDP);

        assertThat(send(server, get("/v1/pull"), token).statusCode()).isEqualTo(401);
    }

    @Test
    void aPublicKeyFileThatIsMissingNotPemOrTooWeakIsRefusedWithItsName() throws IOException {
        Path text = Files.writeString(tmp.resolve("not.pem"), "hello");
        Path weak = pem(rsaKeys(1024));

        assertThatThrownBy(() -> OutpostServer.builder().tokenPublicKey(tmp.resolve("missing.pem"), IDP_ISSUER, IDP_AUDIENCE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("missing.pem");
        assertThatThrownBy(() -> OutpostServer.builder().tokenPublicKey(text, IDP_ISSUER, IDP_AUDIENCE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not.pem");
        assertThatThrownBy(() -> OutpostServer.builder().tokenPublicKey(weak, IDP_ISSUER, IDP_AUDIENCE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2048");
        assertThatThrownBy(() -> OutpostServer.builder().tokenPublicKey(pem(IDP), " ", IDP_AUDIENCE))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("issuer");
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_JWT_PUBLIC_KEY_FILE", pem(IDP).toString())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_JWT_ISSUER");
    }

    @Test
    void aConfigFileNamesTheIdentityProvidersKeyBesideIt() throws IOException {
        pem(IDP);
        Path config = Files.writeString(tmp.resolve("server.json"), "{\"auth\": {\"rsaPublicKeyFile\": \"idp.pem\", "
                + "\"issuer\": \"" + IDP_ISSUER + "\", \"audience\": \"" + IDP_AUDIENCE + "\"}}");
        Path partial = Files.writeString(tmp.resolve("partial.json"), "{\"auth\": {\"rsaPublicKeyFile\": \"idp.pem\"}}");

        OutpostServer server = start(builder -> builder.configFile(config));

        assertThat(send(server, get("/v1/pull"), rs256(claims("alice", IDP_ISSUER, IDP_AUDIENCE).build(), IDP)).statusCode())
                .isEqualTo(200);
        assertThatThrownBy(() -> OutpostServer.builder().configFile(partial))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("issuer");
    }

    // ---- an HMAC secret from the configuration ----

    private static final byte[] SHARED_SECRET = "an hmac secret of more than 32 bytes, shared by nodes".getBytes(
            java.nio.charset.StandardCharsets.US_ASCII);
    private static final String SHARED_SECRET_BASE64 = Base64.getEncoder().encodeToString(SHARED_SECRET);

    @Test
    void nodesGivenOneHmacSecretAcceptEachOthersTokensAndMakeNoSecretFile() {
        OutpostServer first = start(builder -> builder.tokenSecret(SHARED_SECRET_BASE64));
        OutpostServer second = start(builder -> builder.tokenSecret(" " + SHARED_SECRET_BASE64 + "\n"));
        String issuedByFirst = first.tokens().issue("alice", Duration.ofHours(1));
        String handMade = hmac(claims("bob", Tokens.ISSUER, Tokens.AUDIENCE).build(), SHARED_SECRET);
        String ofADataDirSecret = Tokens.forDataDir(tmp.resolve("elsewhere")).issue("alice", Duration.ofHours(1));

        assertThat(send(second, get("/v1/pull"), issuedByFirst).statusCode()).isEqualTo(200);
        assertThat(send(first, get("/v1/pull"), handMade).statusCode()).isEqualTo(200);
        assertThat(send(first, get("/v1/pull"), ofADataDirSecret).statusCode()).isEqualTo(401);
        assertThat(Files.exists(tmp.resolve("server-0").resolve(Tokens.SECRET_FILE))).isFalse();
        assertThat(Files.exists(tmp.resolve("server-1").resolve(Tokens.SECRET_FILE))).isFalse();
    }

    @Test
    void aConfigFileNamesAnHmacSecretFileBesideItAndTheEnvironmentReplacesIt() throws IOException {
        Files.writeString(tmp.resolve("hs256.key"), SHARED_SECRET_BASE64 + "\n");
        Path config = Files.writeString(tmp.resolve("server.json"), "{\"auth\": {\"hmacSecretFile\": \"hs256.key\"}}");
        Path inline = Files.writeString(tmp.resolve("inline.json"), "{\"auth\": {\"hmacSecret\": \"" + SHARED_SECRET_BASE64 + "\"}}");
        byte[] other = new byte[48];
        java.util.Arrays.fill(other, (byte) 7);

        OutpostServer fromFile = start(builder -> builder.configFile(config));
        OutpostServer fromInline = start(builder -> builder.configFile(inline));
        OutpostServer overridden = start(builder -> builder.configFile(config)
                .environment(Map.of("OUTPOST_JWT_SECRET", Base64.getEncoder().encodeToString(other))));
        OutpostServer idpOverridden = start(builder -> builder.configFile(config).environment(Map.of(
                "OUTPOST_JWT_PUBLIC_KEY_FILE", pem(IDP).toString(), "OUTPOST_JWT_ISSUER", IDP_ISSUER,
                "OUTPOST_JWT_AUDIENCE", IDP_AUDIENCE)));
        String shared = hmac(claims("alice", Tokens.ISSUER, Tokens.AUDIENCE).build(), SHARED_SECRET);

        assertThat(send(fromFile, get("/v1/pull"), shared).statusCode()).isEqualTo(200);
        assertThat(send(fromInline, get("/v1/pull"), shared).statusCode()).isEqualTo(200);
        assertThat(send(overridden, get("/v1/pull"), shared).statusCode()).as("the file's secret is replaced").isEqualTo(401);
        assertThat(send(overridden, get("/v1/pull"), hmac(claims("alice", Tokens.ISSUER, Tokens.AUDIENCE).build(), other))
                .statusCode()).isEqualTo(200);
        assertThat(send(idpOverridden, get("/v1/pull"), shared).statusCode()).isEqualTo(401);
        assertThat(send(idpOverridden, get("/v1/pull"), rs256(claims("alice", IDP_ISSUER, IDP_AUDIENCE).build(), IDP))
                .statusCode()).isEqualTo(200);
    }

    @Test
    void anEmptyShortOrNonBase64HmacSecretIsRefusedWithoutShowingIt() {
        String short31 = Base64.getEncoder().encodeToString(new byte[31]);
        assertThatThrownBy(() -> OutpostServer.builder().tokenSecret(""))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> OutpostServer.builder().tokenSecret("   "))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> OutpostServer.builder().tokenSecret(null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
        assertThatThrownBy(() -> OutpostServer.builder().tokenSecret(short31))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("31 bytes").hasMessageContaining("at least 32");
        assertThatThrownBy(() -> OutpostServer.builder().tokenSecret("not base64 at all, but long enough to be a secret!"))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("not base64")
                .hasMessageNotContaining("long enough");
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_JWT_SECRET", "c2hvcnQ=")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_JWT_SECRET")
                .hasMessageContaining("5 bytes").hasMessageNotContaining("c2hvcnQ=");
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_JWT_SECRET", "")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_JWT_SECRET").hasMessageContaining("empty");
    }

    @Test
    void anUnreadableOrUnusableSecretOrKeyFileIsRefusedNamingTheFile() throws IOException {
        Path missing = tmp.resolve("missing.key");
        Path directory = Files.createDirectories(tmp.resolve("a-directory"));
        Path tooShort = Files.writeString(tmp.resolve("short.key"), Base64.getEncoder().encodeToString(new byte[16]));

        assertThatThrownBy(() -> OutpostServer.builder().tokenSecretFile(missing))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot read").hasMessageContaining("missing.key");
        assertThatThrownBy(() -> OutpostServer.builder().tokenSecretFile(directory))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot read").hasMessageContaining("a-directory");
        assertThatThrownBy(() -> OutpostServer.builder().tokenSecretFile(tooShort))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("short.key").hasMessageContaining("16 bytes");
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_JWT_SECRET_FILE", missing.toString())))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_JWT_SECRET_FILE")
                .hasMessageContaining("missing.key");

        assertConfigRefused("{\"auth\": {\"hmacSecretFile\": \"missing.key\"}}", "auth.hmacSecretFile", "missing.key");
        assertConfigRefused("{\"auth\": {\"hmacSecretFile\": \"short.key\"}}", "auth.hmacSecretFile", "16 bytes");
        assertConfigRefused("{\"auth\": {\"rsaPublicKeyFile\": \"missing.pem\", \"issuer\": \"i\", \"audience\": \"a\"}}",
                "auth.rsaPublicKeyFile", "missing.pem");
        assertConfigRefused("{\"auth\": {\"hmacSecret\": \"\"}}", "auth.hmacSecret", "empty");
        assertConfigRefused("{\"auth\": {\"hmacSecret\": 12345}}", "auth.hmacSecret", "must be a string");
        assertConfigRefused("{\"auth\": {\"hmacSecret\": \"" + Base64.getEncoder().encodeToString(new byte[8]) + "\"}}",
                "auth.hmacSecret", "8 bytes");
        assertConfigRefused("{\"auth\": {\"hmacSecret\": \"" + SHARED_SECRET_BASE64 + "\", \"rsaPublicKeyFile\": \"idp.pem\","
                + " \"issuer\": \"i\", \"audience\": \"a\"}}", "auth takes one of", "hmacSecret");
        assertConfigRefused("{\"auth\": {}}", "auth takes one of", "rsaPublicKeyFile");
    }

    @Test
    void twoWaysOfCheckingTokensInTheEnvironmentAreRefused() throws IOException {
        Path key = pem(IDP);
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_JWT_SECRET", SHARED_SECRET_BASE64,
                "OUTPOST_JWT_PUBLIC_KEY_FILE", key.toString(), "OUTPOST_JWT_ISSUER", IDP_ISSUER, "OUTPOST_JWT_AUDIENCE", IDP_AUDIENCE)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_JWT_SECRET")
                .hasMessageContaining("OUTPOST_JWT_PUBLIC_KEY_FILE").hasMessageNotContaining(SHARED_SECRET_BASE64);
    }

    private void assertConfigRefused(String json, String... parts) throws IOException {
        Path config = Files.writeString(tmp.resolve("auth-" + UUID.randomUUID() + ".json"), json);
        assertThatThrownBy(() -> OutpostServer.builder().configFile(config))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining(config.toString())
                .hasMessageContaining(parts[0]).hasMessageContaining(parts[1]);
    }

    // ---- fields only the server sets ----

    @Test
    void anOpThatSetsAFieldOnlyTheServerOwnsIsRejectedAloneAndTheRestApply() {
        OutpostServer server = start(UnaryOperator.identity());
        String alice = server.tokens().issue("alice", Duration.ofHours(1));
        ObjectNode withVersion = createOp("a", null).put("version", 7);
        ObjectNode withOwner = createOp("b", null).put("owner", "bob");
        ObjectNode withTime = createOp("c", null).put("committedAt", "2020-01-01T00:00:00Z");

        JsonNode results = push(server, alice, "alice-phone", withVersion, withOwner, withTime, createOp("d", null));

        for (int i = 0; i < 3; i++) {
            assertThat(results.get(i).get("status").asText()).isEqualTo("REJECTED");
            assertThat(results.get(i).get("error").get("code").asText()).isEqualTo("SERVER_OWNED_FIELD");
        }
        assertThat(results.get(3).get("status").asText()).isEqualTo("APPLIED");
        assertThat(results.get(3).get("version").asLong()).isEqualTo(1);
        assertThat(pulled(server, alice)).containsExactly("own:notes/d");
    }

    @Test
    void anOpWithAMalformedScopeIsRejectedAlone() {
        OutpostServer server = start(UnaryOperator.identity());
        String alice = server.tokens().issue("alice", Duration.ofHours(1));
        ObjectNode numeric = createOp("a", null);
        numeric.put("scope", 5);

        JsonNode results = push(server, alice, "alice-phone", createOp("b", "no spaces allowed"), numeric, createOp("c", null));

        assertThat(results.get(0).get("error").get("code").asText()).isEqualTo("INVALID_OP");
        assertThat(results.get(1).get("error").get("code").asText()).isEqualTo("INVALID_OP");
        assertThat(results.get(2).get("status").asText()).isEqualTo("APPLIED");
    }

    // ---- helpers ----

    private OutpostServer start(UnaryOperator<OutpostServer.Builder> configure) {
        OutpostServer server = configure.apply(OutpostServer.builder().host("127.0.0.1").port(0)
                .dataDir(tmp.resolve("server-" + servers.size())).databaseUrl(TestDatabases.freshUrl())).build().start();
        servers.add(server);
        return server;
    }

    private static ObjectNode createOp(String recordId, String scope) {
        ObjectNode op = JSON.objectNode().put("opId", UUID.randomUUID().toString()).put("collection", "notes")
                .put("recordId", recordId).put("type", "CREATE").put("hlc", HLC);
        op.set("data", JSON.objectNode().put("text", recordId));
        if (scope != null) {
            op.put("scope", scope);
        }
        return op;
    }

    private static ObjectNode updateOp(String recordId, String scope, long baseVersion, String text) {
        ObjectNode op = JSON.objectNode().put("opId", UUID.randomUUID().toString()).put("collection", "notes")
                .put("recordId", recordId).put("type", "UPDATE").put("baseVersion", baseVersion).put("hlc", HLC)
                .put("scope", scope);
        op.set("data", JSON.objectNode().put("text", text));
        return op;
    }

    private JsonNode push(OutpostServer server, String token, String device, ObjectNode... ops) {
        ObjectNode body = JSON.objectNode().put("deviceId", device);
        ArrayNode array = body.putArray("ops");
        for (ObjectNode op : ops) {
            array.add(op);
        }
        HttpResponse<String> response = send(server, HttpRequest.newBuilder(URI.create(server.url() + "/v1/push"))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body.toString())), token);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        return TestJson.parse(response.body()).get("results");
    }

    /** What a device of the token's user pulls, as "scope:collection/id" ("own" for the user's own records). */
    private List<String> pulled(OutpostServer server, String token) {
        HttpResponse<String> response = send(server, get("/v1/pull?limit=1000"), token);
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        List<String> keys = new ArrayList<>();
        for (JsonNode change : TestJson.parse(response.body()).get("changes")) {
            String scope = change.has("scope") ? change.get("scope").asText() : "own";
            keys.add(scope + ":" + change.get("collection").asText() + "/" + change.get("recordId").asText());
        }
        return keys;
    }

    private static HttpRequest.Builder get(String path) {
        return HttpRequest.newBuilder(URI.create("http://placeholder" + path)).GET();
    }

    private static HttpRequest.Builder resolve(String id, String choice) {
        return HttpRequest.newBuilder(URI.create("http://placeholder/v1/conflicts/" + id + "/resolve"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString("{\"choice\":\"" + choice + "\"}"));
    }

    private HttpResponse<String> send(OutpostServer server, HttpRequest.Builder request, String token) {
        HttpRequest built = request.header("Authorization", "Bearer " + token).build();
        URI uri = built.uri().getHost().equals("placeholder")
                ? URI.create(server.url() + built.uri().getRawPath() + (built.uri().getRawQuery() == null ? "" : "?" + built.uri().getRawQuery()))
                : built.uri();
        HttpRequest.Builder copy = HttpRequest.newBuilder(uri).method(built.method(),
                built.bodyPublisher().orElse(HttpRequest.BodyPublishers.noBody()));
        built.headers().map().forEach((name, values) -> values.forEach(value -> copy.header(name, value)));
        try {
            return http.send(copy.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }


    private byte[] secretOf(OutpostServer server) {
        Path file = tmp.resolve("server-" + servers.indexOf(server)).resolve(Tokens.SECRET_FILE);
        try {
            return Base64.getDecoder().decode(Files.readString(file).trim());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JWTClaimsSet.Builder claims(String user, String issuer, String audience) {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder().subject(user).issuer(issuer).audience(audience).issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(Duration.ofHours(1))));
    }

    private static String hmac(JWTClaimsSet claims, byte[] secret) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
            jwt.sign(new MACSigner(secret));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String rs256(JWTClaimsSet claims, KeyPair keys) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.RS256), claims);
            jwt.sign(new RSASSASigner(keys.getPrivate()));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private Path pem(KeyPair keys) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(java.nio.charset.StandardCharsets.US_ASCII))
                .encodeToString(keys.getPublic().getEncoded());
        String name = keys == IDP ? "idp.pem" : "key-" + UUID.randomUUID() + ".pem";
        try {
            return Files.writeString(tmp.resolve(name), "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static KeyPair rsaKeys(int bits) {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(bits);
            return generator.generateKeyPair();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
