package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import dev.outpost.testdb.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.security.interfaces.RSAPublicKey;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Promise 7's token battery, the same list against a server that signs its own HS256 tokens and
 * one that takes an identity provider's RS256 tokens: each forged, unsigned, confused,
 * out-of-date or misaddressed token is refused 401 UNAUTHORIZED on every endpoint, with none of
 * the user's data in the answer and nothing applied.
 */
class JwtBatteryTest {
    private static final KeyPair IDP = rsaKeys();
    private static final KeyPair ATTACKER = rsaKeys();
    private static final String IDP_ISSUER = "https://id.example.com";
    private static final String IDP_AUDIENCE = "outpost-app";
    private static final String SECRET_TEXT = "alice's secret plan";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private OutpostServer server;

    /** How the server under test checks tokens, and how a genuine token of it is made. */
    enum Kind {
        HMAC, RSA
    }

    /** What a test may use to forge a token: the server's genuine signing, its keys and claims. */
    record Forge(Kind kind, byte[] secret, Path publicKeyPem) {
        String issuer() {
            return kind == Kind.HMAC ? Tokens.ISSUER : IDP_ISSUER;
        }

        String audience() {
            return kind == Kind.HMAC ? Tokens.AUDIENCE : IDP_AUDIENCE;
        }

        JWTClaimsSet.Builder claims() {
            Instant now = Instant.now();
            return new JWTClaimsSet.Builder().subject("alice").issuer(issuer()).audience(audience()).issueTime(Date.from(now))
                    .notBeforeTime(Date.from(now.minusSeconds(60))).expirationTime(Date.from(now.plus(Duration.ofHours(1))));
        }

        /** A token signed as the server expects: the algorithm and key it is configured with. */
        String genuine(JWTClaimsSet claims) {
            return kind == Kind.HMAC
                    ? sign(new JWSHeader(JWSAlgorithm.HS256), claims, mac(secret))
                    : sign(new JWSHeader(JWSAlgorithm.RS256), claims, new RSASSASigner(IDP.getPrivate()));
        }

        String genuine() {
            return genuine(claims().build());
        }

        byte[] publicKeyPemBytes() {
            try {
                return Files.readAllBytes(publicKeyPem);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    static Stream<Arguments> misuses() {
        List<Arguments> cases = new ArrayList<>();
        for (Kind kind : Kind.values()) {
            misuse(cases, kind, "alg none, no signature", forge -> unsigned("{\"alg\":\"none\",\"typ\":\"JWT\"}", forge));
            misuse(cases, kind, "alg NONE, no signature", forge -> unsigned("{\"alg\":\"NONE\"}", forge));
            misuse(cases, kind, "alg none with the genuine signature kept", forge -> {
                String[] genuine = forge.genuine().split("\\.");
                return base64Url("{\"alg\":\"none\"}") + "." + genuine[1] + "." + genuine[2];
            });
            misuse(cases, kind, "nbf an hour ahead", forge -> forge.genuine(forge.claims()
                    .notBeforeTime(Date.from(Instant.now().plus(Duration.ofHours(1)))).build()));
            misuse(cases, kind, "expired ten minutes ago", forge -> forge.genuine(forge.claims()
                    .issueTime(Date.from(Instant.now().minus(Duration.ofHours(2))))
                    .notBeforeTime(Date.from(Instant.now().minus(Duration.ofHours(2))))
                    .expirationTime(Date.from(Instant.now().minus(Duration.ofMinutes(10)))).build()));
            misuse(cases, kind, "no exp", forge -> forge.genuine(forge.claims().expirationTime(null).build()));
            misuse(cases, kind, "no sub", forge -> forge.genuine(forge.claims().subject(null).build()));
            misuse(cases, kind, "another audience", forge -> forge.genuine(forge.claims().audience("another-app").build()));
            misuse(cases, kind, "audience list without ours", forge -> forge.genuine(forge.claims()
                    .audience(List.of("a", "b")).build()));
            misuse(cases, kind, "another issuer", forge -> forge.genuine(forge.claims().issuer("https://evil.example.com").build()));
            misuse(cases, kind, "no issuer", forge -> forge.genuine(forge.claims().issuer(null).build()));
            misuse(cases, kind, "payload edited, signature kept", forge -> {
                String[] genuine = forge.genuine().split("\\.");
                String claims = new String(Base64.getUrlDecoder().decode(genuine[1]), StandardCharsets.UTF_8);
                return genuine[0] + "." + base64Url(claims.replace("\"alice\"", "\"bob\"")) + "." + genuine[2];
            });
            misuse(cases, kind, "signature with one character changed", forge -> {
                String genuine = forge.genuine();
                int at = genuine.lastIndexOf('.') + 5;
                char changed = genuine.charAt(at) == 'A' ? 'B' : 'A';
                return genuine.substring(0, at) + changed + genuine.substring(at + 1);
            });
            misuse(cases, kind, "signature stripped", forge -> {
                String genuine = forge.genuine();
                return genuine.substring(0, genuine.lastIndexOf('.') + 1);
            });
            misuse(cases, kind, "HS256 with the RSA public key (DER) as secret", forge -> sign(new JWSHeader(JWSAlgorithm.HS256),
                    forge.claims().build(), mac(IDP.getPublic().getEncoded())));
            misuse(cases, kind, "HS256 with the RSA public key's PEM text as secret", forge -> sign(new JWSHeader(JWSAlgorithm.HS256),
                    forge.claims().build(), mac(forge.publicKeyPemBytes())));
            misuse(cases, kind, "RS256 by another key", forge -> sign(new JWSHeader(JWSAlgorithm.RS256), forge.claims().build(),
                    new RSASSASigner(ATTACKER.getPrivate())));
            misuse(cases, kind, "RS256 by another key that its header embeds as jwk", forge -> sign(
                    new JWSHeader.Builder(JWSAlgorithm.RS256).jwk(new RSAKey.Builder((RSAPublicKey) ATTACKER.getPublic()).build()).build(),
                    forge.claims().build(), new RSASSASigner(ATTACKER.getPrivate())));
            misuse(cases, kind, "another algorithm of the right key", forge -> forge.kind() == Kind.HMAC
                    ? sign(new JWSHeader(JWSAlgorithm.HS512), forge.claims().build(), mac(padded(forge.secret(), 64)))
                    : sign(new JWSHeader(JWSAlgorithm.RS512), forge.claims().build(), new RSASSASigner(IDP.getPrivate())));
            misuse(cases, kind, "sub holding NUL", forge -> forge.genuine(forge.claims().subject("ali\u0000ce").build()));
            misuse(cases, kind, "sub of 201 characters", forge -> forge.genuine(forge.claims().subject("a".repeat(201)).build()));
            misuse(cases, kind, "sub that is blank", forge -> forge.genuine(forge.claims().subject(" ").build()));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} server, {1}")
    @MethodSource("misuses")
    void aMisusedTokenIsRefusedOnEveryEndpointWithNoDataAndNothingApplied(Kind kind, String misuse, Function<Forge, String> make) {
        Forge forge = start(kind);
        String alice = forge.genuine();
        assertThat(send("POST", "/v1/push", alice, push("alice-phone", "a1", SECRET_TEXT)).statusCode()).isEqualTo(200);
        String token = make.apply(forge);

        for (String[] call : new String[][] {{"POST", "/v1/push"}, {"GET", "/v1/pull"}, {"GET", "/v1/conflicts"},
                {"POST", "/v1/conflicts/00000000-0000-0000-0000-000000000000/resolve"},
                {"GET", "/v1/devices/alice-phone/operations"}}) {
            String body = call[1].equals("/v1/push") ? push("alice-phone", "a2", "forged")
                    : call[0].equals("POST") ? "{\"choice\":\"SERVER\"}" : null;
            HttpResponse<String> response = send(call[0], call[1], token, body);
            assertThat(response.statusCode()).as("%s %s: %s", call[0], call[1], response.body()).isEqualTo(401);
            JsonNode error = TestJson.parse(response.body());
            assertThat(error.get("code").asText()).isEqualTo("UNAUTHORIZED");
            assertThat(response.body()).doesNotContain(SECRET_TEXT).doesNotContain("\"a1\"");
        }
        HttpResponse<String> pulled = send("GET", "/v1/pull", alice, null);
        assertThat(pulled.body()).contains(SECRET_TEXT).doesNotContain("forged");
        assertThat(TestJson.parse(pulled.body()).get("changes")).hasSize(1);
    }

    @ParameterizedTest(name = "{0} server")
    @EnumSource(Kind.class)
    void theGenuineTokenOfEachKindIsAccepted(Kind kind) {
        Forge forge = start(kind);

        HttpResponse<String> response = send("POST", "/v1/push", forge.genuine(), push("alice-phone", "a1", "hello"));

        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        assertThat(TestJson.parse(response.body()).get("results").get(0).get("status").asText()).isEqualTo("APPLIED");
    }

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    // ---- helpers ----

    private static void misuse(List<Arguments> cases, Kind kind, String name, Function<Forge, String> make) {
        cases.add(Arguments.of(kind, name, make));
    }

    private Forge start(Kind kind) {
        Path dataDir = tmp.resolve("server");
        Path pem = pem(IDP);
        OutpostServer.Builder builder = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(dataDir)
                .databaseUrl(TestDatabases.freshUrl());
        if (kind == Kind.RSA) {
            builder.tokenPublicKey(pem, IDP_ISSUER, IDP_AUDIENCE);
        }
        server = builder.build().start();
        byte[] secret = null;
        if (kind == Kind.HMAC) {
            try {
                secret = Base64.getDecoder().decode(Files.readString(dataDir.resolve(Tokens.SECRET_FILE)).trim());
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return new Forge(kind, secret, pem);
    }

    private static String unsigned(String header, Forge forge) {
        return base64Url(header) + "." + base64Url(forge.claims().build().toString()) + ".";
    }

    private static MACSigner mac(byte[] secret) {
        try {
            return new MACSigner(secret);
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] padded(byte[] secret, int length) {
        byte[] longer = new byte[length];
        System.arraycopy(secret, 0, longer, 0, secret.length);
        return longer;
    }

    private static String sign(JWSHeader header, JWTClaimsSet claims, JWSSigner signer) {
        try {
            SignedJWT jwt = new SignedJWT(header, claims);
            jwt.sign(signer);
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String base64Url(String text) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(text.getBytes(StandardCharsets.UTF_8));
    }

    private static String push(String device, String recordId, String text) {
        return "{\"deviceId\":\"" + device + "\",\"ops\":[{\"opId\":\"op-" + recordId + "\",\"collection\":\"notes\",\"recordId\":\""
                + recordId + "\",\"type\":\"CREATE\",\"data\":{\"text\":\"" + text + "\"},\"hlc\":\"1700000000000-00000-d1\"}]}";
    }

    private Path pem(KeyPair keys) {
        String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(keys.getPublic().getEncoded());
        try {
            return Files.writeString(tmp.resolve("idp.pem"), "-----BEGIN PUBLIC KEY-----\n" + body + "\n-----END PUBLIC KEY-----\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static KeyPair rsaKeys() {
        try {
            KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
            generator.initialize(2048);
            return generator.generateKeyPair();
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private HttpResponse<String> send(String method, String path, String token, String body) {
        return TestHttp.send(http, server.url(), method, path, token, body);
    }
}
