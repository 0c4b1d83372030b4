package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.testing.TestServer;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BiConsumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The built-in transport asks for the next pull page as soon as an answer's headers name its
 * cursor; a device still applies exactly the pages the answers' bodies lead to, in order,
 * whatever the headers say and wherever the pull breaks off. Each test puts a forwarding
 * server in front of a real one, to change what the device is answered.
 */
class PagesAheadTest {
    @TempDir
    Path dir;

    private TestServer server;
    private Javalin front;
    private final HttpClient http = HttpClient.newHttpClient();
    private final List<String> pullCursors = Collections.synchronizedList(new ArrayList<>());
    private final List<AutoCloseable> open = new ArrayList<>();
    private volatile BiConsumer<Context, Integer> alter = (ctx, pull) -> { };

    @BeforeEach
    void start() throws Exception {
        server = TestServer.start();
        AtomicInteger pulls = new AtomicInteger();
        front = Javalin.create().get("/health", ctx -> forward(ctx, "health")).get("/v1/pull", ctx -> {
            int pull = pulls.incrementAndGet();
            pullCursors.add(String.valueOf(ctx.queryParam("cursor")));
            forward(ctx, "v1/pull?" + ctx.queryString());
            alter.accept(ctx, pull);
        }).start("127.0.0.1", 0);
        Outpost phone = device("phone", server.url());
        for (int i = 0; i < 20; i++) {
            phone.put("items", "i" + i, "{\"n\":" + i + "}");
        }
        assertThat(phone.sync().status()).isEqualTo(SyncResult.Status.COMPLETED);
    }

    @AfterEach
    void stop() throws Exception {
        for (AutoCloseable closeable : open) {
            closeable.close();
        }
        front.stop();
        server.close();
    }

    private void forward(Context ctx, String path) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(server.url() + "/" + path)).GET();
        String authorization = ctx.header("Authorization");
        if (authorization != null) {
            request.header("Authorization", authorization);
        }
        HttpResponse<byte[]> answer = http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
        ctx.status(answer.statusCode());
        answer.headers().firstValue("Content-Type").ifPresent(ctx::contentType);
        for (String header : List.of("Outpost-Cursor", "Outpost-Has-More")) {
            answer.headers().firstValue(header).ifPresent(value -> ctx.header(header, value));
        }
        ctx.result(answer.body());
    }

    private Outpost device(String name, String url) throws OutpostException {
        Outpost outpost = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name + ".db"))
                .serverUrl(url).tokenProvider(TokenProvider.fixed(server.token("ann"))).requestTimeout(Duration.ofSeconds(5))
                .pullPageSize(5).build());
        open.add(outpost);
        return outpost;
    }

    private String frontUrl() {
        return "http://127.0.0.1:" + front.port();
    }

    @Test
    void pagesAskedForAheadArriveInOrderAndEachChangeIsAppliedOnce() throws Exception {
        Outpost laptop = device("laptop", frontUrl());

        SyncResult result = laptop.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.pulled()).isEqualTo(20);
        assertThat(laptop.list("items")).hasSize(20);
        assertThat(pullCursors).hasSize(4).doesNotHaveDuplicates();
    }

    @Test
    void headersThatNameAnotherCursorThanTheBodyAreOverruledByTheBody() throws Exception {
        alter = (ctx, pull) -> {
            ctx.header("Outpost-Cursor", "AAAAAAAAAAA");
            ctx.header("Outpost-Has-More", "true");
        };
        Outpost laptop = device("laptop", frontUrl());

        SyncResult result = laptop.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.pulled()).as("no page fetched from a header's cursor is applied").isEqualTo(20);
        assertThat(laptop.list("items")).hasSize(20);
        for (int i = 0; i < 20; i++) {
            assertThat(laptop.get("items", "i" + i).orElseThrow().data().get("n").asInt()).isEqualTo(i);
        }
    }

    @Test
    void unreadableHeadersAreIgnored() throws Exception {
        alter = (ctx, pull) -> {
            ctx.header("Outpost-Cursor", pull % 2 == 0 ? "" : "not a cursor");
            ctx.header("Outpost-Has-More", pull % 2 == 0 ? "yes" : "TRUE");
        };
        Outpost laptop = device("laptop", frontUrl());

        SyncResult result = laptop.sync();

        assertThat(result.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(result.pulled()).isEqualTo(20);
        assertThat(pullCursors).hasSize(4);
    }

    @Test
    void aPullThatBreaksOffKeepsThePagesBeforeTheFailedOneAndTheNextSyncGoesOnFromThere() throws Exception {
        alter = (ctx, pull) -> {
            if (pull == 3) {
                ctx.status(503).result("{\"code\":\"UNAVAILABLE\",\"message\":\"try later\"}");
                ctx.removeHeader("Outpost-Cursor");
                ctx.removeHeader("Outpost-Has-More");
            }
        };
        Outpost laptop = device("laptop", frontUrl());

        SyncResult cut = laptop.sync();

        assertThat(cut.status()).isNotEqualTo(SyncResult.Status.COMPLETED);
        assertThat(laptop.list("items")).as("the two pages before the third").hasSize(10);
        String failedFrom = pullCursors.get(2);
        alter = (ctx, pull) -> { };

        SyncResult resumed = laptop.sync();

        assertThat(resumed.status()).isEqualTo(SyncResult.Status.COMPLETED);
        assertThat(resumed.pulled()).isEqualTo(10);
        assertThat(pullCursors.get(3)).as("the next sync asks for the page that failed").isEqualTo(failedFrom);
        assertThat(laptop.list("items")).hasSize(20);
    }
}
