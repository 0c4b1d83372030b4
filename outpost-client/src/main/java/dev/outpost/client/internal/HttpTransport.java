package dev.outpost.client.internal;

import dev.outpost.client.OutpostException;
import dev.outpost.client.OutpostException.Category;
import dev.outpost.client.Transport;
import dev.outpost.protocol.ErrorBody;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.zip.Deflater;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import javax.net.ssl.SSLHandshakeException;

/**
 * Protocol v1 over {@code java.net.http}, one client (and connection pool) per transport. The
 * timeout bounds each whole exchange, from sending the request to the answer's last byte: the
 * JDK's own request timeout stops counting once the answer's headers have come (JDK-8208693),
 * so a body that stalls after them would otherwise be waited for forever.
 *
 * <p>A failure is NETWORK (offline) only while connecting: a refused connection, a host that
 * does not resolve, a connect that times out (connecting gets half the timeout, so a timeout
 * passed later always means the connection was made) or a failed TLS handshake. Once the
 * request may have gone out, a connection that breaks or an answer that does not come in time
 * is SERVER ({@code CONNECTION_LOST}, {@code NO_ANSWER}): the server was reached, and an op that
 * makes it hang or drop the connection must be narrowed down like one that makes it fail. A
 * connection that breaks before the answer's headers (as a pooled connection the server closed
 * while idle does) is tried once more first; resending a push is safe, the server answers an
 * op it has seen DUPLICATE.
 *
 * <p>An answer that is not from an Outpost server (a redirect, or a 200 that is not a JSON
 * object, as a captive portal sends) is NETWORK too ({@code REDIRECTED}, {@code NOT_OUTPOST}):
 * the server was not reached, so no op may count an attempt for it.
 */
public final class HttpTransport implements Transport {
    /** Request bodies larger than this many bytes are sent gzipped. */
    static final int GZIP_OVER = 1024;

    private final URI base;
    private final Duration timeout;
    private final HttpClient http;

    public HttpTransport(URI baseUrl, Duration timeout) {
        Objects.requireNonNull(baseUrl, "baseUrl");
        String text = baseUrl.toString();
        this.base = URI.create(text.endsWith("/") ? text : text + "/");
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.http = HttpClient.newBuilder().connectTimeout(connectTimeout(timeout)).build();
    }

    /** Connecting may take half the timeout: a connect still pending at the deadline would be taken for a silent server. */
    static Duration connectTimeout(Duration timeout) {
        Duration half = timeout.dividedBy(2);
        return half.isZero() ? timeout : half;
    }

    /** Told of each sync request's bytes on the wire and how long it took, for the network's throughput. */
    @FunctionalInterface
    public interface TransferMeter {
        /** {@code bytes} sent and received (as on the wire, gzipped or not) in {@code nanos}, from send to the answer's last byte. */
        void transferred(long bytes, long nanos);

        TransferMeter NONE = (bytes, nanos) -> { };
    }

    @Override
    public PushResponse push(PushRequest request, String token) throws OutpostException {
        return push(request, token, TransferMeter.NONE);
    }

    /** As {@link #push(PushRequest, String)}, telling {@code meter} the request's bytes and time if it is answered. */
    PushResponse push(PushRequest request, String token, TransferMeter meter) throws OutpostException {
        byte[] body = Wire.writeBytes(request);
        HttpRequest.Builder builder = authorized(HttpRequest.newBuilder(base.resolve("v1/push")), token)
                .header("Content-Type", "application/json");
        if (body.length > GZIP_OVER) {
            builder.header("Content-Encoding", "gzip");
            body = gzip(body);
        }
        HttpRequest http = builder.POST(HttpRequest.BodyPublishers.ofByteArray(body)).build();
        PushResponse response = send(http, body.length, answer -> Wire.read(answer, PushResponse.class), "push of "
                + request.ops().size() + " ops", null, meter);
        if (response.results() == null || response.results().size() != request.ops().size()) {
            throw new OutpostException(Category.SERVER, "BAD_RESPONSE", "the server answered a push of "
                    + request.ops().size() + " ops with " + (response.results() == null ? 0 : response.results().size())
                    + " results");
        }
        for (int i = 0; i < request.ops().size(); i++) {
            if (!request.ops().get(i).opId().equals(response.results().get(i).opId())) {
                throw new OutpostException(Category.SERVER, "BAD_RESPONSE", "the server's result " + i + " is for op "
                        + response.results().get(i).opId() + " but op " + request.ops().get(i).opId() + " was sent there");
            }
        }
        return response;
    }

    @Override
    public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
        return pullPage(cursor, limit, token, null).toResponse();
    }

    /**
     * {@link #pull}, each record's data kept as the JSON text the server sent: the sync stores a
     * record new to the device as that text, without a tree made of it and written out again.
     * {@code ahead}, if not null, is told the answer's cursor and whether more follow as soon as
     * its headers arrive, while its body is still on its way, so the next page can be asked for
     * sooner. A server that sends no such headers, or sends them unreadable, is simply not ahead
     * of its body.
     */
    PulledPage pullPage(String cursor, int limit, String token, PageAhead ahead) throws OutpostException {
        return pullPage(cursor, limit, false, token, ahead, TransferMeter.NONE);
    }

    /**
     * As {@link #pullPage(String, int, String, PageAhead)}; with {@code count}, the server is
     * asked how many changes follow the page ({@link PulledPage#remaining()}); {@code meter} is
     * told the answer's bytes and time.
     */
    PulledPage pullPage(String cursor, int limit, boolean count, String token, PageAhead ahead, TransferMeter meter)
            throws OutpostException {
        String query = "v1/pull?limit=" + limit + (count ? "&count=true" : "")
                + (cursor == null ? "" : "&cursor=" + URLEncoder.encode(cursor, StandardCharsets.UTF_8));
        HttpRequest http = authorized(HttpRequest.newBuilder(base.resolve(query)), token).GET().build();
        return send(http, 0, PullAnswers::read, "pull", ahead == null ? null : headers -> {
            String next = headers.firstValue(PullResponse.CURSOR_HEADER).orElse(null);
            String more = headers.firstValue(PullResponse.HAS_MORE_HEADER).orElse(null);
            if (next != null && ("true".equals(more) || "false".equals(more))) {
                ahead.known(next, Boolean.parseBoolean(more));
            }
        }, meter);
    }

    /** Told a pull answer's cursor, and whether more follow, when its headers arrive. */
    @FunctionalInterface
    interface PageAhead {
        void known(String cursor, boolean hasMore);
    }

    @Override
    public Duration health() throws OutpostException {
        HttpRequest request = HttpRequest.newBuilder(base.resolve("health")).timeout(timeout).GET().build();
        long started = System.nanoTime();
        HttpResponse<byte[]> response;
        try {
            response = exchange(request, HttpResponse.BodyHandlers.ofByteArray(), "health check");
        } catch (IOException e) {
            throw failed(e, "health check");
        }
        notFromTheServer(response, response.statusCode() == 200 ? response.body() : null, "health check");
        if (response.statusCode() != 200) {
            throw new OutpostException(Category.SERVER, "HTTP_" + response.statusCode(), "health check of " + base
                    + " answered HTTP " + response.statusCode());
        }
        return Duration.ofNanos(System.nanoTime() - started);
    }

    private HttpRequest.Builder authorized(HttpRequest.Builder builder, String token) {
        builder.timeout(timeout).header("Accept", "application/json").header("Accept-Encoding", "gzip");
        if (token != null) {
            builder.header("Authorization", "Bearer " + token);
        }
        return builder;
    }

    /** How a 200 answer's body is read; an IOException says it is not the message expected. */
    @FunctionalInterface
    private interface Reader<T> {
        T read(byte[] body) throws IOException;
    }

    /**
     * Sends a request whose body is {@code sent} bytes; {@code onHeaders}, if not null, is given a
     * 200 answer's headers before its body is read, and {@code meter} the bytes both ways and the
     * time once a 200 answer's body has arrived.
     */
    private <T> T send(HttpRequest request, long sent, Reader<T> reader, String what, Consumer<HttpHeaders> onHeaders,
            TransferMeter meter) throws OutpostException {
        HttpResponse<byte[]> response;
        HttpResponse.BodyHandler<byte[]> handler = onHeaders == null ? HttpResponse.BodyHandlers.ofByteArray() : info -> {
            if (info.statusCode() == 200) {
                onHeaders.accept(info.headers());
            }
            return HttpResponse.BodySubscribers.ofByteArray();
        };
        long started = System.nanoTime();
        try {
            response = exchange(request, handler, what);
        } catch (IOException e) {
            throw failed(e, what);
        }
        int status = response.statusCode();
        if (status == 200) {
            meter.transferred(sent + response.body().length, System.nanoTime() - started);
        }
        byte[] answer;
        try {
            answer = gunzipIfEncoded(response);
        } catch (IOException e) {
            if (status == 200) {
                throw new OutpostException(Category.SERVER, "BAD_RESPONSE", "the server's answer to a " + what
                        + " says gzip but is not: " + e.getMessage(), e);
            }
            // An error answer is classified by its status; a body that cannot be read adds nothing.
            answer = new byte[0];
        }
        notFromTheServer(response, status == 200 ? answer : null, what);
        if (status == 200) {
            T value;
            try {
                value = reader.read(answer);
            } catch (IOException e) {
                throw new OutpostException(Category.SERVER, "BAD_RESPONSE", "the server's answer to a " + what
                        + " is not protocol v1 JSON: " + e.getMessage(), e);
            }
            if (value == null) {
                throw new OutpostException(Category.SERVER, "BAD_RESPONSE", "the server answered a " + what
                        + " with the JSON value null");
            }
            return value;
        }
        ErrorBody error = errorBody(answer);
        String message = what + " answered HTTP " + status + (error == null ? "" : " " + error.code() + ": " + error.message());
        String code = error == null ? "HTTP_" + status : error.code();
        if (status == 401) {
            throw new OutpostException(Category.AUTH, code, message);
        }
        if (status >= 400 && status < 500 && status != 408 && status != 429) {
            throw new OutpostException(Category.VALIDATION, code, message);
        }
        throw new OutpostException(Category.SERVER, code, message, null,
                retryAfter(response.headers().firstValue("Retry-After").orElse(null)));
    }

    /**
     * Sends {@code request} and waits for its whole answer, body included, at most the timeout;
     * past it the exchange is cancelled (which closes its connection) and an
     * {@link HttpTimeoutException} thrown.
     */
    private <T> HttpResponse<T> exchange(HttpRequest request, HttpResponse.BodyHandler<T> handler, String what)
            throws IOException, OutpostException {
        AtomicBoolean headed = new AtomicBoolean();
        HttpResponse.BodyHandler<T> noting = info -> {
            headed.set(true);
            return handler.apply(info);
        };
        try {
            return exchangeOnce(request, noting, what);
        } catch (IOException e) {
            if (headed.get() || e instanceof HttpTimeoutException || connecting(e)) {
                throw e;
            }
            return exchangeOnce(request, handler, what);
        }
    }

    private <T> HttpResponse<T> exchangeOnce(HttpRequest request, HttpResponse.BodyHandler<T> handler, String what)
            throws IOException, OutpostException {
        CompletableFuture<HttpResponse<T>> answer = http.sendAsync(request, handler);
        try {
            return answer.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            answer.cancel(true);
            throw new HttpTimeoutException("no complete answer within " + timeout);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException failure) {
                throw failure;
            }
            if (cause instanceof RuntimeException failure) {
                throw failure;
            }
            throw new IOException(String.valueOf(cause), cause);
        } catch (InterruptedException e) {
            answer.cancel(true);
            Thread.currentThread().interrupt();
            throw new OutpostException(Category.NETWORK, "INTERRUPTED", what + " was interrupted", e);
        }
    }

    /**
     * Throws NETWORK if the answer did not come from an Outpost server: a redirect (3xx; this
     * client follows none), or a 200 whose body ({@code body}, null for another status) is not a
     * JSON object, as a captive portal's login page. The request never reached the server, so,
     * as when offline, no op may count an attempt for it.
     */
    private void notFromTheServer(HttpResponse<?> response, byte[] body, String what) throws OutpostException {
        int status = response.statusCode();
        if (status >= 300 && status < 400) {
            String location = response.headers().firstValue("Location").map(at -> " to " + at).orElse("");
            throw new OutpostException(Category.NETWORK, "REDIRECTED", what + " to " + base + " was redirected (HTTP "
                    + status + location + "), so it did not reach the Outpost server: a network that wants a sign-in"
                    + " first (a captive portal), or a server URL that has moved (such as http to https)");
        }
        if (body != null && !jsonObject(body)) {
            String start = new String(body, 0, Math.min(body.length, 40), StandardCharsets.UTF_8).strip();
            throw new OutpostException(Category.NETWORK, "NOT_OUTPOST", what + " to " + base + " was answered HTTP 200 with "
                    + (start.isEmpty() ? "an empty body" : "\"" + start + "\"" + (body.length > 40 ? "..." : ""))
                    + ", not protocol v1 JSON: something other than the Outpost server answered, such as a captive"
                    + " portal's sign-in page");
        }
    }

    /** Whether {@code body} starts, after white space, as a JSON object, as every Outpost answer does. */
    private static boolean jsonObject(byte[] body) {
        for (byte b : body) {
            if (b != ' ' && b != '\t' && b != '\r' && b != '\n') {
                return b == '{';
            }
        }
        return false;
    }

    /** The failure of an exchange, by whether it happened while connecting (see the class comment). */
    private OutpostException failed(IOException e, String what) {
        String reason = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        if (connecting(e)) {
            return new OutpostException(Category.NETWORK, "UNREACHABLE", what + " to " + base + " failed: " + reason, e);
        }
        if (e instanceof HttpTimeoutException) {
            return new OutpostException(Category.SERVER, "NO_ANSWER", what + " to " + base + " was sent but got no complete"
                    + " answer within " + timeout, e);
        }
        return new OutpostException(Category.SERVER, "CONNECTION_LOST", what + " to " + base + " lost its connection"
                + " after the request went out: " + reason, e);
    }

    /** Whether {@code e} says the connection was never made, so the request cannot have gone out. */
    private static boolean connecting(Throwable e) {
        for (Throwable cause = e; cause != null; cause = cause.getCause()) {
            if (cause instanceof ConnectException || cause instanceof HttpConnectTimeoutException
                    || cause instanceof UnresolvedAddressException || cause instanceof UnknownHostException
                    || cause instanceof NoRouteToHostException || cause instanceof SSLHandshakeException) {
                return true;
            }
            if (cause.getCause() == cause) {
                break;
            }
        }
        return false;
    }

    /** The longest wait a Retry-After header is taken for; a longer one is cut to this. */
    static final Duration MAX_RETRY_AFTER = Duration.ofDays(1);

    /**
     * The wait a Retry-After header asks for, delta-seconds or an HTTP date, at most
     * {@link #MAX_RETRY_AFTER} (a number of seconds too large to read is taken as that); null
     * if absent or unreadable.
     */
    static Duration retryAfter(String header) {
        String value = header == null ? "" : header.trim();
        if (value.isEmpty()) {
            return null;
        }
        if (value.chars().allMatch(c -> c >= '0' && c <= '9')) {
            // More digits than a day's seconds need: the largest wait.
            return value.length() > 9 ? MAX_RETRY_AFTER : atMostADay(Duration.ofSeconds(Long.parseLong(value)));
        }
        try {
            Instant at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
            Duration wait = Duration.between(Instant.now(), at);
            return wait.isNegative() ? Duration.ZERO : atMostADay(wait);
        } catch (DateTimeParseException notADate) {
            return null;
        }
    }

    private static Duration atMostADay(Duration wait) {
        return wait.compareTo(MAX_RETRY_AFTER) > 0 ? MAX_RETRY_AFTER : wait;
    }

    /** A body gzipped at deflate's fastest level, which saves nearly as many bytes as the default for far less time. */
    private static byte[] gzip(byte[] body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(body.length / 4 + 64);
        try (GZIPOutputStream zip = new GZIPOutputStream(out, 16 * 1024) {
            {
                def.setLevel(Deflater.BEST_SPEED);
            }
        }) {
            zip.write(body);
        } catch (IOException e) {
            throw new UncheckedIOException("gzip into memory failed", e);
        }
        return out.toByteArray();
    }

    private static byte[] gunzipIfEncoded(HttpResponse<byte[]> response) throws IOException {
        boolean gzipped = response.headers().firstValue("Content-Encoding").map(value -> value.trim().equalsIgnoreCase("gzip"))
                .orElse(false);
        if (!gzipped) {
            return response.body();
        }
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(response.body()), 16 * 1024)) {
            return in.readAllBytes();
        }
    }

    private static ErrorBody errorBody(byte[] body) {
        try {
            ErrorBody error = Wire.read(body, ErrorBody.class);
            return error.code() == null ? null : error;
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
