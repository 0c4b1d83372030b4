package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The leeway for clocks that disagree: how far past {@code exp} and before {@code nbf} a token
 * is still taken. 60 s unless configured; set in the builder, the configuration file or the
 * environment, and checked in each.
 */
class TokenClockSkewTest {
    private static final Instant START = Instant.parse("2026-01-01T00:00:00Z");
    private static final byte[] SECRET = "0123456789abcdef0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

    @TempDir
    Path dir;

    private final SettableClock clock = new SettableClock(START);
    private final List<OutpostServer> servers = new ArrayList<>();

    @AfterEach
    void stop() {
        servers.forEach(OutpostServer::close);
    }

    @Test
    void byDefaultATokenIsTakenUpToSixtySecondsPastItsExpiryAndNoLonger() {
        Tokens tokens = server(OutpostServer.builder()).tokens();
        String token = tokens.issue("alice", Duration.ofHours(1));
        assertThat(tokens.verify(token)).isEqualTo("alice");

        clock.set(START.plus(Duration.ofHours(1)).plusSeconds(59));
        assertThat(tokens.verify(token)).isEqualTo("alice");

        clock.set(START.plus(Duration.ofHours(1)).plusSeconds(61));
        assertThatThrownBy(() -> tokens.verify(token)).isInstanceOf(TokenException.class).hasMessageContaining("Expired");
    }

    @Test
    void aServerWithNoLeewayRefusesATokenOnceItHasExpiredAndOneNotYetValid() {
        Tokens tokens = server(OutpostServer.builder().tokenClockSkew(Duration.ZERO)).tokens();
        String token = tokens.issue("alice", Duration.ofHours(1));
        String early = signed(START.plusSeconds(30));

        assertThatThrownBy(() -> tokens.verify(early)).isInstanceOf(TokenException.class);
        clock.set(START.plusSeconds(31));
        assertThat(tokens.verify(early)).isEqualTo("alice");

        clock.set(START.plus(Duration.ofHours(1)).minusSeconds(1));
        assertThat(tokens.verify(token)).isEqualTo("alice");
        clock.set(START.plus(Duration.ofHours(1)).plusSeconds(1));
        assertThatThrownBy(() -> tokens.verify(token)).isInstanceOf(TokenException.class).hasMessageContaining("Expired");
    }

    @Test
    void theDefaultLeewayTakesATokenWhoseNotBeforeIsLessThanAMinuteAhead() {
        Tokens tokens = server(OutpostServer.builder()).tokens();

        assertThat(tokens.verify(signed(START.plusSeconds(30)))).isEqualTo("alice");
        assertThatThrownBy(() -> tokens.verify(signed(START.plusSeconds(90)))).isInstanceOf(TokenException.class);
    }

    @Test
    void theLeewaySetInTheConfigurationFileOrTheEnvironmentIsTheOneApplied() throws Exception {
        Path config = dir.resolve("outpost-server.json");
        Files.writeString(config, "{\"tokenClockSkewSeconds\": 300}");
        Tokens fromFile = server(OutpostServer.builder().configFile(config)).tokens();
        Tokens fromEnvironment = server(OutpostServer.builder().environment(Map.of("OUTPOST_JWT_CLOCK_SKEW_SECONDS", "300"))).tokens();
        String token = fromFile.issue("alice", Duration.ofHours(1));

        clock.set(START.plus(Duration.ofHours(1)).plus(Duration.ofMinutes(4)));
        assertThat(fromFile.verify(token)).isEqualTo("alice");
        assertThat(fromEnvironment.verify(token)).isEqualTo("alice");

        clock.set(START.plus(Duration.ofHours(1)).plus(Duration.ofMinutes(6)));
        assertThatThrownBy(() -> fromFile.verify(token)).isInstanceOf(TokenException.class);
        assertThatThrownBy(() -> fromEnvironment.verify(token)).isInstanceOf(TokenException.class);
    }

    @Test
    void aLeewayThatIsNegativeLongerThanTenMinutesOrNotWholeSecondsIsRefusedEverywhere() throws Exception {
        for (Duration bad : new Duration[] {Duration.ofSeconds(-1), Duration.ofSeconds(601), Duration.ofMillis(1500), null}) {
            assertThatThrownBy(() -> OutpostServer.builder().tokenClockSkew(bad)).as("%s", bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tokenClockSkew must be whole seconds from 0 to 600");
        }
        assertThatCode(() -> OutpostServer.builder().tokenClockSkew(Duration.ofMinutes(10))).doesNotThrowAnyException();

        Path config = dir.resolve("outpost-server.json");
        for (String bad : List.of("-1", "601", "1.5", "\"60s\"", "null")) {
            Files.writeString(config, "{\"tokenClockSkewSeconds\": " + bad + "}");
            assertThatThrownBy(() -> OutpostServer.builder().configFile(config)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(config.toString()).hasMessageContaining("tokenClockSkew");
        }

        for (String bad : List.of("-1", "601", "sixty", "")) {
            assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_JWT_CLOCK_SKEW_SECONDS", bad))).as(bad)
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("OUTPOST_JWT_CLOCK_SKEW_SECONDS='" + bad + "' is not valid");
        }
    }

    private OutpostServer server(OutpostServer.Builder builder) {
        OutpostServer server = builder.dataDir(dir.resolve("node-" + servers.size())).tokenSecret(Base64.getEncoder().encodeToString(SECRET))
                .clock(clock).build();
        servers.add(server);
        return server;
    }

    /** A token for alice under the servers' secret, valid from {@code notBefore} for an hour. */
    private static String signed(Instant notBefore) {
        try {
            SignedJWT jwt = new SignedJWT(new JWSHeader(JWSAlgorithm.HS256), new JWTClaimsSet.Builder().subject("alice")
                    .issuer(Tokens.ISSUER).audience(Tokens.AUDIENCE).issueTime(Date.from(START))
                    .notBeforeTime(Date.from(notBefore)).expirationTime(Date.from(notBefore.plus(Duration.ofHours(1)))).build());
            jwt.sign(new MACSigner(SECRET));
            return jwt.serialize();
        } catch (com.nimbusds.jose.JOSEException e) {
            throw new IllegalStateException(e);
        }
    }

    /** A clock the test sets; the servers read it for token expiry. */
    private static final class SettableClock extends Clock {
        private volatile Instant now;

        SettableClock(Instant start) {
            this.now = start;
        }

        void set(Instant instant) {
            this.now = instant;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }
}
