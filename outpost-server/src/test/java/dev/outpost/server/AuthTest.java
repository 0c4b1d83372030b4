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
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Promise 7: wrong or missing credentials get 401 and apply nothing; a user reads and writes
 * only their own records; a device id belongs to the first user who pushes with it.
 */
class AuthTest {
    private static final String HLC = "1700000000000-00000-d1";
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    private final HttpClient http = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();

    @TempDir
    Path tmp;

    private Path dataDir;
    private String databaseUrl;
    private OutpostServer server;
    private String alice;
    private int attempts;

    @BeforeEach
    void startServer() {
        dataDir = tmp.resolve("server");
        databaseUrl = TestDatabases.freshUrl();
        server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(dataDir).databaseUrl(databaseUrl).build().start();
        alice = server.tokens().issue("alice", Duration.ofHours(1));
    }

    @AfterEach
    void stopServer() {
        server.close();
    }

    // ---- health ----

    @Test
    void healthAnswersWithoutAuthentication() {
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/health")).GET());

        assertThat(response.statusCode()).isEqualTo(200);
        assertThat(TestJson.parse(response.body()).get("status").asText()).isEqualTo("UP");
    }

    @Test
    void healthAnswersEvenWithAGarbageToken() {
        HttpResponse<String> response = send(HttpRequest.newBuilder(uri("/health"))
                .header("Authorization", "Bearer garbage").GET());

        assertThat(response.statusCode()).isEqualTo(200);
    }

    // ---- refused credentials: 401 UNAUTHORIZED on push and pull, nothing applied ----

    @Test
    void requestWithoutAuthorizationHeaderIsUnauthorized() {
        assertUnauthorizedAndNothingApplied(null);
    }

    @Test
    void requestWithBlankAuthorizationHeaderIsUnauthorized() {
        assertUnauthorizedAndNothingApplied("   ");
    }

    @Test
    void requestWithBasicSchemeIsUnauthorized() {
        String basic = "Basic " + Base64.getEncoder().encodeToString("alice:secret".getBytes(StandardCharsets.UTF_8));
        assertUnauthorizedAndNothingApplied(basic);
    }

    @Test
    void validTokenWithoutBearerSchemeIsUnauthorized() {
        assertUnauthorizedAndNothingApplied(alice);
        assertUnauthorizedAndNothingApplied("Token " + alice);
    }

    @Test
    void bearerWithoutTokenIsUnauthorized() {
        assertUnauthorizedAndNothingApplied("Bearer");
        assertUnauthorizedAndNothingApplied("Bearer ");
    }

    @ParameterizedTest(name = "token {0}")
    @ValueSource(strings = {"garbage", "a.b.c", "...", "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9.e30.", "Bearer x"})
    void garbageTokenIsUnauthorized(String token) {
        assertUnauthorizedAndNothingApplied("Bearer " + token);
    }

    @Test
    void tokenOfAnotherServerIsUnauthorized() {
        String foreign = Tokens.forDataDir(tmp.resolve("other-server")).issue("alice", Duration.ofHours(1));

        assertUnauthorizedAndNothingApplied("Bearer " + foreign);
    }

    @Test
    void expiredTokenIsUnauthorized() {
        Clock lastWeek = Clock.fixed(Instant.now().minus(Duration.ofDays(7)), ZoneOffset.UTC);
        String expired = Tokens.forDataDir(dataDir, lastWeek).issue("alice", Duration.ofHours(1));

        assertUnauthorizedAndNothingApplied("Bearer " + expired);
    }

    @Test
    void tokenNotYetValidIsUnauthorized() {
        Clock nextWeek = Clock.fixed(Instant.now().plus(Duration.ofDays(7)), ZoneOffset.UTC);
        String early = Tokens.forDataDir(dataDir, nextWeek).issue("alice", Duration.ofHours(1));

        assertUnauthorizedAndNothingApplied("Bearer " + early);
    }

    @Test
    void unsignedTokenWithAlgNoneIsUnauthorized() {
        String header = base64Url("{\"alg\":\"none\"}");
        String claims = base64Url(validClaims("alice").build().toString());

        assertUnauthorizedAndNothingApplied("Bearer " + header + "." + claims + ".");
    }

    @Test
    void hs256TokenWithItsSignatureStrippedIsUnauthorized() {
        String[] parts = alice.split("\\.");

        assertUnauthorizedAndNothingApplied("Bearer " + parts[0] + "." + parts[1] + ".");
    }

    @Test
    void tokenWhoseSubjectWasEditedIsUnauthorized() {
        String[] parts = alice.split("\\.");
        String claims = new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8);
        String forged = base64Url(claims.replace("\"alice\"", "\"bob\""));
        assertThat(forged).isNotEqualTo(parts[1]);

        assertUnauthorizedAndNothingApplied("Bearer " + parts[0] + "." + forged + "." + parts[2]);
    }

    @Test
    void handBuiltTokenWithTheRightClaimsIsAccepted() {
        String token = sign(JWSAlgorithm.HS256, validClaims("alice").build());

        HttpResponse<String> response = push("Bearer " + token, pushBody("d1", createOp("o1", "n1")));

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
    }

    @Test
    void tokenOfAnotherIssuerIsUnauthorized() {
        assertUnauthorizedAndNothingApplied("Bearer " + sign(JWSAlgorithm.HS256, validClaims("alice").issuer("evil").build()));
    }

    @Test
    void tokenWithoutIssuerIsUnauthorized() {
        assertUnauthorizedAndNothingApplied("Bearer " + sign(JWSAlgorithm.HS256, validClaims("alice").issuer(null).build()));
    }

    @Test
    void tokenForAnotherAudienceIsUnauthorized() {
        assertUnauthorizedAndNothingApplied("Bearer " + sign(JWSAlgorithm.HS256,
                validClaims("alice").audience("some-other-service").build()));
    }

    @Test
    void tokenWithoutExpiryIsUnauthorized() {
        assertUnauthorizedAndNothingApplied("Bearer " + sign(JWSAlgorithm.HS256,
                validClaims("alice").expirationTime(null).build()));
    }

    @Test
    void tokenWithoutSubjectIsUnauthorized() {
        assertUnauthorizedAndNothingApplied("Bearer " + sign(JWSAlgorithm.HS256, validClaims(null).build()));
    }

    @Test
    void tokenSignedWithAnotherHmacAlgorithmIsUnauthorized() {
        byte[] longSecret = new byte[64];
        byte[] secret = serverSecret();
        System.arraycopy(secret, 0, longSecret, 0, secret.length);
        // HS512 needs a 64-byte key; the point is that only HS256 is accepted, whatever the header says.
        assertUnauthorizedAndNothingApplied("Bearer " + sign(JWSAlgorithm.HS512, validClaims("alice").build(), longSecret));
    }

    // ---- isolation between users ----

    @Test
    void usersSeeAndChangeOnlyTheirOwnRecords() {
        JsonNode created = result(push("Bearer " + alice, pushBody("dA", createOp("a1", "n1", "from alice"))));
        assertThat(created.get("status").asText()).isEqualTo("APPLIED");
        String bob = server.tokens().issue("bob", Duration.ofHours(1));

        assertThat(changes("Bearer " + bob)).as("bob sees none of alice's changes").isEmpty();

        ObjectNode update = createOp("b1", "n1", "bob was here").put("type", "UPDATE").put("baseVersion", 1);
        JsonNode updated = result(push("Bearer " + bob, pushBody("dB", update)));
        assertThat(updated.get("status").asText()).isEqualTo("REJECTED");
        assertThat(updated.get("error").get("code").asText()).isEqualTo("RECORD_NOT_FOUND");
        assertThat(updated.has("record")).as("no foreign data in the answer").isFalse();

        ObjectNode delete = createOp("b2", "n1", null).put("type", "DELETE").put("baseVersion", 1);
        delete.remove("data");
        JsonNode deleted = result(push("Bearer " + bob, pushBody("dB", delete)));
        assertThat(deleted.get("status").asText()).isEqualTo("REJECTED");
        assertThat(deleted.get("error").get("code").asText()).isEqualTo("RECORD_NOT_FOUND");

        List<JsonNode> aliceChanges = changes("Bearer " + alice);
        assertThat(aliceChanges).hasSize(1);
        assertThat(aliceChanges.get(0).get("version").asLong()).isEqualTo(1);
        assertThat(aliceChanges.get(0).get("deleted").asBoolean()).isFalse();
        assertThat(aliceChanges.get(0).get("data").get("text").asText()).isEqualTo("from alice");

        JsonNode bobsOwn = result(push("Bearer " + bob, pushBody("dB", createOp("b3", "n1", "bob's own"))));
        assertThat(bobsOwn.get("status").asText()).as("bob's n1 is a new record of his own, not a conflict with alice's")
                .isEqualTo("APPLIED");
        assertThat(bobsOwn.get("version").asLong()).isEqualTo(1);

        List<JsonNode> bobChanges = changes("Bearer " + bob);
        assertThat(bobChanges).hasSize(1);
        assertThat(bobChanges.get(0).get("data").get("text").asText()).isEqualTo("bob's own");
        assertThat(changes("Bearer " + alice)).as("alice does not see bob's record")
                .extracting(change -> change.get("data").get("text").asText())
                .containsExactly("from alice");
    }

    @Test
    void deviceOfOneUserCannotPushForAnother() {
        assertThat(result(push("Bearer " + alice, pushBody("shared", createOp("a1", "n1", "alice")))).get("status").asText())
                .isEqualTo("APPLIED");
        String bob = server.tokens().issue("bob", Duration.ofHours(1));

        HttpResponse<String> response = push("Bearer " + bob, pushBody("shared", createOp("b1", "n2", "bob"), createOp("a1", "n1", "bob")));

        assertThat(response.statusCode()).as(response.body()).isEqualTo(403);
        JsonNode error = assertErrorBody(response);
        assertThat(error.get("code").asText()).isEqualTo("DEVICE_NOT_OWNED");
        assertThat(error.get("message").asText()).as("does not reveal the owner").doesNotContain("alice");
        assertThat(changes("Bearer " + bob)).isEmpty();
        assertThat(changes("Bearer " + alice)).hasSize(1);

        JsonNode own = result(push("Bearer " + bob, pushBody("bobs-phone", createOp("b1", "n2", "bob"))));
        assertThat(own.get("status").asText()).as("the refused op was not recorded").isEqualTo("APPLIED");
        JsonNode aliceAgain = result(push("Bearer " + alice, pushBody("shared", createOp("a2", "n3", "alice"))));
        assertThat(aliceAgain.get("status").asText()).as("the owner keeps using the device").isEqualTo("APPLIED");
    }

    @Test
    void aDeviceBoundBeforeARestartIsStillRefusedToAnotherUser() {
        assertThat(result(push("Bearer " + alice, pushBody("shared", createOp("a1", "n1", "alice")))).get("status").asText())
                .isEqualTo("APPLIED");
        server.close();
        server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(dataDir).databaseUrl(databaseUrl).build().start();
        String bob = server.tokens().issue("bob", Duration.ofHours(1));

        HttpResponse<String> refused = push("Bearer " + bob, pushBody("shared", createOp("b1", "n2", "bob")));

        assertThat(refused.statusCode()).as(refused.body()).isEqualTo(403);
        assertThat(assertErrorBody(refused).get("code").asText()).isEqualTo("DEVICE_NOT_OWNED");
        assertThat(changes("Bearer " + bob)).isEmpty();
        JsonNode aliceAgain = result(push("Bearer " + alice, pushBody("shared", createOp("a2", "n3", "alice"))));
        assertThat(aliceAgain.get("status").asText()).as("the owner keeps using the device").isEqualTo("APPLIED");
        HttpResponse<String> refusedAgain = push("Bearer " + bob, pushBody("shared", createOp("b2", "n4", "bob")));
        assertThat(refusedAgain.statusCode()).as("refused once the node remembers the binding too").isEqualTo(403);
    }

    // ---- Tokens ----

    @ParameterizedTest(name = "user \"{0}\"")
    @ValueSource(strings = {"", " ", "\t\n"})
    void issuingForABlankUserFails(String user) {
        Tokens tokens = Tokens.forDataDir(tmp.resolve("tokens"));

        assertThatThrownBy(() -> tokens.issue(user, Duration.ofHours(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("user");
    }

    @ParameterizedTest(name = "user of {0} characters")
    @ValueSource(ints = {201, 10_000})
    void issuingForAnOverlongUserFails(int length) {
        Tokens tokens = Tokens.forDataDir(tmp.resolve("tokens"));

        assertThatThrownBy(() -> tokens.issue("u".repeat(length), Duration.ofHours(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("200");
    }

    @ParameterizedTest(name = "user \"{0}\"")
    @ValueSource(strings = {"ali\u0000ce", "alice\n", "\u0007"})
    void issuingForAUserWithControlCharactersFails(String user) {
        Tokens tokens = Tokens.forDataDir(tmp.resolve("tokens"));

        assertThatThrownBy(() -> tokens.issue(user, Duration.ofHours(1)))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("control characters");
    }

    @Test
    void issuingForNoUserFails() {
        Tokens tokens = Tokens.forDataDir(tmp.resolve("tokens"));

        assertThatThrownBy(() -> tokens.issue(null, Duration.ofHours(1))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void issuingWithoutAPositiveLifetimeFails() {
        Tokens tokens = Tokens.forDataDir(tmp.resolve("tokens"));

        assertThatThrownBy(() -> tokens.issue("alice", Duration.ZERO))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("PT0S");
        assertThatThrownBy(() -> tokens.issue("alice", Duration.ofSeconds(-1)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> tokens.issue("alice", null)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void issuedTokenVerifiesToItsUser() {
        Tokens tokens = Tokens.forDataDir(tmp.resolve("tokens"));

        assertThat(tokens.verify(tokens.issue("alice", Duration.ofMinutes(5)))).isEqualTo("alice");
        assertThat(Tokens.forDataDir(tmp.resolve("tokens")).verify(tokens.issue("bob", Duration.ofMinutes(5))))
                .as("the secret is kept in the directory").isEqualTo("bob");
    }

    @Test
    void aTokenVerifiedBeforeIsRefusedOnceItExpires() {
        Instant issued = Instant.parse("2026-01-01T00:00:00Z");
        Instant[] now = {issued};
        Clock clock = new Clock() {
            @Override
            public Instant instant() {
                return now[0];
            }

            @Override
            public java.time.ZoneId getZone() {
                return ZoneOffset.UTC;
            }

            @Override
            public Clock withZone(java.time.ZoneId zone) {
                return this;
            }
        };
        Tokens tokens = Tokens.withSecret(new byte[32], clock);
        String token = tokens.issue("alice", Duration.ofMinutes(5));
        assertThat(tokens.verify(token)).isEqualTo("alice");
        now[0] = issued.plus(Duration.ofMinutes(4));
        assertThat(tokens.verify(token)).as("met again inside its window").isEqualTo("alice");

        now[0] = issued.plus(Duration.ofMinutes(10));
        assertThatThrownBy(() -> tokens.verify(token)).isInstanceOf(TokenException.class).hasMessageContaining("Expired");
        now[0] = issued.minus(Duration.ofMinutes(10));
        assertThatThrownBy(() -> tokens.verify(token)).as("before its nbf, by a clock set back")
                .isInstanceOf(TokenException.class).hasMessageContaining("before use time");
        assertThatThrownBy(() -> tokens.verify(token + "x")).as("the same token with one more character")
                .isInstanceOf(TokenException.class);
    }

    @Test
    void secretFileThatIsNotBase64FailsNamingTheFile() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("corrupt"));
        Path file = dir.resolve(Tokens.SECRET_FILE);
        Files.writeString(file, "this is *not* base64!");

        assertThatThrownBy(() -> Tokens.forDataDir(dir))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("base64");
    }

    @Test
    void secretFileThatIsTooShortFailsNamingTheFile() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("short"));
        Path file = dir.resolve(Tokens.SECRET_FILE);
        Files.writeString(file, Base64.getEncoder().encodeToString(new byte[16]));

        assertThatThrownBy(() -> Tokens.forDataDir(dir))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("16");
    }

    @Test
    void emptySecretFileFailsNamingTheFile() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("empty"));
        Path file = dir.resolve(Tokens.SECRET_FILE);
        Files.writeString(file, "");

        assertThatThrownBy(() -> Tokens.forDataDir(dir))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(file.toString());
    }

    @Test
    void serverWithACorruptSecretDoesNotStart() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("corrupt-server"));
        Files.writeString(dir.resolve(Tokens.SECRET_FILE), "%%%");

        assertThatThrownBy(() -> OutpostServer.builder().host("127.0.0.1").port(0).dataDir(dir).build())
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining(dir.resolve(Tokens.SECRET_FILE).toString());
    }

    // ---- helpers ----

    /**
     * Push and pull with this Authorization header (null: none) both get 401 UNAUTHORIZED
     * without echoing the credentials, and the push applied nothing.
     */
    private void assertUnauthorizedAndNothingApplied(String authorization) {
        int attempt = ++attempts;
        String body = pushBody("d1", createOp("o" + attempt, "n" + attempt));
        int changesBefore = changes("Bearer " + alice).size();

        HttpResponse<String> pushed = push(authorization, body);
        HttpResponse<String> pulled = send(withAuth(HttpRequest.newBuilder(uri("/v1/pull")).GET(), authorization));
        HttpResponse<String> unknown = send(withAuth(HttpRequest.newBuilder(uri("/v1/nope")).GET(), authorization));

        for (HttpResponse<String> response : List.of(pushed, pulled, unknown)) {
            assertThat(response.statusCode()).as("%s %s", response.request().uri(), response.body()).isEqualTo(401);
            JsonNode error = assertErrorBody(response);
            assertThat(error.get("code").asText()).isEqualTo("UNAUTHORIZED");
            if (authorization != null && authorization.length() > 20) {
                String credential = authorization.substring(authorization.indexOf(' ') + 1);
                assertThat(error.get("message").asText()).as("does not echo the credentials").doesNotContain(credential);
            }
        }

        assertThat(changes("Bearer " + alice)).as("nothing applied").hasSize(changesBefore);
        JsonNode sent = result(push("Bearer " + alice, body));
        assertThat(sent.get("status").asText()).as("the refused op was not recorded").isEqualTo("APPLIED");
        assertThat(sent.get("version").asLong()).isEqualTo(1);
    }

    private static JWTClaimsSet.Builder validClaims(String user) {
        Instant now = Instant.now();
        return new JWTClaimsSet.Builder()
                .subject(user)
                .issuer(Tokens.ISSUER)
                .audience(Tokens.AUDIENCE)
                .issueTime(Date.from(now))
                .expirationTime(Date.from(now.plus(Duration.ofHours(1))));
    }

    private String sign(JWSAlgorithm algorithm, JWTClaimsSet claims) {
        return sign(algorithm, claims, serverSecret());
    }

    private static String sign(JWSAlgorithm algorithm, JWTClaimsSet claims, byte[] secret) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader(algorithm), claims);
            jwt.sign(new MACSigner(secret));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private byte[] serverSecret() {
        try {
            return Base64.getDecoder().decode(Files.readString(dataDir.resolve(Tokens.SECRET_FILE)).trim());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String base64Url(String text) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    private static ObjectNode createOp(String opId, String recordId) {
        return createOp(opId, recordId, "hello");
    }

    private static ObjectNode createOp(String opId, String recordId, String text) {
        ObjectNode op = JSON.objectNode()
                .put("opId", opId)
                .put("collection", "notes")
                .put("recordId", recordId)
                .put("type", "CREATE");
        op.set("data", JSON.objectNode().put("text", text));
        return op.put("hlc", HLC).put("priority", "NORMAL");
    }

    private static String pushBody(String deviceId, ObjectNode... ops) {
        ObjectNode body = JSON.objectNode().put("deviceId", deviceId);
        ArrayNode array = body.putArray("ops");
        for (ObjectNode op : ops) {
            array.add(op);
        }
        return body.toString();
    }

    private HttpResponse<String> push(String authorization, String body) {
        return send(withAuth(HttpRequest.newBuilder(uri("/v1/push"))
                .header("Content-Type", "application/json")
                .POST(BodyPublishers.ofString(body)), authorization));
    }

    private static JsonNode result(HttpResponse<String> response) {
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode results = TestJson.parse(response.body()).get("results");
        assertThat(results).hasSize(1);
        return results.get(0);
    }

    private List<JsonNode> changes(String authorization) {
        HttpResponse<String> response = send(withAuth(HttpRequest.newBuilder(uri("/v1/pull?limit=1000")).GET(), authorization));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        JsonNode page = TestJson.parse(response.body());
        assertThat(page.get("hasMore").asBoolean()).isFalse();
        List<JsonNode> changes = new ArrayList<>();
        page.get("changes").forEach(changes::add);
        return changes;
    }

    private static JsonNode assertErrorBody(HttpResponse<String> response) {
        assertThat(response.headers().firstValue("Content-Type")).hasValueSatisfying(
                type -> assertThat(type).startsWith("application/json"));
        JsonNode body = TestJson.parse(response.body());
        assertThat(body.get("code")).as(response.body()).isNotNull();
        assertThat(body.get("message")).as(response.body()).isNotNull();
        assertThat(body.get("message").asText()).isNotBlank().contains(" ")
                .doesNotContain("\tat ").doesNotContain("dev.outpost.");
        return body;
    }

    private static HttpRequest.Builder withAuth(HttpRequest.Builder request, String authorization) {
        return authorization == null ? request : request.header("Authorization", authorization);
    }

    private URI uri(String pathAndQuery) {
        return URI.create(server.url() + pathAndQuery);
    }

    private HttpResponse<String> send(HttpRequest.Builder request) {
        try {
            return http.send(request.timeout(Duration.ofSeconds(10)).build(), BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

}
