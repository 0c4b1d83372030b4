package dev.outpost.server;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
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
import java.security.SecureRandom;
import java.text.ParseException;
import java.time.Clock;
import java.time.Duration;
import java.util.Base64;
import java.util.Date;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;

/**
 * Issues and verifies the bearer tokens of one server: JWTs signed with HMAC-SHA256 under a
 * secret kept in the server's data directory.
 *
 * <p>The secret lives in {@code <data-dir>/secret.key}: 32 random bytes, base64, created on
 * first use with owner-only permissions. Tokens carry {@code sub} (the user),
 * {@code iss} {@value #ISSUER}, {@code aud} {@value #AUDIENCE}, {@code iat} and {@code exp}.
 * Verification accepts HS256 only, whatever the token's header says.
 */
public final class Tokens {
    /** The issuer claim of every token. */
    public static final String ISSUER = "outpost";
    /** The audience claim of every token. */
    public static final String AUDIENCE = "outpost-sync";
    /** The name of the secret's file in the data directory. */
    public static final String SECRET_FILE = "secret.key";

    private final byte[] secret;
    private final Clock clock;
    private final DefaultJWTProcessor<SecurityContext> processor;

    private Tokens(byte[] secret, Clock clock) {
        this.secret = secret.clone();
        this.clock = clock;
        this.processor = new DefaultJWTProcessor<>();
        processor.setJWSKeySelector(new JWSVerificationKeySelector<>(JWSAlgorithm.HS256, new ImmutableSecret<>(this.secret)));
        DefaultJWTClaimsVerifier<SecurityContext> claims = new DefaultJWTClaimsVerifier<>(
                AUDIENCE,
                new JWTClaimsSet.Builder().issuer(ISSUER).build(),
                new HashSet<>(Set.of("sub", "exp", "iat"))) {
            @Override
            protected Date currentTime() {
                return Date.from(clock.instant());
            }
        };
        processor.setJWTClaimsSetVerifier(claims);
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
     * A token for {@code user}, valid for {@code ttl}.
     *
     * @throws IllegalArgumentException if user is blank or ttl is not positive
     */
    public String issue(String user, Duration ttl) {
        if (user == null || user.isBlank()) {
            throw new IllegalArgumentException("user must not be blank");
        }
        if (ttl == null || ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("token lifetime must be positive, got " + ttl);
        }
        Date now = Date.from(clock.instant());
        JWTClaimsSet claims = new JWTClaimsSet.Builder()
                .subject(user)
                .issuer(ISSUER)
                .audience(AUDIENCE)
                .issueTime(now)
                .notBeforeTime(now)
                .expirationTime(Date.from(clock.instant().plus(ttl)))
                .build();
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
     * @throws TokenException if the token is malformed, not signed with this server's secret
     *     under HS256, expired, not yet valid, or of another issuer or audience
     */
    public String verify(String token) {
        if (token == null || token.isBlank()) {
            throw new TokenException("no bearer token");
        }
        try {
            JWTClaimsSet claims = processor.process(token, null);
            return claims.getSubject();
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
