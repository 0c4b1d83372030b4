package dev.outpost.client.internal;

import dev.outpost.client.OutpostException;
import dev.outpost.client.OutpostException.Category;
import dev.outpost.client.SyncResult;
import dev.outpost.client.TokenProvider;
import dev.outpost.client.Transport;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sync: push every ready op in batches, record each result, then pull every change after
 * the stored cursor. One sync runs at a time per store. The pull runs even when the push fails
 * on the server (the sync still ends FAILED), so others' changes keep coming while the server
 * will not take this device's.
 *
 * <p>How a failed push is handled, by the failure's category:
 * <ul>
 *   <li>NETWORK (no connection could be made, so nothing reached the server): the sync ends
 *       OFFLINE; the ops are untouched and no attempt is counted.
 *   <li>AUTH: the sync ends FAILED and the queue pauses: later syncs ask the token provider
 *       for a new token and send nothing until it gives one other than the refused token.
 *   <li>The batch is too large for the server (413, PAYLOAD_TOO_LARGE, TOO_MANY_OPS): the
 *       batch is halved and sent again; a single op refused so is dead-lettered with the
 *       server's reason.
 *   <li>Any other 4xx of the request as a whole (a wrong URL, a proxy, a device bound to another
 *       user): the sync ends FAILED and the ops stay as they are, no attempt counted; such an
 *       answer is about the request, not about any one op.
 *   <li>SERVER (5xx, 429, an unreadable answer, and a connection that broke or an answer that
 *       did not come in time after the request went out): the batch is postponed by the retry policy (no
 *       sooner than Retry-After) and later batches shrink by half per failure in a row, so an op
 *       that makes the server fail ends up sent alone; only an op sent alone counts an attempt
 *       and is dead-lettered after its last one. The push ends rather than press a failing
 *       server, and the sync ends FAILED after its pull. A Retry-After holds every push, of
 *       any op, until then (kept in the store, so a restart keeps to it); syncs meanwhile only
 *       pull.
 * </ul>
 * Ops the server rejects one by one (REJECTED results) are dead-lettered at once; the rest of
 * their batch goes on.
 */
public final class SyncEngine {
    private static final Logger LOG = LoggerFactory.getLogger(SyncEngine.class);

    private final LocalStore store;
    private final Transport transport;
    private final TokenProvider tokens;
    private final int pushBatch;
    private final int pullPage;
    private final int pushesInFlight;
    private final Object running = new Object();
    /**
     * Makes a sync's requests while the sync's own thread records the last answers: sends the
     * next push batches, fetches the next pull page. Its threads end when idle.
     */
    private final ThreadPoolExecutor worker;
    /** The scheduled backup the last sync started after it ended; null if none. */
    private Future<?> backup;
    /** Told of each request's bytes and time through the built-in transport. */
    private volatile HttpTransport.TransferMeter meter = HttpTransport.TransferMeter.NONE;

    public SyncEngine(LocalStore store, Transport transport, TokenProvider tokens, int pushBatch, int pullPage,
            int pushesInFlight) {
        this.store = store;
        this.transport = Objects.requireNonNull(transport, "transport");
        this.tokens = tokens;
        this.pushBatch = pushBatch;
        this.pullPage = pullPage;
        this.pushesInFlight = pushesInFlight;
        this.worker = new ThreadPoolExecutor(pushesInFlight, pushesInFlight, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
                task -> {
                    Thread thread = new Thread(task, "outpost-sync");
                    thread.setDaemon(true);
                    return thread;
                });
        worker.allowCoreThreadTimeOut(true);
    }

    /**
     * Tells {@code measured} the bytes and time of each push and pull request answered through
     * the built-in transport (another {@link Transport} cannot say how many bytes it moved). An
     * exception it throws is logged and ignored.
     */
    public void measureWith(java.util.function.BiConsumer<Long, java.time.Duration> measured) {
        Objects.requireNonNull(measured, "measured");
        this.meter = (bytes, nanos) -> {
            try {
                measured.accept(bytes, java.time.Duration.ofNanos(nanos));
            } catch (RuntimeException e) {
                LOG.warn("the network monitor failed on a measured transfer and was ignored: {}", e.toString());
            }
        };
    }

    /** How far a sync has got. */
    @FunctionalInterface
    public interface Progress {
        /** The push: ops answered so far of those pending when it began (or more, if more were answered). */
        void pushed(int done, int total);

        /**
         * The pull: changes received so far of those the server said were waiting when it
         * began (or more, if more came; on the last page, all of them); total -1 if not known.
         */
        default void pulled(int done, int total) {
        }
    }

    /** Runs a sync to the end; a network failure ends it OFFLINE with the ops still queued. */
    public SyncResult sync() throws OutpostException {
        return sync((done, total) -> { });
    }

    /** As {@link #sync()}, telling {@code progress} after each pushed batch and each pulled page. */
    public SyncResult sync(Progress progress) throws OutpostException {
        synchronized (running) {
            awaitBackup();
            Counts counts = new Counts();
            try {
                Session session = new Session(initialToken());
                counts.total = store.pendingCount();
                counts.progress = progress;
                OutpostException pushFailed = pushUnlessServerFails(session, counts);
                try {
                    pull(session, counts);
                } catch (OutpostException e) {
                    if (pushFailed == null || e.category() == Category.STORAGE) {
                        throw e;
                    }
                    LOG.debug("the pull after a failed push failed too: {}", e.getMessage());
                    if (e != pushFailed) {
                        pushFailed.addSuppressed(e);
                    }
                }
                if (pushFailed != null) {
                    throw pushFailed;
                }
                store.purge();
                store.syncCompleted();
                backup = worker.submit(this::backupIfDue);
                return counts.result(SyncResult.Status.COMPLETED, null, "synced: " + counts.summary()
                        + (counts.heldUntil == null ? "" : "; pushes wait until " + counts.heldUntil
                                + ", as the server asked (Retry-After)"));
            } catch (OutpostException e) {
                if (e.category() == Category.STORAGE) {
                    throw e;
                }
                SyncResult.Status status = e.category() == Category.NETWORK ? SyncResult.Status.OFFLINE : SyncResult.Status.FAILED;
                LOG.debug("sync ended {}: {}", status, e.getMessage());
                return counts.result(status, e.category(), e.getMessage());
            }
        }
    }

    /**
     * The token to start with. If the server refused this very token before, the queue is
     * paused: the provider is asked for a new one, and without one the sync sends nothing.
     */
    private String initialToken() throws OutpostException {
        String token = token(null);
        String refused = store.refusedToken();
        if (refused != null && refused.equals(digest(token))) {
            String fresh = token(token);
            if (fresh == null || refused.equals(digest(fresh))) {
                throw new OutpostException(Category.AUTH, "TOKEN_REFUSED",
                        "the server refused this device's token; changes stay queued until the token provider gives a new one");
            }
            return fresh;
        }
        return token;
    }

    /**
     * Pushes, unless the server has asked every push to wait (Retry-After); returns a failure of
     * the server instead of throwing it, so the sync still pulls: others' changes keep coming
     * while the server will not take this device's.
     */
    private OutpostException pushUnlessServerFails(Session session, Counts counts) throws OutpostException {
        counts.heldUntil = store.pushesHeldUntil();
        if (counts.heldUntil != null) {
            LOG.debug("pushes wait until {}, as the server asked", counts.heldUntil);
            return null;
        }
        try {
            push(session, counts);
            return null;
        } catch (OutpostException e) {
            if (e.category() != Category.SERVER) {
                throw e;
            }
            return e;
        }
    }

    /**
     * Pushes batch after batch with up to {@code pushesInFlight} requests on their way. While
     * they travel, the next batches are drawn from other records' heads (ops already sent are
     * left out, and so are the ops behind them on their records); each answer, taken in the
     * order the batches went, frees room for another batch, which is sent before the answer is
     * recorded, so the device's bookkeeping and the server's work overlap. A record's next op
     * waits until its previous one is answered and recorded. After failures of the server,
     * the first request goes alone.
     */
    private void push(Session session, Counts counts) throws OutpostException {
        int streak = store.serverFailures();
        int size = Math.max(1, pushBatch >> Math.min(streak, 20));
        Deque<Sent> flying = new ArrayDeque<>();
        OutpostException lostAlone = null;
        Set<Long> unrecorded = new HashSet<>();
        send(session, counts, flying, unrecorded, size, streak > 0 ? 1 : pushesInFlight);
        while (!flying.isEmpty()) {
            Sent oldest = flying.poll();
            List<PendingOp> batch = oldest.drawn().ops();
            LocalStore.Outcomes outcomes;
            try {
                PushResponse response = await(oldest.answer(), "push");
                send(session, counts, flying, unrecorded, size, pushesInFlight);
                outcomes = store.recordResults(batch, response.results());
            } catch (OutpostException e) {
                // Batches already sent are let finish and the answers that come are recorded;
                // the ops of those that fail too stay queued and are sent again later (the
                // server answers a repeated op DUPLICATE).
                settle(flying, counts);
                unrecorded.clear();
                switch (e.category()) {
                    case VALIDATION -> {
                        if (!tooLarge(e)) {
                            throw e;
                        }
                        if (batch.size() > 1) {
                            size = Math.max(1, batch.size() / 2);
                            LOG.debug("server refused a batch of {} ops ({}); sending {} at a time", batch.size(), e.code(), size);
                        } else {
                            store.kill(batch.get(0), "the server refused this op: " + e.code() + ": " + e.getMessage());
                            counts.dead++;
                        }
                        send(session, counts, flying, unrecorded, size, 1);
                        continue;
                    }
                    case SERVER -> {
                        String error = e.code() + ": " + e.getMessage();
                        store.serverFailures(streak + 1);
                        if (batch.size() > 1 || lostAfterSending(e)) {
                            // A link that drops while a request travels looks the same as a
                            // server that drops it: the op is narrowed down and waits out a
                            // backoff, as the server's failure, but counts no attempt, so
                            // it is never dead-lettered because the network went away.
                            store.postpone(batch, error, streak + 1, e.retryAfter().orElse(null));
                        } else {
                            counts.dead += store.retryLater(batch, error, e.retryAfter().orElse(null));
                        }
                        if (e.retryAfter().isPresent()) {
                            store.holdPushes(e.retryAfter().get());
                        } else if (batch.size() == 1 && lostAfterSending(e)) {
                            // Narrowed down to one op, which now waits out its backoff: the
                            // other records' ops go on in this sync, which still ends failed.
                            streak++;
                            lostAlone = e;
                            send(session, counts, flying, unrecorded, size, 1);
                            continue;
                        }
                        throw e;
                    }
                    default -> throw e;
                }
            } catch (RuntimeException e) {
                settle(flying);
                throw e;
            }
            for (PendingOp op : batch) {
                unrecorded.remove(op.seq());
            }
            if (streak > 0) {
                streak = 0;
                store.serverFailures(0);
            }
            counts.answered(batch.size(), outcomes);
            // The answers just recorded may have freed ops (a record's next op, a change
            // settled on the device): the push ends only when nothing is left to draw.
            send(session, counts, flying, unrecorded, size, pushesInFlight);
        }
        if (lostAlone != null) {
            throw lostAlone;
        }
    }

    /** A batch on its way, and its answer to come. */
    private record Sent(LocalStore.Drawn drawn, Future<PushResponse> answer) {
    }

    /**
     * Draws and sends batches of up to {@code size} ops, leaving out the ops sent but not yet
     * recorded, until {@code depth} requests are on their way or nothing is ready.
     */
    private void send(Session session, Counts counts, Deque<Sent> flying, Set<Long> unrecorded, int size, int depth)
            throws OutpostException {
        while (flying.size() < depth) {
            LocalStore.Drawn drawn = store.nextBatch(size, unrecorded);
            counts.dead += drawn.unreadable();
            if (drawn.isEmpty()) {
                return;
            }
            for (PendingOp op : drawn.ops()) {
                unrecorded.add(op.seq());
            }
            flying.add(new Sent(drawn, send(session, drawn)));
        }
    }

    /** Sends a batch from one of the sync's worker threads, once the mark that it was sent is on disk. */
    private Future<PushResponse> send(Session session, LocalStore.Drawn drawn) {
        PushRequest request = new PushRequest(store.deviceId(), drawn.ops().stream()
                .map(op -> op.toWire(store.sharedScopeOf(op.collection()))).toList());
        return worker.submit(() -> {
            store.markedSent(drawn);
            HttpTransport.TransferMeter measured = meter;
            return session.call(token -> transport instanceof HttpTransport http ? http.push(request, token, measured)
                    : transport.push(request, token));
        });
    }

    /**
     * Waits for the requests already sent after one that failed, and records the answers that
     * come, in the order the batches went: they hold no op of the failed batch's records, whose
     * next ops wait for it. A batch that fails too leaves its ops queued. A failure of the store
     * while recording is thrown once every request has ended: it, not the push's failure, is
     * what ends the sync.
     */
    private void settle(Deque<Sent> flying, Counts counts) throws OutpostException {
        OutpostException storage = null;
        for (Sent sent = flying.poll(); sent != null; sent = flying.poll()) {
            List<PendingOp> batch = sent.drawn().ops();
            PushResponse response;
            try {
                response = await(sent.answer(), "push");
            } catch (OutpostException | RuntimeException e) {
                LOG.debug("a push sent while an earlier one failed failed too: {}", e.toString());
                continue;
            }
            if (storage != null) {
                continue;
            }
            try {
                counts.answered(batch.size(), store.recordResults(batch, response.results()));
            } catch (OutpostException e) {
                if (e.category() == Category.STORAGE) {
                    storage = e;
                } else {
                    LOG.debug("the answer to a push sent while an earlier one failed was not recorded: {}", e.toString());
                }
            }
        }
        if (storage != null) {
            throw storage;
        }
    }

    /** Waits for the requests already sent to end, whatever their outcome: a sync leaves none running. */
    private static void settle(Deque<Sent> flying) {
        for (Sent sent = flying.poll(); sent != null; sent = flying.poll()) {
            try {
                sent.answer().get();
            } catch (ExecutionException | CancellationException e) {
                LOG.debug("a push sent while an earlier one failed ended too: {}", String.valueOf(e.getCause()));
            } catch (InterruptedException e) {
                sent.answer().cancel(true);
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Whether the exchange failed after the request went out: the link or the server may have dropped it. */
    private static boolean lostAfterSending(OutpostException e) {
        return e.code().equals("CONNECTION_LOST") || e.code().equals("NO_ANSWER");
    }

    /** Whether a refusal of a whole push says the batch was too large. */
    private static boolean tooLarge(OutpostException e) {
        return e.code().equals("PAYLOAD_TOO_LARGE") || e.code().equals("TOO_MANY_OPS") || e.code().equals("HTTP_413");
    }

    /** How many pages may be asked for ahead of the one the sync is about to apply, each from the headers of the one before. */
    private static final int PAGES_AHEAD = 2;

    /**
     * Pulls every change after the stored cursor. A cursor the server says would pass over
     * changes (made for other readable scopes than the token's, or past its change log after
     * the database was put back) is forgotten and the pull starts from the beginning; a cursor
     * made for another user ends the sync with AUTH, nothing applied.
     */
    private void pull(Session session, Counts counts) throws OutpostException {
        try {
            pullFrom(session, counts, store.cursor());
        } catch (OutpostException e) {
            switch (e.code()) {
                case "CURSOR_SCOPES_CHANGED", "CURSOR_AHEAD_OF_LOG" -> {
                    // The cursor would pass over changes this device should have: start again.
                    LOG.info("pulling again from the beginning: {}", e.getMessage());
                    store.restartPull();
                    pullFrom(session, counts, null);
                }
                case "CURSOR_OTHER_USER" -> throw new OutpostException(Category.AUTH, e.code(), "this store holds the data of "
                        + "another user than the token's, so nothing was pulled or applied; open a store of its own for each "
                        + "user (" + e.getMessage() + ")");
                default -> throw e;
            }
        }
    }

    /**
     * Pulls page after page from {@code cursor} (null: from the beginning), applying them one
     * at a time, in order, each with its cursor. The next page is asked for as soon as the one before names its cursor: in the built-in
     * transport that is when the answer's headers arrive, so the server makes the next page
     * while the device still receives and reads this one; with another transport, once the
     * page has been read. Either way the server's work and the device's overlap, and at most
     * {@link #PAGES_AHEAD} pages wait ahead of the one being applied.
     */
    private void pullFrom(Session session, Counts counts, String cursor) throws OutpostException {
        Ahead ahead = new Ahead();
        Fetch fetch = new Fetch(session, cursor, true, ahead, false);
        int received = 0;
        long total = -1;
        boolean first = true;
        try {
            while (true) {
                PulledPage page = await(fetch.page, "pull");
                fetch.taken();
                Fetch next = fetch.next;
                if (next != null && !(page.hasMore() && next.after.equals(page.cursor()))) {
                    // The headers said otherwise than the body, which is the answer.
                    next.cancelAll();
                    next = null;
                }
                if (next == null && page.hasMore()) {
                    next = new Fetch(session, page.cursor(), false, ahead, false);
                }
                fetch = next;
                counts.pulled += store.applyChanges(page.changes(), page.cursor());
                received += page.changes().size();
                if (!page.hasMore()) {
                    total = received;
                } else if (first && page.remaining() >= 0) {
                    total = received + page.remaining();
                } else if (total >= 0) {
                    total = Math.max(total, received);
                }
                first = false;
                if (received > 0) {
                    counts.progress.pulled(received, (int) Math.min(Integer.MAX_VALUE, total));
                }
                if (next == null) {
                    return;
                }
            }
        } catch (OutpostException | RuntimeException e) {
            ahead.over = true;
            if (fetch != null) {
                fetch.cancelAll();
            }
            throw e;
        } finally {
            ahead.over = true;
        }
    }

    /** What the fetches of one pull share: permits to be ahead of the page applied, and whether the pull is over. */
    private static final class Ahead {
        final Semaphore permits = new Semaphore(PAGES_AHEAD);
        volatile boolean over;
    }

    /**
     * A page being fetched after a cursor, and the fetch of the page after it if that was
     * started from this answer's headers (holding one of the pull's permits to be ahead).
     */
    private final class Fetch {
        final String after;
        /** Whether the server is asked how many changes follow this page: only for a pull's first. */
        final boolean count;
        final FutureTask<PulledPage> page;
        private final Session session;
        private final Ahead ahead;
        private final boolean holdsPermit;
        private final AtomicBoolean released = new AtomicBoolean();
        volatile Fetch next;

        Fetch(Session session, String after, boolean count, Ahead ahead, boolean holdsPermit) {
            this.session = session;
            this.after = after;
            this.count = count;
            this.ahead = ahead;
            this.holdsPermit = holdsPermit;
            this.page = new FutureTask<>(this::fetch);
            worker.execute(page);
        }

        private PulledPage fetch() throws OutpostException {
            if (transport instanceof HttpTransport http) {
                HttpTransport.TransferMeter measured = meter;
                return session.call(token -> http.pullPage(after, pullPage, count, token, this::aheadOf, measured));
            }
            return PulledPage.of(session.call(token -> transport.pull(after, pullPage, token)));
        }

        /** Starts the next page's fetch from this answer's headers, if more follow and the pull may be that far ahead. */
        private void aheadOf(String cursor, boolean hasMore) {
            if (!hasMore || next != null || ahead.over || page.isCancelled() || !ahead.permits.tryAcquire()) {
                return;
            }
            try {
                next = new Fetch(session, cursor, false, ahead, true);
            } catch (RuntimeException e) {
                ahead.permits.release();
                LOG.debug("the next page could not be asked for ahead: {}", e.toString());
                return;
            }
            if (ahead.over || page.isCancelled()) {
                next.cancelAll();
            }
        }

        /** This page is being applied: it no longer counts as ahead. */
        void taken() {
            if (holdsPermit && released.compareAndSet(false, true)) {
                ahead.permits.release();
            }
        }

        /** Cancels this fetch and every one started from it. */
        void cancelAll() {
            for (Fetch fetch = this; fetch != null; fetch = fetch.next) {
                fetch.page.cancel(true);
                fetch.taken();
            }
        }
    }

    /** The outcome of a request made on the sync's own thread, as if it had been made here. */
    private static <T> T await(Future<T> request, String what) throws OutpostException {
        try {
            return request.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof OutpostException failure) {
                throw failure;
            }
            if (e.getCause() instanceof RuntimeException failure) {
                throw failure;
            }
            throw new IllegalStateException("a " + what + " request failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            request.cancel(true);
            Thread.currentThread().interrupt();
            throw new OutpostException(Category.NETWORK, "INTERRUPTED", "the " + what + " was interrupted", e);
        }
    }

    /**
     * Takes the scheduled backup if it is due. It runs on a worker thread once its sync has
     * returned: the backup reads through a connection of its own, so the app's reads and
     * writes, and the sync's result, need not wait for it.
     */
    private void backupIfDue() {
        try {
            store.backupIfDue();
        } catch (OutpostException e) {
            LOG.warn("the scheduled backup failed; the next sync tries again: {}", e.getMessage());
        }
    }

    /**
     * Waits for the scheduled backup the last sync started, if it still runs: a sync begins,
     * and the store closes, only after it.
     */
    public void awaitBackup() {
        synchronized (running) {
            if (backup == null) {
                return;
            }
            try {
                backup.get();
            } catch (ExecutionException | CancellationException e) {
                LOG.warn("the scheduled backup ended abnormally: {}", String.valueOf(e.getCause()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                backup = null;
            }
        }
    }

    private String token(String rejected) throws OutpostException {
        try {
            return tokens.token(rejected);
        } catch (Exception e) {
            throw new OutpostException(Category.AUTH, "TOKEN_PROVIDER_FAILED", "the token provider failed: " + e.getMessage(), e);
        }
    }

    private static String digest(String token) {
        if (token == null) {
            return "none";
        }
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(token.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private interface Call<T> {
        T run(String token) throws OutpostException;
    }

    /**
     * The token of one sync. A 401 asks the provider for a new token once per sync; a second
     * 401, or no new token, pauses the queue on the refused token.
     */
    private final class Session {
        private String token;
        private boolean refreshed;
        private boolean accepted;

        Session(String token) {
            this.token = token;
        }

        /** Runs a request with the session's token; several may run at once. */
        <T> T call(Call<T> call) throws OutpostException {
            String used = current();
            try {
                return accepted(call.run(used));
            } catch (OutpostException e) {
                if (e.category() != Category.AUTH) {
                    throw e;
                }
                String fresh = renewed(used);
                if (fresh == null) {
                    store.refusedToken(digest(used));
                    throw e;
                }
                try {
                    return accepted(call.run(fresh));
                } catch (OutpostException again) {
                    if (again.category() == Category.AUTH) {
                        store.refusedToken(digest(fresh));
                    }
                    throw again;
                }
            }
        }

        private synchronized String current() {
            return token;
        }

        /**
         * The token to try after {@code refused} was refused: the one another request already
         * got in its place, or a new one from the provider if it was not asked yet this sync;
         * null if there is none.
         */
        private synchronized String renewed(String refused) throws OutpostException {
            if (!Objects.equals(token, refused)) {
                return token;
            }
            if (refreshed) {
                return null;
            }
            refreshed = true;
            String fresh = token(token);
            if (fresh == null || fresh.equals(token)) {
                return null;
            }
            token = fresh;
            return fresh;
        }

        private <T> T accepted(T answer) throws OutpostException {
            boolean first;
            synchronized (this) {
                first = !accepted;
                accepted = true;
            }
            if (first) {
                store.refusedToken(null);
            }
            return answer;
        }
    }

    private final class Counts {
        int total;
        Progress progress = (done, all) -> { };
        int pushed;
        int applied;
        int merged;
        int conflicts;
        int dead;
        int pulled;
        /** Until when the server asked every push to wait; null if the sync pushed. */
        java.time.Instant heldUntil;

        /** Counts a batch of {@code size} ops whose answers were recorded with these outcomes. */
        void answered(int size, LocalStore.Outcomes outcomes) {
            pushed += size;
            progress.pushed(pushed, Math.max(total, pushed));
            applied += outcomes.applied();
            merged += outcomes.merged();
            conflicts += outcomes.conflicts();
            dead += outcomes.rejected();
        }

        SyncResult result(SyncResult.Status status, Category failure, String message) throws OutpostException {
            return new SyncResult(status, pushed, applied, merged, conflicts, dead, pulled, store.pendingCount(), failure,
                    message);
        }

        String summary() {
            return pushed + " pushed (" + applied + " applied, " + merged + " merged, " + conflicts + " conflicts, "
                    + dead + " dead), "
                    + pulled + " pulled";
        }
    }
}
