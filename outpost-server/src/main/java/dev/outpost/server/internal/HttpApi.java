package dev.outpost.server.internal;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.ErrorBody;
import dev.outpost.protocol.Names;
import dev.outpost.protocol.OpStatus;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushResponse;
import dev.outpost.protocol.Wire;
import dev.outpost.server.TokenException;
import dev.outpost.server.Tokens;
import io.javalin.Javalin;
import io.javalin.http.Context;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.IntSupplier;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The HTTP face of protocol v1: routes, bearer authentication, body limits, and the one place
 * where every failure becomes a status and a {@code {"code","message"}} body.
 */
public final class HttpApi implements AutoCloseable {
    /** How long a readiness probe waits for the database before it reports it down. */
    static final java.time.Duration READINESS_BOUND = java.time.Duration.ofSeconds(2);
    private static final Logger LOG = LoggerFactory.getLogger(HttpApi.class);
    private static final String USER = "outpost.user";
    private static final byte[] CHANGES_START = "{\"changes\":[".getBytes(StandardCharsets.US_ASCII);

    private final SyncStore store;
    private final Tokens tokens;
    private final Limits limits;
    private final PushParser parser;
    private final ServerMetrics metrics;
    private final Policies policies;
    private final ReadinessProbe readiness;

    public HttpApi(SyncStore store, Tokens tokens, Limits limits, ServerMetrics metrics, Policies policies) {
        this.store = store;
        this.tokens = tokens;
        this.limits = limits;
        this.parser = new PushParser(limits);
        this.metrics = metrics;
        this.policies = policies;
        this.readiness = new ReadinessProbe(store::ready, READINESS_BOUND);
        metrics.inFlight(inFlight);
    }

    private final java.util.concurrent.atomic.AtomicInteger inFlight = new java.util.concurrent.atomic.AtomicInteger();
    private volatile boolean shuttingDown;

    /** Adds the routes and handlers to a Javalin app that has not started. */
    public void install(Javalin app) {
        app.before("/v1/*", ctx -> {
            if (shuttingDown) {
                ctx.header("Connection", "close");
                ctx.header("Retry-After", "1");
                throw new ApiException(503, "SHUTTING_DOWN", "the server is stopping; send this again in a moment");
            }
            authenticate(ctx);
        });
        app.get("/health", this::ready);
        app.get("/health/ready", this::ready);
        app.get("/health/live", ctx -> json(ctx, Map.of("status", "UP")));
        app.get("/metrics", ctx -> {
            ctx.contentType("text/plain; version=0.0.4; charset=utf-8");
            ctx.result(metrics.scrape());
        });
        app.post("/v1/push", tracked(this::push));
        app.get("/v1/pull", tracked(this::pull));
        app.get("/v1/conflicts", tracked(this::conflicts));
        app.get("/v1/devices/{deviceId}/operations", tracked(this::operations));
        app.post("/v1/conflicts/{id}/resolve", tracked(this::resolve));
        app.exception(ApiException.class, (e, ctx) -> error(ctx, e.status(), e.code(), e.getMessage()));
        app.exception(Exception.class, (e, ctx) -> {
            LOG.error("request {} {} failed", ctx.method(), ctx.path(), e);
            error(ctx, 500, "INTERNAL", "the server failed to handle this request; it was not applied. Try again later");
        });
        app.error(404, ctx -> {
            if (ctx.attribute("outpost.error") == null) {
                error(ctx, 404, "NOT_FOUND", "no such endpoint: " + ctx.method() + " " + ctx.path());
            }
        });
        app.error(405, ctx -> {
            if (ctx.attribute("outpost.error") == null) {
                error(ctx, 405, "METHOD_NOT_ALLOWED", ctx.method() + " is not allowed on " + ctx.path());
            }
        });
    }

    /** A handler counted while it runs, so that a stop can wait for it. */
    private io.javalin.http.Handler tracked(io.javalin.http.Handler handler) {
        return ctx -> {
            inFlight.incrementAndGet();
            try {
                // Checked after counting in: a stop that saw no request in flight has refused this one.
                if (shuttingDown) {
                    ctx.header("Connection", "close");
                    throw new ApiException(503, "SHUTTING_DOWN", "the server is stopping; send this again in a moment");
                }
                handler.handle(ctx);
            } finally {
                inFlight.decrementAndGet();
            }
        };
    }

    /** From now on every /v1 request is answered 503 SHUTTING_DOWN. */
    public void shutDown() {
        shuttingDown = true;
    }

    /**
     * Waits until no request is being handled and {@code alsoActive} counts none either, up to
     * {@code timeout}; whether that came.
     */
    public boolean awaitIdle(java.time.Duration timeout, IntSupplier alsoActive) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (inFlight.get() > 0 || alsoActive.getAsInt() > 0) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    private void authenticate(Context ctx) {
        String header = ctx.header("Authorization");
        if (header == null || header.isBlank()) {
            throw new ApiException(401, "UNAUTHORIZED", "this endpoint needs an Authorization: Bearer <token> header");
        }
        if (!header.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiException(401, "UNAUTHORIZED", "the Authorization header must be 'Bearer <token>'");
        }
        try {
            ctx.attribute(USER, Scopes.of(tokens.authenticate(header.substring(7).trim())));
        } catch (TokenException e) {
            throw new ApiException(401, "UNAUTHORIZED", e.getMessage());
        }
    }

    /**
     * Readiness: 200 while this node takes requests and its database answers; 503 with a code
     * once a stop has begun (so a load balancer drains the node) or when the database does not
     * answer within {@link #READINESS_BOUND}.
     */
    private void ready(Context ctx) {
        if (shuttingDown) {
            ctx.header("Connection", "close");
            notReady(ctx, "SHUTTING_DOWN", "the server is stopping; send requests to another node", null);
            return;
        }
        String fault = readiness.fault();
        if (fault != null) {
            notReady(ctx, "DATABASE_UNAVAILABLE", "the server cannot reach its database: " + fault, "DOWN");
            return;
        }
        json(ctx, Map.of("status", "UP", "database", "UP"));
    }

    private static void notReady(Context ctx, String code, String message, String database) {
        Map<String, String> body = new java.util.LinkedHashMap<>();
        body.put("code", code);
        body.put("message", message);
        body.put("status", "DOWN");
        if (database != null) {
            body.put("database", database);
        }
        ctx.status(503);
        json(ctx, body);
    }

    /** Stops the readiness checks. */
    @Override
    public void close() {
        readiness.close();
    }

    private void push(Context ctx) {
        long started = System.nanoTime();
        JsonNode body = readJson(ctx);
        PushParser.Push push = parser.parse(body);
        SyncStore.Pushed pushed = store.push(scopes(ctx), push.deviceId(), push.ops());
        json(ctx, new PushResponse(pushed.results()));
        metrics.pushed(System.nanoTime() - started, push.ops(), pushed, policies);
    }

    private void pull(Context ctx) {
        long started = System.nanoTime();
        Scopes scopes = scopes(ctx);
        long after = Cursor.decode(ctx.queryParam("cursor")).checkMadeFor(scopes).seq();
        int limit = pullLimit(ctx.queryParam("limit"));
        SyncStore.Page page = store.pull(scopes, after, limit, countRemaining(ctx.queryParam("count")));
        ctx.contentType("application/json");
        // The cursor and whether more follow, as in the body, so a client may ask for the next
        // page as soon as the headers arrive, while this page's body is still on its way.
        String cursor = Cursor.encode(page.lastSeq(), scopes);
        ctx.header(PullResponse.CURSOR_HEADER, cursor);
        ctx.header(PullResponse.HAS_MORE_HEADER, String.valueOf(page.hasMore()));
        ctx.result(pullResponse(page, cursor));
        metrics.pulled(System.nanoTime() - started, page.changes().size());
    }

    /**
     * The page as a {@link PullResponse} in JSON: its changes copied in as
     * the store made them, then {@code cursor}, the page's cursor as {@link Cursor#encode} gives
     * it (URL-safe Base64, nothing to escape).
     */
    static byte[] pullResponse(SyncStore.Page page, String cursor) {
        int size = 64;
        for (byte[] change : page.changes()) {
            size += change.length + 1;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream(size);
        out.writeBytes(CHANGES_START);
        for (int i = 0; i < page.changes().size(); i++) {
            if (i > 0) {
                out.write(',');
            }
            out.writeBytes(page.changes().get(i));
        }
        out.writeBytes(("],\"cursor\":\"" + cursor + "\",\"hasMore\":" + page.hasMore()
                + (page.remaining() < 0 ? "" : ",\"remaining\":" + page.remaining()) + "}").getBytes(StandardCharsets.US_ASCII));
        return out.toByteArray();
    }

    private void operations(Context ctx) {
        String statusText = ctx.queryParam("status");
        OpStatus status = null;
        if (statusText != null) {
            try {
                status = OpStatus.valueOf(statusText);
            } catch (IllegalArgumentException e) {
                throw ApiException.badRequest("status must be APPLIED, MERGED, DUPLICATE, CONFLICT or REJECTED (got '"
                        + (statusText.length() > 20 ? statusText.substring(0, 20) + "..." : statusText) + "')");
            }
        }
        int limit = pageParam(ctx.queryParam("limit"), "limit", 100, 1, 1000);
        int offset = pageParam(ctx.queryParam("offset"), "offset", 0, 0, Integer.MAX_VALUE);
        String deviceId = ctx.pathParam("deviceId");
        if (!Names.isValidId(deviceId)) {
            // No device was ever stored under such an id: push refuses it.
            throw new ApiException(404, "DEVICE_NOT_FOUND", "no device of yours has that id; a device id is " + Names.idRule());
        }
        json(ctx, Map.of("operations", store.operations(scopes(ctx).user(), deviceId, status, limit, offset)));
    }

    private static int pageParam(String text, String name, int fallback, int min, int max) {
        if (text == null) {
            return fallback;
        }
        try {
            int value = Integer.parseInt(text);
            if (value >= min && value <= max) {
                return value;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ApiException(400, "INVALID_" + name.toUpperCase(java.util.Locale.ROOT), name + " must be a whole number from "
                + min + " to " + max + " (got '" + (text.length() > 20 ? text.substring(0, 20) + "..." : text) + "')");
    }

    private void conflicts(Context ctx) {
        json(ctx, Map.of("conflicts", store.conflicts(scopes(ctx), 1000)));
    }

    private void resolve(Context ctx) {
        String conflictId = ctx.pathParam("id");
        if (!Names.isValidId(conflictId)) {
            // The server names conflicts with ids that keep this rule.
            throw new ApiException(404, "CONFLICT_NOT_FOUND", "no conflict of yours has that id; a conflict id is " + Names.idRule());
        }
        JsonNode body = readJson(ctx);
        if (!(body instanceof ObjectNode request)) {
            throw ApiException.badRequest("the body must be a JSON object with choice (SERVER, CLIENT or MERGED) and, for MERGED, data");
        }
        JsonNode choiceNode = request.get("choice");
        String choice = choiceNode != null && choiceNode.isTextual() ? choiceNode.asText() : null;
        if (!"SERVER".equals(choice) && !"CLIENT".equals(choice) && !"MERGED".equals(choice)) {
            throw ApiException.badRequest("choice must be SERVER, CLIENT or MERGED (got " + (choiceNode == null ? "nothing" : choiceNode) + ")");
        }
        JsonNode data = request.get("data");
        ObjectNode merged = null;
        if (choice.equals("MERGED")) {
            if (!(data instanceof ObjectNode object)) {
                throw ApiException.badRequest("data is required for MERGED: the record's fields as the resolution sets them");
            }
            int depth = Wire.depth(object);
            if (depth > limits.maxRecordDepth()) {
                throw new ApiException(400, "RECORD_TOO_DEEP", "data nests " + depth
                        + " levels; a record may nest at most " + limits.maxRecordDepth());
            }
            merged = object;
        } else if (data != null && !data.isNull()) {
            throw ApiException.badRequest("data is only for choice MERGED; " + choice + " takes the "
                    + (choice.equals("SERVER") ? "server's record" : "device's change") + " as it is");
        }
        SyncStore.Resolved resolved = store.resolve(scopes(ctx), conflictId, choice, merged);
        json(ctx, Map.of("conflict", resolved.conflict(), "record", resolved.record()));
        metrics.resolved(choice);
    }

    /** Whether a pull asks how many changes follow its page: {@code count=true}; absent or {@code false} does not. */
    private static boolean countRemaining(String text) {
        if (text == null || text.equals("false")) {
            return false;
        }
        if (text.equals("true")) {
            return true;
        }
        throw new ApiException(400, "INVALID_REQUEST", "count must be true or false (got '"
                + (text.length() > 20 ? text.substring(0, 20) + "..." : text) + "')");
    }

    /**
     * The changes a pull returns: its limit, cut to the server's maximum. A device's page size
     * cannot know how an operator set the maximum, so asking for more is not an error.
     */
    private int pullLimit(String text) {
        if (text == null) {
            return limits.defaultPullLimit();
        }
        try {
            int limit = Integer.parseInt(text);
            if (limit >= 1) {
                return Math.min(limit, limits.maxPullLimit());
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new ApiException(400, "INVALID_LIMIT", "limit must be a whole number of at least 1 (this server returns at most "
                + limits.maxPullLimit() + " changes a page; got '" + (text.length() > 20 ? text.substring(0, 20) + "..." : text) + "')");
    }

    private JsonNode readJson(Context ctx) {
        long declared = ctx.req().getContentLengthLong();
        if (declared > limits.maxBodyBytes()) {
            throw tooLarge(declared);
        }
        String encoding = ctx.header("Content-Encoding");
        boolean gzip = encoding != null && encoding.trim().equalsIgnoreCase("gzip");
        if (encoding != null && !gzip && !encoding.trim().equalsIgnoreCase("identity")) {
            throw new ApiException(415, "UNSUPPORTED_ENCODING", "the request body's Content-Encoding '"
                    + (encoding.length() > 20 ? encoding.substring(0, 20) + "..." : encoding) + "' is not supported; send gzip or none");
        }
        byte[] bytes;
        try (InputStream raw = ctx.req().getInputStream();
                InputStream in = gzip ? new GZIPInputStream(raw, 16 * 1024) : raw) {
            // The limit applies to the body as decompressed, so a small gzip bomb cannot grow past it.
            bytes = readAtMost(in, limits.maxBodyBytes());
        } catch (ZipException | EOFException e) {
            throw new ApiException(400, "MALFORMED_BODY", "the request body is declared gzip but is not valid gzip: " + e.getMessage());
        } catch (IOException e) {
            throw new ApiException(400, "INVALID_REQUEST", "the request body could not be read: " + e.getMessage());
        }
        if (bytes == null) {
            throw tooLarge(-1);
        }
        if (bytes.length == 0) {
            throw new ApiException(400, "MALFORMED_JSON", "the request body is empty; expected a JSON object");
        }
        JsonNode tree;
        try {
            tree = Wire.tree(bytes);
        } catch (StreamConstraintsException e) {
            throw parserLimit(e);
        } catch (JsonProcessingException e) {
            throw malformed(e);
        } catch (IOException e) {
            throw new ApiException(400, "MALFORMED_JSON", "the request body is not valid JSON");
        }
        if (tree == null || tree.isMissingNode()) {
            throw new ApiException(400, "MALFORMED_JSON", "the request body holds no JSON; expected a JSON object");
        }
        return tree;
    }

    private static ApiException parserLimit(StreamConstraintsException e) {
        String detail = String.valueOf(e.getOriginalMessage());
        if (detail.contains("nesting depth")) {
            return new ApiException(400, "JSON_TOO_DEEP", "the request body nests deeper than " + Wire.MAX_DEPTH + " levels");
        }
        String what = detail.startsWith("Number") ? "a number in the request body has too many digits"
                : detail.startsWith("Name") ? "a field name in the request body is too long"
                : detail.startsWith("String") ? "a string in the request body is too long"
                : "the request body breaks a limit of the JSON reader";
        return new ApiException(400, "JSON_LIMIT_EXCEEDED", what + at(e));
    }

    private static ApiException malformed(JsonProcessingException e) {
        String reason = e instanceof com.fasterxml.jackson.databind.exc.MismatchedInputException
                && String.valueOf(e.getOriginalMessage()).contains("trailing")
                ? "more follows the JSON value"
                : e.getOriginalMessage() == null || e.getOriginalMessage().contains("`")
                ? "unexpected input"
                : e.getOriginalMessage().lines().findFirst().orElse("unexpected input");
        return new ApiException(400, "MALFORMED_JSON", "the request body is not valid JSON: " + reason + at(e));
    }

    private static String at(JsonProcessingException e) {
        return e.getLocation() == null || e.getLocation().getLineNr() < 1 ? ""
                : " (line " + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")";
    }

    private ApiException tooLarge(long size) {
        return new ApiException(413, "PAYLOAD_TOO_LARGE", "the request body " + (size >= 0 ? "is " + size + " bytes; it " : "")
                + "may be at most " + limits.maxBodyBytes() + " bytes. Send fewer ops per push");
    }

    /** The stream's bytes, or null if there are more than {@code max}. */
    private static byte[] readAtMost(InputStream in, int max) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buffer = new byte[16 * 1024];
        int total = 0;
        int n;
        while ((n = in.read(buffer)) != -1) {
            total += n;
            if (total > max) {
                return null;
            }
            out.write(buffer, 0, n);
        }
        return out.toByteArray();
    }

    private static Scopes scopes(Context ctx) {
        Scopes user = ctx.attribute(USER);
        if (user == null) {
            throw new ApiException(401, "UNAUTHORIZED", "this endpoint needs an Authorization: Bearer <token> header");
        }
        return user;
    }

    private static void error(Context ctx, int status, String code, String message) {
        ctx.attribute("outpost.error", code);
        ctx.status(status);
        json(ctx, new ErrorBody(code, message));
    }

    private static void json(Context ctx, Object body) {
        ctx.contentType("application/json");
        ctx.result(Wire.writeBytes(body));
    }
}
