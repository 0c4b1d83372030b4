package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.CountDownLatch;

/** HTTP for the server's tests: one request with a bearer token, answered as text. */
final class TestHttp {
    private TestHttp() {
    }

    /**
     * Sends {@code method} to {@code path} of the server at {@code url} with {@code token};
     * {@code body}, if not null, goes as JSON.
     */
    static HttpResponse<String> send(HttpClient http, String url, String method, String path, String token, String body) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + path)).header("Authorization", "Bearer " + token)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            request.header("Content-Type", "application/json");
        }
        return send(http, request);
    }

    /**
     * Pushes {@code batch} to {@code node} once {@code start} (if not null) opens, and reads the
     * answer, which must be 200.
     */
    static PushResponse push(HttpClient http, OutpostServer node, String token, PushRequest batch, CountDownLatch start) {
        if (start != null) {
            try {
                start.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }
        HttpResponse<String> response = send(http, node.url(), "POST", "/v1/push", token, Wire.write(batch));
        assertThat(response.statusCode()).as(response.body()).isEqualTo(200);
        try {
            return Wire.read(response.body(), PushResponse.class);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Sends {@code request}, answered as text; an I/O failure is thrown unchecked. */
    static HttpResponse<String> send(HttpClient http, HttpRequest.Builder request) {
        try {
            return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
