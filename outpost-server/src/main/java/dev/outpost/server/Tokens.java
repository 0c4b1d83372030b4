package dev.outpost.server;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.source.ImmutableJWKSet;
import com.nimbusds.jose.jwk.source.ImmutableSecret;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Date;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Issues and verifies the bearer tokens of one server: JWTs signed with HMAC-SHA256 under a
 * secret kept in the server's data directory, or, when users sign in elsewhere, RS256 JWTs
 * of an identity provider whose RSA public key the server is given.
 *
 * <p>The secret lives in {@code <data-dir>/secret.key}: 32 random bytes, base64, created on
 * first use with owner-only permissions. Tokens carry {@code sub} (the user),
 * {@code iss} {@value #ISSUER}, {@code aud} {@value #AUDIENCE}, {@code iat} and {@code exp},
 * and may carry {@code scopes}, the shared scopes they grant ({@link ScopeAccess}).
 * Verification accepts one algorithm only, HS256 or RS256 as configured, whatever the token's
 * header says: an RS256 server's public key is never taken for an HMAC secret. A token is
 * taken up to {@link #DEFAULT_CLOCK_SKEW} past its {@code exp} and before its {@code nbf}
 * (a server's own leeway is set with {@link OutpostServer.Builder#tokenClockSkew}).
 */
public final class Tokens {
    /** The issuer claim of every token. */
    public static final String ISSUER = "outpost";
    /** The audience claim of every token. */
    public static final String AUDIENCE = "outpost-sync";
    /** The name of the secret's file in the data directory. */
    public static final String SECRET_FILE = "secret.key";
    /** The claim that grants shared scopes: an object of scope name to "read" or "read-write". */
    public static final String SCOPES_CLAIM = "scopes";

    /**
     * How far past {@code exp}, and before {@code nbf}, a token is still taken unless the server
     * is configured otherwise ({@link OutpostServer.Builder#tokenClockSkew}): the leeway for
     * clocks of the issuer and the server that disagree a little.
     */
    public static final Duration DEFAULT_CLOCK_SKEW = Duration.ofSeconds(60);
    /** The most leeway {@link OutpostServer.Builder#tokenClockSkew} allows. */
    public static final Duration MAX_CLOCK_SKEW = Duration.ofMinutes(10);

    /** How many verified tokens are remembered; past it the memory starts afresh. */
    private static final int REMEMBERED = 10_000;

    private final byte[] secret;
    private final Clock clock;
    private final DefaultJWTProcessor<SecurityContext> processor;
    /**
     * Tokens that passed verification, by the SHA-256 of their text, with what they said. A
     * token met again inside its own validity window (not before nbf, before exp, by this
     * clock) is taken without its signature checked again: a device sends the same token with
     * every request, and verifying it costs more than a small push. Anything else, a
     * remembered token outside its window included, goes through full verification; one past
     * its expiry is forgotten.
     */
    private final Map<String, Verified> verified = new ConcurrentHashMap<>();

    private Tokens(byte[] secret, Clock clock) {
        this.secret = secret.clone();
        this.clock = clock;
        this.processor = processor(new JWSVerificationKeySelector<>(JWSAlgorithm.HS256, new ImmutableSecret<>(this.secret)),
                ISSUER, AUDIENCE, Set.of("sub", "exp", "iat"), clock);
    }

    private Tokens(RSAPublicKey key, String issuer, String audience, Clock clock) {
        this.secret = null;
        this.clock = clock;
        this.processor = processor(new JWSVerificationKeySelector<>(JWSAlgorithm.RS256,
                new ImmutableJWKSet<>(new JWKSet(new RSAKey.Builder(key).build()))), issuer, audience, Set.of("sub", "exp"), clock);
    }

    private static DefaultJWTProcessor<SecurityContext> processor(JWSVerificationKeySelector<SecurityContext> keys, String issuer,
            String audience, Set<String> required, Clock clock) {
        DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
        processor.setJWSKeySelector(keys);
        DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(
                audience,
                new JWTClaimsSet.Builder().issuer(issuer).build(),
                new HashSet<>(required)) {
            @Override
            protected Date currentTime() {
                return Date.from(clock.instant());
            }
        };
        claims.setMaxClockSkew((int) DEFAULT_CLOCK_SKEW.toSeconds());
        processor.setJWTClaimsSetVerifier(claims);
        return processor;
    }

    /**
     * Sets how far past {@code exp} and before {@code nbf} a token is still taken; called by
     * the server before it starts, with a value its builder has checked.
     */
    void clockSkew(Duration skew) {
        ((DefaultJWTClaimsVerifier<SecurityContext>) processor.getJWTClaimsSetVerifier()).setMaxClockSkew((int) skew.toSeconds());
    }

    /**
     * The tokens of the server whose data directory is {@code dataDir}, creating the directory
     * and its secret on first use.
     *
     * @throws UncheckedIOException if the directory or secret cannot be read or written
     * @throws IllegalStateException if the secret file exists but does not hold a valid secret
     */
    public static Tokens forDataDir(Path dataDir) {
        return forDataDir(dataDir, Clock.systemUTC());
    }

    /** As {@link #forDataDir(Path)}, with the clock that decides expiry. */
    public static Tokens forDataDir(Path dataDir, Clock clock) {
        Objects.requireNonNull(dataDir, "dataDir");
        Objects.requireNonNull(clock, "clock");
        Path file = dataDir.resolve(SECRET_FILE);
        try {
            Files.createDirectories(dataDir);
            if (!Files.exists(file)) {
                createSecret(file);
            }
            String text = Files.readString(file, StandardCharsets.US_ASCII).trim();
            byte[] secret;
            try {
                secret = Base64.getDecoder().decode(text);
            } catch (IllegalArgumentException e) {
                throw new IllegalStateException("signing secret " + file + " is not base64; delete it to create a new one"
                        + " (tokens issued before will stop working)");
            }
            if (secret.length < 32) {
                throw new IllegalStateException("signing secret " + file + " holds " + secret.length
                        + " bytes; at least 32 are needed. Delete it to create a new one");
            }
            return new Tokens(secret, clock);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read or create the signing secret " + file + ": " + e.getMessage(), e);
        }
    }

    /** Tokens signed with the given secret (at least 32 bytes), for servers configured by value. */
    public static Tokens withSecret(byte[] secret, Clock clock) {
        if (secret.length < 32) {
            throw new IllegalArgumentException("an HMAC secret needs at least 32 bytes, got " + secret.length);
        }
        return new Tokens(secret, Objects.requireNonNull(clock, "clock"));
    }

    /**
     * Tokens of an identity provider that signs RS256 JWTs: this server verifies them with
     * {@code key} and checks their issuer and audience; it cannot issue any.
     */
    public static Tokens withRsaPublicKey(RSAPublicKey key, String issuer, String audience, Clock clock) {
        Objects.requireNonNull(key, "key");
        if (key.getModulus().bitLength() < 2048) {
            throw new IllegalArgumentException("an RSA key for RS256 needs at least 2048 bits, got " + key.getModulus().bitLength());
        }
        if (issuer == null || issuer.isBlank() || audience == null || audience.isBlank()) {
            throw new IllegalArgumentException("tokens signed by an identity provider need the issuer and audience to check");
        }
        return new Tokens(key, issuer, audience, Objects.requireNonNull(clock, "clock"));
    }

    /**
     * Reads an RSA public key from a PEM file ({@code -----BEGIN PUBLIC KEY-----}, X.509
     * SubjectPublicKeyInfo).
     *
     * @throws IllegalArgumentException naming the file, if it cannot be read or holds no RSA public key
     */
    public static RSAPublicKey readRsaPublicKey(Path pem) {
        String text;
        try {
            text = Files.readString(pem, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot read the public key file " + pem + ": " + e.getMessage(), e);
        }
        int begin = text.indexOf("-----BEGIN PUBLIC KEY-----");
        int end = text.indexOf("-----END PUBLIC KEY-----");
        if (begin < 0 || end < begin) {
            throw new IllegalArgumentException("the public key file " + pem
                    + " holds no PEM public key (-----BEGIN PUBLIC KEY----- ... -----END PUBLIC KEY-----)");
        }
        try {
            byte[] der = Base64.getMimeDecoder().decode(text.substring(begin + 26, end));
            return (RSAPublicKey) KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(der));
        } catch (IllegalArgumentException | GeneralSecurityException | ClassCastException e) {
            throw new IllegalArgumentException("the public key file " + pem + " does not hold an RSA public key: " + e.getMessage(), e);
        }
    }

    /**
     * Whether these tokens can be issued here: true for an HMAC secret, false when only an
     * identity provider's RS256 tokens are verified.
     */
    public boolean canIssue() {
        return secret != null;
    }

    /**
     * A token for {@code user}, valid for {@code ttl}.
     *
     * @throws IllegalArgumentException if user is blank, longer than 200 characters or holds
     *     control characters, or ttl is not positive
     * @throws IllegalStateException if this server only verifies an identity provider's tokens
     */
    public String issue(String user, Duration ttl) {
        return issue(user, ttl, Map.of());
    }

    /**
     * A token for {@code user}, valid for {@code ttl}, that also grants {@code scopes}.
     *
     * @throws IllegalArgumentException if user is not valid (as {@link #issue(String, Duration)}), ttl is not
     *     positive or a scope name is not valid
     * @throws IllegalStateException if this server only verifies an identity provider's tokens
     */
    public String issue(String user, Duration ttl, Map<String, ScopeAccess> scopes) {
        if (secret == null) {
            throw new IllegalStateException("this server verifies RS256 tokens of an identity provider; it holds no key to issue tokens");
        }
        if (user == null || user.isBlank()) {
            throw new IllegalArgumentException("user must not be blank");
        }
        if (!dev.outpost.protocol.Names.isValidId(user)) {
            throw new IllegalArgumentException("user must be " + dev.outpost.protocol.Names.idRule() + " (got "
                    + user.length() + " characters)");
        }
        if (ttl == null || ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("token lifetime must be positive, got " + ttl);
        }
        Map<String, Object> granted = new LinkedHashMap<>();
        scopes.forEach((name, access) -> {
            if (!dev.outpost.protocol.Names.isValidCollection(name)) {
                throw new IllegalArgumentException("scope name '" + name + "' is not valid: " + dev.outpost.protocol.Names.collectionRule());
            }
            granted.put(name, Objects.requireNonNull(access, "access").claim());
        });
        Date now = Date.from(clock.instant());
        JWTClaimsSet.Builder builder = new JWTClaimsSet.Builder()
                .subject(user)
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .issueTime(now)
                .notBeforeTime(now)
                .expirationTime(Date.from(clock.instant().plus(ttl)));
        if (!granted.isEmpty()) {
            builder.claim(SCOPES_CLAIM, granted);
        }
        JWTClaimsSet claims = builder.build();
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), claims);
            jwt.sign(new MACSigner(secret));
            return jwt.serialize();
        } catch (JOSEException e) {
            throw new IllegalStateException("cannot sign a token: " + e.getMessage(), e);
        }
    }

    /**
     * The user a token was issued to.
     *
     * @throws TokenException if the token is malformed, not signed with this server's key
     *     under its algorithm, expired, not yet valid, of another issuer or audience, or its
     *     subject is blank, longer than 200 characters or holds control characters
     */
    public String verify(String token) {
        return authenticate(token).user();
    }

    /**
     * The user a token was issued to and the shared scopes it grants.
     *
     * @throws TokenException as {@link #verify}, or if its {@code scopes} claim is not an
     *     object of valid scope names to "read" or "read-write"
     */
    public Identity authenticate(String token) {
        if (token == null || token.isBlank()) {
            throw new TokenException("no bearer token");
        }
        String digest = digest(token);
        Verified known = verified.get(digest);
        if (known != null) {
            long now = clock.millis();
            if (known.holdsAt(now)) {
                return known.identity();
            }
            if (now >= known.expires()) {
                verified.remove(digest, known);
            }
        }
        try {
            JWTClaimsSet claims = processor.process(token, null);
            if (!dev.outpost.protocol.Names.isValidId(claims.getSubject())) {
                throw new TokenException("the token's subject (sub) names no usable user: it must be "
                        + dev.outpost.protocol.Names.idRule());
            }
            Identity identity = new Identity(claims.getSubject(), scopes(claims.getClaim(SCOPES_CLAIM)));
            if (verified.size() >= REMEMBERED) {
                verified.clear();
            }
            verified.put(digest, new Verified(identity,
                    claims.getNotBeforeTime() == null ? Long.MIN_VALUE : claims.getNotBeforeTime().getTime(),
                    claims.getExpirationTime().getTime()));
            return identity;
        } catch (ParseException e) {
            throw new TokenException("the bearer token is not a JWT");
        } catch (BadJOSEException e) {
            String reason = e.getMessage() != null && e.getMessage().startsWith("Unsecured")
                    ? "unsigned tokens (alg none) are not accepted"
                    : e.getMessage();
            throw new TokenException("the bearer token was rejected: " + reason);
        } catch (JOSEException e) {
            throw new TokenException("the bearer token cannot be verified: " + e.getMessage());
        }
    }

    private static String digest(String token) {
        try {
            return Base64.getEncoder().encodeToString(
                    MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    /** A verified token's identity and the window it is valid in: from nbf (inclusive) to exp, in epoch millis. */
    private record Verified(Identity identity, long notBefore, long expires) {
        boolean holdsAt(long now) {
            return now >= notBefore && now < expires;
        }
    }

    private static Map<String, ScopeAccess> scopes(Object claim) {
        if (claim == null) {
            return Map.of();
        }
        if (!(claim instanceof Map<?, ?> map)) {
            throw new TokenException("the token's " + SCOPES_CLAIM + " claim must be an object of scope name to \"read\" or \"read-write\"");
        }
        Map<String, ScopeAccess> scopes = new LinkedHashMap<>();
        for (Map.Entry<?, ?> entry : map.entrySet()) {
            String name = String.valueOf(entry.getKey());
            ScopeAccess access = ScopeAccess.ofClaim(entry.getValue());
            if (!dev.outpost.protocol.Names.isValidCollection(name) || access == null) {
                throw new TokenException("the token's " + SCOPES_CLAIM + " claim grants '" + (name.length() > 40 ? name.substring(0, 40) : name)
                        + "' as " + entry.getValue() + "; a scope name is " + dev.outpost.protocol.Names.collectionRule()
                        + " and its access \"read\" or \"read-write\"");
            }
            scopes.put(name, access);
        }
        return scopes;
    }

    private static void createSecret(Path file) throws IOException {
        byte[] secret = new byte[32];
        new SecureRandom().nextBytes(secret);
        byte[] text = Base64.getEncoder().encode(secret);
        try {
            Files.createFile(file);
        } catch (FileAlreadyExistsException e) {
            return;
        }
        try {
            Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        } catch (UnsupportedOperationException e) {
            // Not a POSIX file system: the directory's own permissions protect the file.
        }
        Files.write(file, text, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
    }
}
