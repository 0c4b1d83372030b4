package dev.outpost.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.client.OutpostException;
import dev.outpost.client.OutpostException.Category;
import dev.outpost.client.Transport;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The built-in transport over a real loopback HTTP/1.1 server that answers byte for byte as
 * each test says: how every kind of answer becomes an {@link OutpostException} of the category
 * the {@link Transport} contract names, what a Retry-After header yields, when bodies are
 * gzipped each way, and that calls in a row share one connection.
 *
 * <p>The server is hand-written on a {@link ServerSocket} rather than the JDK's
 * {@code com.sun.net.httpserver}: the client's tests run inside its module, which does not read
 * {@code jdk.httpserver}. It also lets a test send what no well-behaved server would (a body
 * shorter than its length, a gzip that is not one) and count the TCP connections it accepts.
 */
class HttpTransportTest {
    private static final Duration PATIENT = Duration.ofSeconds(30);
    private static final String TOKEN = "token-1";

    private final FakeServer server = new FakeServer();
    /** Released after each test, so a handler told never to answer lets its thread go. */
    private final CountDownLatch release = new CountDownLatch(1);
    private HttpTransport transport;

    @BeforeEach
    void start() {
        transport = new HttpTransport(server.uri(), PATIENT);
    }

    @AfterEach
    void stop() {
        release.countDown();
        server.close();
    }

    // ---- how each answer is classified ----

    @Test
    void unauthorizedIsAuthWithTheServersCode() {
        server.answer(request -> Reply.of(401, "{\"code\":\"TOKEN_EXPIRED\",\"message\":\"the token expired\"}"));

        OutpostException push = pushFails(smallPush());
        OutpostException pull = pullFails();

        for (OutpostException e : List.of(push, pull)) {
            assertThat(e.category()).isEqualTo(Category.AUTH);
            assertThat(e.code()).isEqualTo("TOKEN_EXPIRED");
            assertThat(e.getMessage()).contains("401").contains("the token expired");
            assertThat(e.retryAfter()).isEmpty();
        }
    }

    @Test
    void unauthorizedWithoutABodyIsAuthNamedByItsStatus() {
        server.answer(request -> Reply.of(401, ""));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.AUTH);
        assertThat(e.code()).isEqualTo("HTTP_401");
    }

    @Test
    void forbiddenIsValidationNotAuth() {
        // The Transport contract: AUTH on 401 only, VALIDATION on other 4xx. The server answers
        // 403 DEVICE_NOT_OWNED to a valid token whose device belongs to another user.
        server.answer(request -> Reply.of(403, "{\"code\":\"DEVICE_NOT_OWNED\",\"message\":\"device d1 is bound to another user\"}"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.VALIDATION);
        assertThat(e.code()).isEqualTo("DEVICE_NOT_OWNED");
    }

    @ParameterizedTest
    @ValueSource(ints = {400, 404, 409, 413, 422, 451})
    void otherClientErrorsAreValidationWithTheServersCode(int status) {
        server.answer(request -> Reply.of(status, "{\"code\":\"SOME_CODE\",\"message\":\"op o1 is wrong\"}",
                "Retry-After: 5"));

        OutpostException push = pushFails(smallPush());
        OutpostException pull = pullFails();

        for (OutpostException e : List.of(push, pull)) {
            assertThat(e.category()).isEqualTo(Category.VALIDATION);
            assertThat(e.code()).isEqualTo("SOME_CODE");
            assertThat(e.getMessage()).contains(String.valueOf(status)).contains("op o1 is wrong");
            assertThat(e.retryAfter()).isEmpty();
        }
    }

    @Test
    void clientErrorWithoutAnErrorBodyIsValidationNamedByItsStatus() {
        server.answer(request -> Reply.of(404, "<html><body>Not Found</body></html>", "Content-Type: text/html"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.VALIDATION);
        assertThat(e.code()).isEqualTo("HTTP_404");
    }

    @ParameterizedTest
    @ValueSource(ints = {408, 429, 500, 502, 503, 504})
    void serverFailuresTimeoutsAndThrottlingAreServerSoTheyAreRetried(int status) {
        server.answer(request -> Reply.of(status, "<html>Bad Gateway</html>", "Content-Type: text/html"));

        OutpostException push = pushFails(smallPush());
        OutpostException pull = pullFails();

        for (OutpostException e : List.of(push, pull)) {
            assertThat(e.category()).isEqualTo(Category.SERVER);
            assertThat(e.code()).isEqualTo("HTTP_" + status);
            assertThat(e.retryAfter()).isEmpty();
        }
    }

    @Test
    void serverFailureKeepsTheServersCode() {
        server.answer(request -> Reply.of(503, "{\"code\":\"SHUTTING_DOWN\",\"message\":\"the server is stopping\"}"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.code()).isEqualTo("SHUTTING_DOWN");
    }

    @ParameterizedTest
    @ValueSource(ints = {301, 302, 303, 307, 308})
    void redirectIsNetworkAsTheServerWasNotReached(int status) throws Exception {
        // Was SERVER, which let a captive portal's redirect count attempts until ops died.
        server.answer(request -> Reply.of(status, "", "Location: http://portal.invalid/login"));

        OutpostException push = pushFails(smallPush());
        OutpostException pull = pullFails();
        OutpostException health = catchThrowableOfType(OutpostException.class, transport::health);

        for (OutpostException e : List.of(push, pull, health)) {
            assertThat(e.category()).isEqualTo(Category.NETWORK);
            assertThat(e.code()).isEqualTo("REDIRECTED");
            assertThat(e.getMessage()).contains("HTTP " + status).contains("http://portal.invalid/login")
                    .contains("captive portal");
        }
        assertThat(server.requests()).as("no redirect is followed").hasSize(3);
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"results\":", "{\"results\":[]} trailing", "{\"results\":\"none\"}", "{}",
            "{\"results\":[null]}", "  {\"results\":"})
    void pushAnsweredOkWithAJsonObjectOtherThanItsResultsIsBadResponse(String body) {
        server.answer(request -> Reply.of(200, body));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.code()).isEqualTo("BAD_RESPONSE");
    }

    @ParameterizedTest
    @ValueSource(strings = {"<html>Sign in to the hotel Wi-Fi</html>", "", "   ", "[]", "null", "OK"})
    void answerOkThatIsNotAJsonObjectIsNetworkAsSomethingElseAnswered(String body) {
        // Was SERVER BAD_RESPONSE, which let a captive portal's page count attempts until ops died.
        server.answer(request -> Reply.of(200, body, "Content-Type: text/html"));

        OutpostException push = pushFails(smallPush());
        OutpostException pull = pullFails();
        OutpostException health = catchThrowableOfType(OutpostException.class, transport::health);

        for (OutpostException e : List.of(push, pull, health)) {
            assertThat(e.category()).isEqualTo(Category.NETWORK);
            assertThat(e.code()).isEqualTo("NOT_OUTPOST");
            assertThat(e.getMessage()).contains("HTTP 200").contains("captive portal");
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"changes\":[],\"cursor\":", "{\"changes\":[]}",
            "{\"changes\":[{\"collection\":\"notes\"}],\"cursor\":\"c1\"}"})
    void pullAnsweredOkWithAJsonObjectOtherThanAPageIsBadResponse(String body) {
        server.answer(request -> Reply.of(200, body));

        OutpostException e = pullFails();

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.code()).isEqualTo("BAD_RESPONSE");
    }

    @Test
    void pushResultsThatDoNotMatchTheOpsSentAreBadResponse() {
        PushRequest request = push(2, 0);
        server.answer(r -> Reply.of(200, Wire.write(new PushResponse(List.of(
                OpResult.applied(request.ops().get(1).opId(), 1), OpResult.applied(request.ops().get(0).opId(), 1))))));

        OutpostException swapped = pushFails(request);
        server.answer(r -> Reply.of(200, Wire.write(new PushResponse(List.of(OpResult.applied(request.ops().get(0).opId(), 1))))));
        OutpostException missing = pushFails(request);

        assertThat(swapped.category()).isEqualTo(Category.SERVER);
        assertThat(swapped.code()).isEqualTo("BAD_RESPONSE");
        assertThat(swapped.getMessage()).contains(request.ops().get(0).opId());
        assertThat(missing.code()).isEqualTo("BAD_RESPONSE");
        assertThat(missing.getMessage()).contains("2 ops with 1 results");
    }

    @Test
    void answerCutShortOfItsLengthIsServerAsAConnectionLostAfterTheRequestWentOut() {
        // The request reached the server: an op that makes it drop the connection must be
        // narrowed down like one that makes it fail, not taken for a device that is offline.
        server.answer(request -> Reply.cut(200, "{\"results\":[{\"opId\":\"o", 400));

        OutpostException push = pushFails(smallPush());
        OutpostException pull = pullFails();

        for (OutpostException e : List.of(push, pull)) {
            assertThat(e.category()).isEqualTo(Category.SERVER);
            assertThat(e.code()).isEqualTo("CONNECTION_LOST");
            assertThat(e.getMessage()).contains("after the request went out");
        }
    }

    @Test
    void connectionClosedWithoutAnAnswerIsTriedOnceMoreThenServer() {
        server.answer(request -> null);

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.code()).isEqualTo("CONNECTION_LOST");
        assertThat(server.requests()).as("sent again once on a new connection").hasSize(2);
        assertThat(server.connections()).isEqualTo(2);
    }

    @Test
    void connectionClosedWithoutAnAnswerOnceIsSentAgainAndAnswered() throws Exception {
        // What a pooled connection the server closed while idle looks like to the JDK.
        AtomicInteger pushes = new AtomicInteger();
        server.answer(request -> pushes.incrementAndGet() == 1 ? null : FakeServer.applyAll(request));

        PushResponse response = transport.push(smallPush(), TOKEN);

        assertThat(response.results()).extracting(OpResult::opId).containsExactly("o1");
        assertThat(server.requests()).hasSize(2);
    }

    @Test
    void serverThatClosesIdleConnectionsWithoutSayingSoIsReconnectedTo() throws Exception {
        server.answer(request -> Reply.silentlyClosing(200, Wire.writeBytes(applied(Wire.read(request.body(), PushRequest.class)))));

        for (int i = 0; i < 3; i++) {
            transport.push(smallPush(), TOKEN);
        }

        assertThat(server.requests()).hasSizeGreaterThanOrEqualTo(3);
    }

    @Test
    void refusedConnectionIsNetwork() throws Exception {
        HttpTransport nobodyThere = new HttpTransport(URI.create("http://127.0.0.1:" + closedPort()), PATIENT);

        OutpostException push = catchThrowableOfType(OutpostException.class, () -> nobodyThere.push(smallPush(), TOKEN));
        OutpostException pull = catchThrowableOfType(OutpostException.class, () -> nobodyThere.pull(null, 10, TOKEN));
        OutpostException health = catchThrowableOfType(OutpostException.class, nobodyThere::health);

        for (OutpostException e : List.of(push, pull, health)) {
            assertThat(e.category()).isEqualTo(Category.NETWORK);
            assertThat(e.code()).isEqualTo("UNREACHABLE");
            assertThat(e.getMessage()).contains("127.0.0.1");
        }
    }

    @Test
    void serverThatNeverAnswersIsServerWithNoAnswerNotOffline() {
        // The connection was made and the request sent: a server that hangs on it is failing.
        server.answer(request -> {
            release.await();
            return null;
        });
        HttpTransport impatient = new HttpTransport(server.uri(), Duration.ofMillis(300));

        OutpostException push = catchThrowableOfType(OutpostException.class, () -> impatient.push(smallPush(), TOKEN));
        OutpostException pull = catchThrowableOfType(OutpostException.class, () -> impatient.pull(null, 10, TOKEN));
        OutpostException health = catchThrowableOfType(OutpostException.class, impatient::health);

        for (OutpostException e : List.of(push, pull, health)) {
            assertThat(e.category()).isEqualTo(Category.SERVER);
            assertThat(e.code()).isEqualTo("NO_ANSWER");
            assertThat(e.getMessage()).contains("was sent but got no complete answer");
        }
    }

    @Test
    void connectingGetsHalfTheTimeoutSoADeadlinePassedMeansTheConnectionWasMade() {
        assertThat(HttpTransport.connectTimeout(Duration.ofSeconds(30))).isEqualTo(Duration.ofSeconds(15));
        assertThat(HttpTransport.connectTimeout(Duration.ofNanos(1))).isEqualTo(Duration.ofNanos(1));
    }

    @Test
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void answerWhoseBodyStallsAfterItsHeadersFailsAtTheTimeoutInsteadOfHanging() {
        // On JDK 17 the request timeout stops at the headers (JDK-8208693); the body has none.
        server.answer(request -> request.target().startsWith("/v1/push")
                ? Reply.stalled(200, "{\"results\":[{\"opId\":\"o", 400)
                : Reply.stalled(200, "{\"changes\":[", 400, PullResponse.CURSOR_HEADER + ": c2", PullResponse.HAS_MORE_HEADER + ": true"));
        HttpTransport impatient = new HttpTransport(server.uri(), Duration.ofMillis(300));

        OutpostException push = catchThrowableOfType(OutpostException.class, () -> impatient.push(smallPush(), TOKEN));
        OutpostException pull = catchThrowableOfType(OutpostException.class, () -> impatient.pull(null, 10, TOKEN));
        OutpostException pageAhead = catchThrowableOfType(OutpostException.class,
                () -> impatient.pullPage(null, 10, TOKEN, (cursor, hasMore) -> { }));

        for (OutpostException e : List.of(push, pull, pageAhead)) {
            assertThat(e).as("the exchange should fail, not hang").isNotNull();
            assertThat(e.category()).isEqualTo(Category.SERVER);
            assertThat(e.code()).isEqualTo("NO_ANSWER");
            assertThat(e.getMessage()).contains("no complete answer within");
        }
    }

    @Test
    void healthIsServerWhenTheServerSaysItIsNotReady() throws Exception {
        server.answer(request -> Reply.of(503, "{\"status\":\"starting\"}"));

        OutpostException e = catchThrowableOfType(OutpostException.class, transport::health);

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.code()).isEqualTo("HTTP_503");

        server.answer(request -> Reply.of(200, "{\"status\":\"ok\"}"));
        assertThat(transport.health()).isNotNull();
    }

    // ---- Retry-After ----

    @ParameterizedTest
    @ValueSource(ints = {429, 503})
    void retryAfterInSecondsIsCarriedByTheException(int status) {
        server.answer(request -> Reply.of(status, "", "Retry-After: 120"));

        OutpostException push = pushFails(smallPush());
        OutpostException pull = pullFails();

        for (OutpostException e : List.of(push, pull)) {
            assertThat(e.category()).isEqualTo(Category.SERVER);
            assertThat(e.retryAfter()).contains(Duration.ofSeconds(120));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {429, 503})
    void retryAfterAsAnHttpDateIsTheWaitUntilThen(int status) {
        String inAnHour = httpDate(ZonedDateTime.now(ZoneOffset.UTC).plusHours(1));
        server.answer(request -> Reply.of(status, "", "Retry-After: " + inAnHour));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        // The date is whole seconds and the transport reads its own clock, so the wait is up to an hour.
        assertThat(e.retryAfter()).hasValueSatisfying(wait -> assertThat(wait).isPositive().isLessThanOrEqualTo(Duration.ofHours(1)));
    }

    @ParameterizedTest
    @ValueSource(ints = {429, 503})
    void retryAfterAtADateInThePastIsNoWait(int status) {
        server.answer(request -> Reply.of(status, "", "Retry-After: Sun, 06 Nov 1994 08:49:37 GMT"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.retryAfter()).contains(Duration.ZERO);
    }

    @ParameterizedTest
    @ValueSource(strings = {"soon", "1.5", "-3", "0x10", "12 s", "Mon, 31 Feb 2025 10:00:00 GMT", "Fri, 06 Nov 1994 08:49:37 GMT",
            "06 Nov 1994", "\"120\"", "1e3", ",", "Sun, 06 Nov 1994 25:61:61 GMT"})
    void garbageRetryAfterIsIgnoredAndTheAnswerStillClassified(String header) {
        server.answer(request -> Reply.of(503, "{\"code\":\"OVERLOADED\",\"message\":\"busy\"}", "Retry-After: " + header));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.code()).isEqualTo("OVERLOADED");
        assertThat(e.retryAfter()).isEmpty();
    }

    @Test
    void emptyRetryAfterIsIgnored() {
        server.answer(request -> Reply.of(429, "", "Retry-After: "));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.retryAfter()).isEmpty();
    }

    @Test
    void retryAfterOfMoreThanADayIsCappedAtADay() {
        server.answer(request -> Reply.of(429, "", "Retry-After: 86401"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.retryAfter()).contains(Duration.ofDays(1));
    }

    @Test
    void retryAfterTooLargeForALongIsCappedAtADay() {
        server.answer(request -> Reply.of(429, "", "Retry-After: 99999999999999999999999"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.retryAfter()).contains(Duration.ofDays(1));
    }

    @Test
    void retryAfterAtAFarDateIsCappedAtADay() {
        server.answer(request -> Reply.of(503, "", "Retry-After: Fri, 31 Dec 9999 23:59:59 GMT"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.SERVER);
        assertThat(e.retryAfter()).contains(Duration.ofDays(1));
    }

    @Test
    void retryAfterReadsAnyTextWithoutThrowing() {
        List<String> texts = new ArrayList<>(Arrays.asList(null, "", " ", "\t", "+5", " 7 ", "\u0663", "9223372036854775807",
                "-9223372036854775808", "99999999999999999999999", "Sun, 06 Nov 1994 08:49:37 GMT",
                "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Thu, 01 Jan 1970 00:00:00 GMT",
                "Fri, 31 Dec 9999 23:59:59 GMT", "Sat, 01 Jan 0000 00:00:00 GMT", "Sun, 06 Nov 1994 08:49:37 +9999",
                "\u0000", "\uFFFF", "Sun, 06 Nov 1994 08:49:37 GMT garbage", "x".repeat(10_000)));

        for (String text : texts) {
            Duration wait = HttpTransport.retryAfter(text);
            assertThat(wait == null ? Duration.ZERO : wait).as("Retry-After: %s", text).isGreaterThanOrEqualTo(Duration.ZERO);
        }
        assertThat(HttpTransport.retryAfter(" 7 ")).isEqualTo(Duration.ofSeconds(7));
        assertThat(HttpTransport.retryAfter("9223372036854775807")).isEqualTo(Duration.ofDays(1));
        assertThat(HttpTransport.retryAfter("99999999999999999999999")).isEqualTo(Duration.ofDays(1));
        assertThat(HttpTransport.retryAfter("Fri, 31 Dec 9999 23:59:59 GMT")).isEqualTo(Duration.ofDays(1));
        assertThat(HttpTransport.retryAfter("+5")).as("delta-seconds are digits only").isNull();
        assertThat(HttpTransport.retryAfter("\u0663")).as("ASCII digits only").isNull();
    }

    // ---- gzip ----

    @Test
    void pushLargerThanTheThresholdIsSentGzippedAndDecodesToTheSameJson() throws Exception {
        PushRequest request = push(3, 2 * HttpTransport.GZIP_OVER);
        server.answer(FakeServer::applyAll);

        PushResponse response = transport.push(request, TOKEN);

        FakeServer.Request sent = server.requests().get(0);
        assertThat(sent.header("Content-Encoding")).isEqualTo("gzip");
        assertThat(sent.header("Content-Type")).isEqualTo("application/json");
        assertThat(sent.body().length).isLessThan(Wire.writeBytes(request).length);
        assertThat(gunzip(sent.body())).isEqualTo(Wire.writeBytes(request));
        assertThat(Wire.read(gunzip(sent.body()), PushRequest.class)).isEqualTo(request);
        assertThat(response.results()).extracting(OpResult::opId).containsExactlyElementsOf(opIds(request));
    }

    @Test
    void pushAtOrUnderTheThresholdIsSentPlain() throws Exception {
        PushRequest atThreshold = pushOfSize(HttpTransport.GZIP_OVER);
        PushRequest justOver = pushOfSize(HttpTransport.GZIP_OVER + 1);
        server.answer(FakeServer::applyAll);

        transport.push(smallPush(), TOKEN);
        transport.push(atThreshold, TOKEN);
        transport.push(justOver, TOKEN);

        List<FakeServer.Request> sent = server.requests();
        assertThat(sent.get(0).header("Content-Encoding")).isNull();
        assertThat(sent.get(0).body()).isEqualTo(Wire.writeBytes(smallPush()));
        assertThat(sent.get(1).header("Content-Encoding")).isNull();
        assertThat(sent.get(1).body()).hasSize(HttpTransport.GZIP_OVER).isEqualTo(Wire.writeBytes(atThreshold));
        assertThat(sent.get(2).header("Content-Encoding")).isEqualTo("gzip");
        assertThat(gunzip(sent.get(2).body())).hasSize(HttpTransport.GZIP_OVER + 1).isEqualTo(Wire.writeBytes(justOver));
    }

    @Test
    void everyCallAsksForGzippedJsonWithItsToken() throws Exception {
        server.answer(request -> request.target().startsWith("/v1/push") ? FakeServer.applyAll(request) : Reply.of(200, page()));

        transport.push(smallPush(), TOKEN);
        transport.pull("c 1/+", 10, TOKEN);

        for (FakeServer.Request sent : server.requests()) {
            assertThat(sent.header("Accept-Encoding")).isEqualTo("gzip");
            assertThat(sent.header("Accept")).isEqualTo("application/json");
            assertThat(sent.header("Authorization")).isEqualTo("Bearer " + TOKEN);
        }
        assertThat(server.requests().get(1).target()).isEqualTo("/v1/pull?limit=10&cursor=c+1%2F%2B");
    }

    @Test
    void gzippedAnswersAreRead() throws Exception {
        PushRequest request = push(2, 0);
        server.answer(sent -> sent.target().startsWith("/v1/push")
                ? Reply.of(200, gzip(Wire.writeBytes(applied(request))), "Content-Encoding: gzip")
                : Reply.of(200, gzip(page().getBytes(StandardCharsets.UTF_8)), "Content-Encoding: GZIP "));

        PushResponse pushed = transport.push(request, TOKEN);
        PullResponse pulled = transport.pull(null, 10, TOKEN);

        assertThat(pushed).isEqualTo(applied(request));
        assertThat(pulled.cursor()).isEqualTo("c2");
        assertThat(pulled.hasMore()).isTrue();
        assertThat(pulled.changes()).singleElement().satisfies(change -> {
            assertThat(change.recordId()).isEqualTo("r1");
            assertThat(change.version()).isEqualTo(3);
            assertThat(change.data()).isEqualTo(Wire.object("{\"text\":\"h\u00e9llo\"}"));
        });
    }

    @Test
    void gzippedErrorAnswerKeepsTheServersCode() {
        server.answer(request -> Reply.of(422, gzip("{\"code\":\"BAD_OP\",\"message\":\"op o1\"}".getBytes(StandardCharsets.UTF_8)),
                "Content-Encoding: gzip"));

        OutpostException e = pushFails(smallPush());

        assertThat(e.category()).isEqualTo(Category.VALIDATION);
        assertThat(e.code()).isEqualTo("BAD_OP");
    }

    @Test
    void corruptGzipAnswerIsBadResponse() {
        byte[] whole = gzip(page().getBytes(StandardCharsets.UTF_8));
        List<byte[]> corrupt = List.of(
                "not gzip at all".getBytes(StandardCharsets.UTF_8),
                page().getBytes(StandardCharsets.UTF_8),
                new byte[0],
                Arrays.copyOf(whole, whole.length / 2),
                flipped(whole, whole.length - 6),
                flipped(whole, 12));

        for (byte[] body : corrupt) {
            server.answer(request -> Reply.of(200, body, "Content-Encoding: gzip"));

            OutpostException push = pushFails(smallPush());
            OutpostException pull = pullFails();

            for (OutpostException e : List.of(push, pull)) {
                assertThat(e.category()).isEqualTo(Category.SERVER);
                assertThat(e.code()).isEqualTo("BAD_RESPONSE");
            }
        }
    }

    @Test
    void corruptGzipErrorAnswerIsStillClassifiedByItsStatus() {
        server.answer(request -> Reply.of(401, "not gzip".getBytes(StandardCharsets.UTF_8), "Content-Encoding: gzip"));
        OutpostException unauthorized = pushFails(smallPush());
        server.answer(request -> Reply.of(503, "not gzip".getBytes(StandardCharsets.UTF_8), "Content-Encoding: gzip",
                "Retry-After: 30"));
        OutpostException unavailable = pushFails(smallPush());

        assertThat(unauthorized.category()).isEqualTo(Category.AUTH);
        assertThat(unavailable.category()).isEqualTo(Category.SERVER);
        assertThat(unavailable.retryAfter()).contains(Duration.ofSeconds(30));
    }

    // ---- connection reuse ----

    @Test
    void callsInARowShareOneConnection() throws Exception {
        server.answer(request -> request.target().startsWith("/v1/push") ? FakeServer.applyAll(request)
                : request.target().startsWith("/health") ? Reply.of(200, "{}") : Reply.of(200, page()));

        for (int i = 0; i < 3; i++) {
            transport.push(smallPush(), TOKEN);
            transport.push(push(3, 2 * HttpTransport.GZIP_OVER), TOKEN);
            transport.pull("c" + i, 10, TOKEN);
            transport.health();
        }

        assertThat(server.requests()).hasSize(12);
        assertThat(server.connections()).isEqualTo(1);
    }

    @Test
    void errorAnswersDoNotCostTheConnection() throws Exception {
        server.answer(request -> switch (server.requests().size()) {
            case 1 -> Reply.of(503, "{\"code\":\"OVERLOADED\",\"message\":\"busy\"}", "Retry-After: 1");
            case 2 -> Reply.of(401, "");
            case 3 -> Reply.of(422, "{\"code\":\"BAD_OP\",\"message\":\"op o1\"}");
            case 4 -> Reply.of(200, "<html>not JSON</html>");
            default -> FakeServer.applyAll(request);
        });

        for (int i = 0; i < 4; i++) {
            pushFails(smallPush());
        }
        transport.push(smallPush(), TOKEN);

        assertThat(server.requests()).hasSize(5);
        assertThat(server.connections()).isEqualTo(1);
    }

    @Test
    void serverThatClosesAfterEachAnswerIsReconnectedTo() throws Exception {
        server.answer(request -> Reply.closing(200, Wire.writeBytes(applied(Wire.read(request.body(), PushRequest.class)))));

        for (int i = 0; i < 3; i++) {
            transport.push(smallPush(), TOKEN);
        }

        assertThat(server.requests()).hasSize(3);
        assertThat(server.connections()).isEqualTo(3);
    }

    // ---- helpers ----

    private OutpostException pushFails(PushRequest request) {
        OutpostException e = catchThrowableOfType(OutpostException.class, () -> transport.push(request, TOKEN));
        assertThat(e).as("push should fail with an OutpostException").isNotNull();
        return e;
    }

    private OutpostException pullFails() {
        OutpostException e = catchThrowableOfType(OutpostException.class, () -> transport.pull("c1", 10, TOKEN));
        assertThat(e).as("pull should fail with an OutpostException").isNotNull();
        return e;
    }

    private static PushRequest smallPush() {
        return new PushRequest("d1", List.of(op("o1", "")));
    }

    /** {@code ops} ops, each with a text of {@code padding} characters. */
    private static PushRequest push(int ops, int padding) {
        List<Operation> list = new ArrayList<>();
        for (int i = 0; i < ops; i++) {
            list.add(op("o" + i, "x".repeat(padding)));
        }
        return new PushRequest("d1", list);
    }

    /** A push of one op whose JSON is exactly {@code size} bytes. */
    private static PushRequest pushOfSize(int size) {
        int empty = Wire.writeBytes(smallPush()).length;
        PushRequest request = new PushRequest("d1", List.of(op("o1", "x".repeat(size - empty))));
        assertThat(Wire.writeBytes(request)).hasSize(size);
        return request;
    }

    private static Operation op(String opId, String text) {
        ObjectNode data = Wire.mapper().createObjectNode().put("text", text);
        return new Operation(opId, "notes", "r-" + opId, OpType.CREATE, null, data, "0000000000001-0000-d1", Priority.NORMAL);
    }

    private static List<String> opIds(PushRequest request) {
        return request.ops().stream().map(Operation::opId).toList();
    }

    private static PushResponse applied(PushRequest request) {
        return new PushResponse(request.ops().stream().map(op -> OpResult.applied(op.opId(), 1)).toList());
    }

    private static String page() {
        return "{\"changes\":[{\"collection\":\"notes\",\"recordId\":\"r1\",\"version\":3,\"deleted\":false,"
                + "\"data\":{\"text\":\"h\u00e9llo\"},\"hlc\":\"0000000000001-0000-d2\"}],\"cursor\":\"c2\",\"hasMore\":true}";
    }

    private static String httpDate(ZonedDateTime at) {
        return DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US).format(at);
    }

    private static int closedPort() throws IOException {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return socket.getLocalPort();
        }
    }

    private static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream zip = new GZIPOutputStream(out)) {
            zip.write(bytes);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out.toByteArray();
    }

    private static byte[] gunzip(byte[] bytes) throws IOException {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(bytes))) {
            return in.readAllBytes();
        }
    }

    private static byte[] flipped(byte[] bytes, int at) {
        byte[] copy = bytes.clone();
        copy[at] ^= (byte) 0xFF;
        return copy;
    }

    /**
     * What the server writes back: the bytes of an answer, whether it then closes the connection,
     * and whether it then goes quiet, sending nothing more but keeping the connection open.
     */
    private record Reply(byte[] bytes, boolean thenClose, boolean thenStall) {
        static Reply of(int status, String body, String... headers) {
            return of(status, body.getBytes(StandardCharsets.UTF_8), headers);
        }

        static Reply of(int status, byte[] body, String... headers) {
            return new Reply(concat(head(status, body.length, headers), body), false, false);
        }

        /** An answer that says {@code Connection: close}, after which the server closes the connection. */
        static Reply closing(int status, byte[] body) {
            return new Reply(of(status, body, "Connection: close").bytes(), true, false);
        }

        /** An answer that keeps the connection alive as far as its headers say, after which the server closes it. */
        static Reply silentlyClosing(int status, byte[] body) {
            return new Reply(of(status, body).bytes(), true, false);
        }

        /** An answer that promises {@code length} bytes of body, sends {@code body}, and closes the connection. */
        static Reply cut(int status, String body, int length) {
            return new Reply(concat(head(status, length), body.getBytes(StandardCharsets.UTF_8)), true, false);
        }

        /**
         * An answer that promises {@code length} bytes of body, sends {@code body}, and then
         * sends nothing more on a connection it keeps open, as a link that died without a reset.
         */
        static Reply stalled(int status, String body, int length, String... headers) {
            return new Reply(concat(head(status, length, headers), body.getBytes(StandardCharsets.UTF_8)), false, true);
        }

        private static byte[] head(int status, int length, String... headers) {
            StringBuilder head = new StringBuilder("HTTP/1.1 ").append(status).append(" Status\r\n");
            for (String header : headers) {
                head.append(header).append("\r\n");
            }
            head.append("Content-Length: ").append(length).append("\r\n\r\n");
            return head.toString().getBytes(StandardCharsets.ISO_8859_1);
        }

        private static byte[] concat(byte[] head, byte[] body) {
            byte[] all = Arrays.copyOf(head, head.length + body.length);
            System.arraycopy(body, 0, all, head.length, body.length);
            return all;
        }
    }

    /**
     * An HTTP/1.1 server on a loopback ephemeral port that reads each request (a Content-Length
     * body or none, as the JDK client sends) and writes whatever its answer function returns,
     * keeping the connection open for the next request unless told to close it. A null answer
     * closes the connection without a word.
     */
    private static final class FakeServer implements AutoCloseable {
        record Request(String method, String target, Map<String, String> headers, byte[] body) {
            String header(String name) {
                return headers.get(name.toLowerCase(Locale.ROOT));
            }
        }

        @FunctionalInterface
        interface Answer {
            Reply to(Request request) throws Exception;
        }

        private final ServerSocket listener;
        private final ExecutorService threads = Executors.newCachedThreadPool(runnable -> {
            Thread thread = new Thread(runnable, "fake-http-server");
            thread.setDaemon(true);
            return thread;
        });
        private final AtomicInteger connections = new AtomicInteger();
        private final List<Request> requests = new CopyOnWriteArrayList<>();
        private final Set<Socket> open = ConcurrentHashMap.newKeySet();
        private volatile Answer answer = request -> Reply.of(500, "");

        FakeServer() {
            try {
                listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
            } catch (IOException e) {
                throw new AssertionError(e);
            }
            threads.execute(this::accept);
        }

        URI uri() {
            return URI.create("http://127.0.0.1:" + listener.getLocalPort());
        }

        void answer(Answer answer) {
            this.answer = answer;
        }

        /** The TCP connections accepted so far. */
        int connections() {
            return connections.get();
        }

        List<Request> requests() {
            return requests;
        }

        /** Answers a push with every op applied. */
        static Reply applyAll(Request request) throws IOException {
            byte[] body = "gzip".equals(request.header("Content-Encoding")) ? gunzip(request.body()) : request.body();
            return Reply.of(200, Wire.writeBytes(applied(Wire.read(body, PushRequest.class))));
        }

        private void accept() {
            while (!listener.isClosed()) {
                try {
                    Socket socket = listener.accept();
                    connections.incrementAndGet();
                    open.add(socket);
                    threads.execute(() -> serve(socket));
                } catch (IOException closed) {
                    return;
                }
            }
        }

        private void serve(Socket socket) {
            try (socket) {
                InputStream in = new BufferedInputStream(socket.getInputStream());
                OutputStream out = socket.getOutputStream();
                for (String line = line(in); line != null; line = line(in)) {
                    if (line.isEmpty()) {
                        continue;
                    }
                    String[] requestLine = line.split(" ");
                    Map<String, String> headers = new LinkedHashMap<>();
                    for (String header = line(in); header != null && !header.isEmpty(); header = line(in)) {
                        int colon = header.indexOf(':');
                        headers.put(header.substring(0, colon).trim().toLowerCase(Locale.ROOT), header.substring(colon + 1).trim());
                    }
                    byte[] body = in.readNBytes(Integer.parseInt(headers.getOrDefault("content-length", "0")));
                    Request request = new Request(requestLine[0], requestLine[1], headers, body);
                    requests.add(request);
                    Reply reply = answer.to(request);
                    if (reply == null) {
                        return;
                    }
                    out.write(reply.bytes());
                    out.flush();
                    if (reply.thenStall()) {
                        // Quiet until the client gives up and closes, or the test ends.
                        while (in.read() >= 0) {
                            // whatever the client still sends is not answered
                        }
                        return;
                    }
                    if (reply.thenClose()) {
                        return;
                    }
                }
            } catch (Exception e) {
                // The client hung up or the test ended; the test sees what happened from the client's side.
            } finally {
                open.remove(socket);
            }
        }

        /** A line of the request head without its CRLF; null at the end of the stream. */
        private static String line(InputStream in) throws IOException {
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            for (int b = in.read(); b != '\n'; b = in.read()) {
                if (b < 0) {
                    return line.size() == 0 ? null : line.toString(StandardCharsets.ISO_8859_1);
                }
                line.write(b);
            }
            String text = line.toString(StandardCharsets.ISO_8859_1);
            return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
        }

        @Override
        public void close() {
            try {
                listener.close();
            } catch (IOException ignored) {
                // closing anyway
            }
            for (Socket socket : open) {
                try {
                    socket.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
            threads.shutdownNow();
        }
    }
}
