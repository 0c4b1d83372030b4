package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A token the server accepted at the start of a sync expires while the sync runs: the server's
 * clock (a fake one) moves past the token's day of validity between two requests. The sync asks
 * the provider for a new token, goes on with it and completes. A real server on loopback and
 * real SQLite files.
 */
class TokenExpiryDuringSyncTest {
    private static final String USER = "ann";

    @TempDir
    Path dir;

    private final FakeClock serverClock = new FakeClock();
    private TestServer server;
    private Transport http;

    @BeforeEach
    void start() {
        server = TestServer.start(builder -> builder.clock(serverClock));
        http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    /** Passes requests to the server, and moves its clock two days on after the given push or pull (counted from 1). */
    private final class ExpiringTransport implements Transport {
        private final AtomicInteger pushes = new AtomicInteger();
        private final AtomicInteger pulls = new AtomicInteger();
        private final List<String> pullTokens = new CopyOnWriteArrayList<>();
        private final int expireAfterPush;
        private final int expireAfterPull;

        ExpiringTransport(int expireAfterPush, int expireAfterPull) {
            this.expireAfterPush = expireAfterPush;
            this.expireAfterPull = expireAfterPull;
        }

        @Override
        public PushResponse push(PushRequest request, String token) throws OutpostException {
            int attempt = pushes.incrementAndGet();
            PushResponse response = http.push(request, token);
            if (attempt == expireAfterPush) {
                serverClock.advance(Duration.ofDays(2));
            }
            return response;
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            int attempt = pulls.incrementAndGet();
            pullTokens.add(token);
            PullResponse response = http.pull(cursor, limit, token);
            if (attempt == expireAfterPull) {
                serverClock.advance(Duration.ofDays(2));
            }
            return response;
        }
    }

    private Outpost device(String name, Transport transport, List<String> asked) throws OutpostException {
        return Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve(name + ".db"))
                .transport(transport)
                .pushBatchSize(2).pushesInFlight(1).pullPageSize(2)
                .tokenProvider(rejected -> {
                    asked.add(String.valueOf(rejected));
                    return server.token(USER);
                })
                .build());
    }

    @Test
    void aTokenThatExpiresBetweenTwoPushesIsReplacedAndTheSyncCompletes() throws Exception {
        List<String> asked = new CopyOnWriteArrayList<>();
        ExpiringTransport transport = new ExpiringTransport(1, 0);
        try (Outpost phone = device("phone", transport, asked)) {
            for (int i = 0; i < 6; i++) {
                phone.put("items", "i" + i, "{\"n\":" + i + "}");
            }

            SyncResult result = phone.sync();

            assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(result.applied()).isEqualTo(6);
            assertThat(result.pending()).isZero();
            assertThat(asked).as("asked for a token, then for one in place of the expired one").hasSize(2);
            assertThat(asked.get(0)).isEqualTo("null");
            assertThat(asked.get(1)).as("the token the server accepted for the first push").isNotEqualTo("null");
            assertThat(transport.pushes.get()).as("three batches and the refused one again").isEqualTo(4);
            assertThat(server.records(USER)).hasSize(6);
            assertThat(phone.statusLine()).isEqualTo("All changes synced");
        }
    }

    @Test
    void aTokenThatExpiresBetweenTwoPulledPagesIsReplacedAndThePullCompletes() throws Exception {
        try (Outpost tablet = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve("tablet.db")).transport(http)
                .tokenProvider(TokenProvider.fixed(server.token(USER))).build())) {
            for (int i = 0; i < 5; i++) {
                tablet.put("items", "i" + i, "{\"n\":" + i + "}");
            }
            assertThat(tablet.sync().applied()).isEqualTo(5);
        }
        List<String> asked = new CopyOnWriteArrayList<>();
        ExpiringTransport transport = new ExpiringTransport(0, 1);
        try (Outpost phone = device("phone", transport, asked)) {
            phone.put("items", "mine", "{\"n\":99}");

            SyncResult result = phone.sync();

            assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
            assertThat(result.applied()).isEqualTo(1);
            assertThat(phone.list("items")).extracting(LocalRecord::id)
                    .containsExactlyInAnyOrder("i0", "i1", "i2", "i3", "i4", "mine");
            assertThat(asked).as("asked for a token, then for one in place of the expired one").hasSize(2);
            List<String> tokens = transport.pullTokens;
            assertThat(tokens.get(1)).as("the second page, refused, went with the first page's token").isEqualTo(tokens.get(0));
            assertThat(tokens.get(tokens.size() - 1)).as("the last page went with the new token").isNotEqualTo(tokens.get(0));
        }
    }
}
