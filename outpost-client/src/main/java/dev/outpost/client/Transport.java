package dev.outpost.client;

import dev.outpost.client.internal.HttpTransport;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import java.net.URI;
import java.time.Duration;

/**
 * How the client talks to the server: the two calls of protocol v1 sync.
 *
 * <p>Implementations throw {@link OutpostException} with category NETWORK when the server
 * cannot be reached: no connection could be made, so the request cannot have gone out, or
 * something else answered in its place (a redirect, a captive portal's page). The client then
 * counts itself offline and does not count an attempt against the ops. Once the
 * request may have gone out, a connection that breaks or an answer that does not come in time
 * is SERVER, like a 5xx: the server was reached, and an op that makes it hang or drop the
 * connection is narrowed down and waits out backoffs alone rather than holding back the queue;
 * as a link that drops mid-request looks the same, it counts no attempt and is never
 * dead-lettered for it. AUTH on HTTP 401, VALIDATION on other 4xx answers with the server's error code, and
 * SERVER (retried) on 5xx, 408, 429 or an answer that is not protocol v1, with the wait a
 * Retry-After header asks for ({@link OutpostException#retryAfter()}; a push failure that
 * carries one holds every push until then).
 * They must not return null. The default, {@link #http}, uses {@code java.net.http}.
 */
public interface Transport {

    /** Sends a push and returns the server's results. */
    PushResponse push(PushRequest request, String token) throws OutpostException;

    /** Fetches up to {@code limit} changes after {@code cursor} (null: from the beginning). */
    PullResponse pull(String cursor, int limit, String token) throws OutpostException;

    /**
     * Asks whether the server is up and answers, without a token, and returns how long the
     * answer took. The default network monitor calls it to tell online from offline.
     *
     * @return the answer's latency; null if this transport cannot tell (the default), and the
     *     network is then taken as up
     * @throws OutpostException NETWORK if the server cannot be reached, SERVER if it answers
     *     that it is not ready
     */
    default Duration health() throws OutpostException {
        return null;
    }

    /**
     * The HTTP transport to the server at {@code baseUrl} (for example
     * {@code http://127.0.0.1:8080}), with one connection pool and the given per-request timeout,
     * which bounds each whole exchange, the answer's body included; connecting may take half of it.
     */
    static Transport http(URI baseUrl, Duration timeout) {
        return new HttpTransport(baseUrl, timeout);
    }
}
