package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sync's pull reports its progress as the push does: after each page, the changes received
 * of those waiting, the total known from the first page because the server counts what
 * follows it.
 */
class PullProgressTest {
    @TempDir
    Path dir;

    private TestServer server;

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start();
        try (Outpost writer = device("writer", null, null)) {
            WriteBatch batch = writer.newBatch();
            for (int i = 0; i < 25; i++) {
                batch.put("notes", "n" + i, "{\"i\":" + i + "}");
            }
            batch.commit();
            assertThat(writer.sync().pushed()).isEqualTo(25);
        }
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private Outpost device(String name, Transport transport, OutpostListener listener) throws OutpostException {
        OutpostConfig.Builder config = OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name + ".db"))
                .tokenProvider(TokenProvider.fixed(server.token("ann"))).pullPageSize(10);
        if (transport == null) {
            config.serverUrl(server.url());
        } else {
            config.transport(transport);
        }
        if (listener != null) {
            config.listener(listener);
        }
        return Outpost.open(config.build());
    }

    private static OutpostListener recorder(List<String> events) {
        return new OutpostListener() {
            @Override
            public void syncProgress(int done, int total) {
                events.add("push " + done + "/" + total);
            }

            @Override
            public void pullProgress(int done, int total) {
                events.add("pull " + done + "/" + total);
            }

            @Override
            public void syncCompleted(SyncResult result) {
                events.add("completed pulled=" + result.pulled());
            }
        };
    }

    @Test
    void aPullInPagesReportsEachPageAgainstTheTotalTheServerCountedAtTheStart() throws Exception {
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        try (Outpost reader = device("reader", null, recorder(events))) {
            reader.put("notes", "mine", "{}");

            reader.sync();
            events.add("second sync");
            reader.sync();
        }

        assertThat(events).containsExactly("push 1/1", "pull 10/26", "pull 20/26", "pull 26/26", "completed pulled=25",
                "second sync", "completed pulled=0");
    }

    @Test
    void withATransportThatCannotSayTheTotalIsUnknownUntilTheLastPage() throws Exception {
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        Transport own = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) throws OutpostException {
                return http.push(request, token);
            }

            @Override
            public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                return http.pull(cursor, limit, token);
            }
        };
        List<String> events = Collections.synchronizedList(new ArrayList<>());
        try (Outpost reader = device("reader", own, recorder(events))) {
            reader.sync();
        }

        assertThat(events).containsExactly("pull 10/-1", "pull 20/-1", "pull 25/25", "completed pulled=25");
    }
}
