package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.testdb.TestDatabases;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Gzip on the wire: push bodies a client compresses, pull answers the server compresses, and bodies that lie. */
class CompressionTest {
    private static final String HLC = "1700000000000-00000-device";

    @TempDir
    Path tmp;

    private final HttpClient http = HttpClient.newHttpClient();
    private OutpostServer server;
    private String token;

    @BeforeEach
    void start() {
        server = OutpostServer.builder().host("127.0.0.1").port(0).dataDir(tmp).databaseUrl(TestDatabases.freshUrl())
                .maxBodyBytes(64 * 1024).build().start();
        token = server.tokens().issue("alice", Duration.ofHours(1));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    @Test
    void aGzippedPushIsAppliedAndALargePullIsAnsweredGzippedToAClientThatAcceptsIt() throws Exception {
        StringBuilder ops = new StringBuilder();
        for (int i = 0; i < 40; i++) {
            ops.append(i == 0 ? "" : ",").append(op("o" + i, "n" + i, "a fairly long note body that repeats ".repeat(4)));
        }
        HttpResponse<String> pushed = send(push(gzip(body(ops.toString()))).header("Content-Encoding", "gzip"));

        assertThat(pushed.statusCode()).as(pushed.body()).isEqualTo(200);
        assertThat(pushed.body()).doesNotContain("REJECTED").contains("APPLIED");
        HttpResponse<byte[]> pulled = http.send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/pull"))
                .header("Authorization", "Bearer " + token).header("Accept-Encoding", "gzip").GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
        assertThat(pulled.headers().firstValue("Content-Encoding")).contains("gzip");
        String json = new String(new GZIPInputStream(new java.io.ByteArrayInputStream(pulled.body())).readAllBytes(),
                StandardCharsets.UTF_8);
        assertThat(json).contains("\"recordId\":\"n39\"");
        assertThat(pulled.body().length).isLessThan(json.length() / 3);
    }

    @Test
    void aBodyDeclaredGzipThatIsNotIsRefusedAndChangesNothing() throws Exception {
        HttpResponse<String> response = send(push(body(op("o1", "n1", "hello")).getBytes(StandardCharsets.UTF_8))
                .header("Content-Encoding", "gzip"));

        assertThat(response.statusCode()).isEqualTo(400);
        assertThat(response.body()).contains("MALFORMED_BODY");
        assertThat(pullBody()).contains("\"changes\":[]");
    }

    @Test
    void aGzipBombThatInflatesPastTheBodyLimitIsRefused() throws Exception {
        String padding = " ".repeat(200 * 1024);
        byte[] bomb = gzip(body(op("o1", "n1", "hello")).replace("{\"deviceId\"", "{" + padding + "\"deviceId\""));
        assertThat(bomb.length).isLessThan(4 * 1024);

        HttpResponse<String> response = send(push(bomb).header("Content-Encoding", "gzip"));

        assertThat(response.statusCode()).isEqualTo(413);
        assertThat(response.body()).contains("PAYLOAD_TOO_LARGE");
        assertThat(pullBody()).contains("\"changes\":[]");
    }

    @Test
    void anEncodingOtherThanGzipIsRefused() throws Exception {
        HttpResponse<String> response = send(push(body(op("o1", "n1", "hello")).getBytes(StandardCharsets.UTF_8))
                .header("Content-Encoding", "br"));

        assertThat(response.statusCode()).isEqualTo(415);
        assertThat(response.body()).contains("UNSUPPORTED_ENCODING");
    }

    private static String op(String opId, String recordId, String text) {
        return "{\"opId\":\"" + opId + "\",\"collection\":\"notes\",\"recordId\":\"" + recordId
                + "\",\"type\":\"CREATE\",\"data\":{\"text\":\"" + text + "\"},\"hlc\":\"" + HLC + "\"}";
    }

    private static String body(String ops) {
        return "{\"deviceId\":\"phone\",\"ops\":[" + ops + "]}";
    }

    private HttpRequest.Builder push(byte[] body) {
        return HttpRequest.newBuilder(URI.create(server.url() + "/v1/push")).header("Authorization", "Bearer " + token)
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofByteArray(body));
    }

    private HttpResponse<String> send(HttpRequest.Builder request) throws IOException, InterruptedException {
        return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    }

    private String pullBody() throws IOException, InterruptedException {
        return send(HttpRequest.newBuilder(URI.create(server.url() + "/v1/pull")).header("Authorization", "Bearer " + token).GET())
                .body();
    }

    private static byte[] gzip(String text) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream zip = new GZIPOutputStream(out)) {
            zip.write(text.getBytes(StandardCharsets.UTF_8));
        }
        return out.toByteArray();
    }
}
