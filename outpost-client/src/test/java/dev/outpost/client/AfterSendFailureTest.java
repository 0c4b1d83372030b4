package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.FakeClock;
import dev.outpost.testing.TestServer;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A failure after the request went out (the server drops the connection, or never answers) is
 * the server's failure, not the device being offline: the batch is narrowed down, and an op
 * that makes the server do so waits out backoffs alone while the other records' ops get
 * through. It counts no attempt, and is never dead-lettered for it: from the device, a link
 * that drops while the request travels looks the same.
 * A server that cannot be connected to is offline, and that is never an attempt; so is a
 * captive portal that answers in the server's place (a redirect, or its sign-in page).
 *
 * <p>Pushes that carry the poison record go through the built-in HTTP transport to a loopback
 * socket that takes the request and then drops it or says nothing; the rest go to a real
 * server. Real SQLite files; a fake clock lets each retry fall due.
 */
class AfterSendFailureTest {
    private static final String POISON = "n0";

    @TempDir
    Path dir;

    private final FakeClock clock = new FakeClock();
    private TestServer server;
    private Unhelpful unhelpful;
    private final List<AutoCloseable> open = new ArrayList<>();

    @BeforeEach
    void start() throws IOException {
        server = TestServer.start();
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable closeable : open) {
            closeable.close();
        }
        if (unhelpful != null) {
            unhelpful.close();
        }
        server.close();
    }

    /** What the socket that gets the poison record's pushes does once it has read the request. */
    enum Misbehaviour {
        /** Closes the connection without a word, as a server whose worker the op crashed. */
        DROP,
        /** Keeps the connection open and never answers, as a server the op makes hang. */
        HANG
    }

    /** Pushes that carry {@code recordId} go to {@code elsewhere}; everything else to {@code http}. */
    private record Routed(Transport http, Transport elsewhere, String recordId) implements Transport {
        @Override
        public PushResponse push(PushRequest request, String token) throws OutpostException {
            boolean routed = request.ops().stream().anyMatch(op -> op.recordId().equals(recordId));
            return (routed ? elsewhere : http).push(request, token);
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
            return http.pull(cursor, limit, token);
        }
    }

    private Outpost phone(Transport transport) throws OutpostException {
        Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL)
                .storeFile(dir.resolve("phone.db")).transport(transport).clock(clock)
                .random(new SplittableRandom(5)).retryPolicy(new RetryPolicy(5, Duration.ofSeconds(1), Duration.ofSeconds(16), 0))
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).build());
        open.add(phone);
        return phone;
    }

    @ParameterizedTest
    @EnumSource(Misbehaviour.class)
    void anOpThatMakesTheServerDropOrHangIsNarrowedDownAndTheOthersGetThroughWithoutItDying(Misbehaviour misbehaviour)
            throws Exception {
        unhelpful = new Unhelpful(misbehaviour);
        Duration timeout = Duration.ofMillis(500);
        Outpost phone = phone(new Routed(Transport.http(URI.create(server.url()), Duration.ofSeconds(10)),
                Transport.http(unhelpful.uri(), timeout), POISON));
        for (int i = 0; i < 5; i++) {
            phone.put("notes", "n" + i, "{}");
        }

        List<SyncResult> results = new ArrayList<>();
        for (int round = 0; round < 40 && phone.pendingCount() > 1; round++) {
            results.add(phone.sync());
            clock.advance(Duration.ofSeconds(20));
        }
        for (int round = 0; round < 8; round++) {
            results.add(phone.sync());
            clock.advance(Duration.ofSeconds(20));
        }

        assertThat(results).as("the server was reached every time").noneMatch(r -> r.status() == SyncResult.Status.OFFLINE);
        assertThat(results).anySatisfy(r -> assertThat(r.failure()).isEqualTo(OutpostException.Category.SERVER));
        assertThat(server.records("ann")).containsOnlyKeys("notes/n1", "notes/n2", "notes/n3", "notes/n4");
        assertThat(phone.deadLetters()).as("past the 5 retries the policy allows").isEmpty();
        assertThat(phone.ops(OpQuery.builder().states(OpState.PENDING).build())).singleElement().satisfies(op -> {
            assertThat(op.recordId()).isEqualTo(POISON);
            assertThat(op.attempts()).as("a failure after sending is no attempt").isZero();
            assertThat(op.lastError()).contains(misbehaviour == Misbehaviour.DROP ? "CONNECTION_LOST" : "NO_ANSWER");
        });
    }

    @Test
    void aServerThatCannotBeConnectedToIsOfflineAndNeverCountsAnAttempt() throws Exception {
        int closed;
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            closed = socket.getLocalPort();
        }
        Outpost phone = phone(Transport.http(URI.create("http://127.0.0.1:" + closed), Duration.ofSeconds(5)));
        assertTenSyncsOfflineAndNoAttemptCounted(phone);
    }

    /** Ten syncs, 20 s apart, of an op each: every one OFFLINE, and the op never counts an attempt. */
    private void assertTenSyncsOfflineAndNoAttemptCounted(Outpost phone) throws OutpostException {
        phone.put("notes", POISON, "{}");

        for (int round = 0; round < 10; round++) {
            SyncResult result = phone.sync();
            assertThat(result.status()).isEqualTo(SyncResult.Status.OFFLINE);
            assertThat(result.failure()).isEqualTo(OutpostException.Category.NETWORK);
            clock.advance(Duration.ofSeconds(20));
        }

        assertThat(phone.deadLetters()).isEmpty();
        assertThat(phone.ops(OpQuery.builder().build())).singleElement()
                .satisfies(op -> assertThat(op.attempts()).isZero());
    }

    /** What answers in the server's place, as a captive portal does. */
    enum Portal {
        /** A redirect to a sign-in page. */
        REDIRECT("HTTP/1.1 302 Found\r\nLocation: http://portal.invalid/login\r\nContent-Length: 0\r\n"
                + "Connection: close\r\n\r\n"),
        /** The sign-in page itself, answered 200 to whatever was asked. */
        SIGN_IN_PAGE("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 39\r\nConnection: close\r\n\r\n"
                + "<html>Sign in to the hotel Wi-Fi</html>");

        final String reply;

        Portal(String reply) {
            this.reply = reply;
        }
    }

    @ParameterizedTest
    @EnumSource(Portal.class)
    void aCaptivePortalIsOfflineAndNeverCountsAnAttempt(Portal portal) throws Exception {
        unhelpful = new Unhelpful(portal.reply);
        Outpost phone = phone(Transport.http(unhelpful.uri(), Duration.ofSeconds(5)));
        assertTenSyncsOfflineAndNoAttemptCounted(phone);
    }

    /**
     * A loopback socket that reads each request's head and then drops the connection, goes
     * quiet, or answers with a fixed reply and closes.
     */
    private static final class Unhelpful implements AutoCloseable {
        private final ServerSocket listener;
        private final Misbehaviour misbehaviour;
        private final String reply;
        private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
        private final ExecutorService threads = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "unhelpful-server");
            thread.setDaemon(true);
            return thread;
        });

        Unhelpful(Misbehaviour misbehaviour) throws IOException {
            this(misbehaviour, null);
        }

        Unhelpful(String reply) throws IOException {
            this(null, reply);
        }

        private Unhelpful(Misbehaviour misbehaviour, String reply) throws IOException {
            this.misbehaviour = misbehaviour;
            this.reply = reply;
            this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            threads.execute(this::accept);
        }

        URI uri() {
            return URI.create("http://127.0.0.1:" + listener.getLocalPort());
        }

        private void accept() {
            while (!listener.isClosed()) {
                try {
                    Socket socket = listener.accept();
                    sockets.add(socket);
                    threads.execute(() -> serve(socket));
                } catch (IOException closed) {
                    return;
                }
            }
        }

        private void serve(Socket socket) {
            try (socket) {
                InputStream in = socket.getInputStream();
                int read = in.read(new byte[8192]);
                if (read < 0 || misbehaviour == Misbehaviour.DROP) {
                    return;
                }
                if (reply != null) {
                    socket.getOutputStream().write(reply.getBytes(StandardCharsets.US_ASCII));
                    socket.getOutputStream().flush();
                    return;
                }
                while (in.read() >= 0) {
                    // never answered
                }
            } catch (IOException e) {
                // the client gave up
            } finally {
                sockets.remove(socket);
            }
        }

        @Override
        public void close() throws IOException {
            listener.close();
            for (Socket socket : sockets) {
                socket.close();
            }
            threads.shutdownNow();
        }
    }
}
