package dev.outpost.server;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

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
