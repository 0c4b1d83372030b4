package dev.outpost.client.internal;

import dev.outpost.client.OutpostException;
import dev.outpost.client.OutpostException.Category;
import dev.outpost.client.SyncResult;
import dev.outpost.client.TokenProvider;
import dev.outpost.client.Transport;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import java.util.List;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sync: push every pending op in batches, record each result, then pull every change after
 * the stored cursor. One sync runs at a time per store.
 */
public final class SyncEngine {
    private static final Logger LOG = LoggerFactory.getLogger(SyncEngine.class);

    private final LocalStore store;
    private final Transport transport;
    private final TokenProvider tokens;
    private final int pushBatch;
    private final int pullPage;
    private final Object running = new Object();

    public SyncEngine(LocalStore store, Transport transport, TokenProvider tokens, int pushBatch, int pullPage) {
        this.store = store;
        this.transport = Objects.requireNonNull(transport, "transport");
        this.tokens = tokens;
        this.pushBatch = pushBatch;
        this.pullPage = pullPage;
    }

    /** Runs a sync to the end; a network failure ends it OFFLINE with the ops still queued. */
    public SyncResult sync() throws OutpostException {
        synchronized (running) {
            Counts counts = new Counts();
            try {
                Session session = new Session(token(null));
                push(session, counts);
                pull(session, counts);
                return counts.result(SyncResult.Status.COMPLETED, null, "synced: " + counts.summary());
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

    private void push(Session session, Counts counts) throws OutpostException {
        while (true) {
            List<PendingOp> batch = store.nextBatch(pushBatch);
            if (batch.isEmpty()) {
                return;
            }
            PushRequest request = new PushRequest(store.deviceId(), batch.stream().map(PendingOp::toWire).toList());
            PushResponse response;
            try {
                response = session.call(token -> transport.push(request, token));
            } catch (OutpostException e) {
                if (e.category() != Category.NETWORK && e.category() != Category.AUTH) {
                    store.recordAttempt(batch, e.code() + ": " + e.getMessage());
                }
                throw e;
            }
            LocalStore.Outcomes outcomes = store.recordResults(batch, response.results());
            counts.pushed += batch.size();
            counts.applied += outcomes.applied();
            counts.conflicts += outcomes.conflicts();
            counts.rejected += outcomes.rejected();
        }
    }

    private void pull(Session session, Counts counts) throws OutpostException {
        String cursor = store.cursor();
        while (true) {
            String after = cursor;
            PullResponse page = session.call(token -> transport.pull(after, pullPage, token));
            counts.pulled += store.applyChanges(page.changes(), page.cursor());
            cursor = page.cursor();
            if (!page.hasMore()) {
                return;
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

    private interface Call<T> {
        T run(String token) throws OutpostException;
    }

    /** The token of one sync; a 401 asks the provider for a new one once per sync. */
    private final class Session {
        private String token;
        private boolean refreshed;

        Session(String token) {
            this.token = token;
        }

        <T> T call(Call<T> call) throws OutpostException {
            try {
                return call.run(token);
            } catch (OutpostException e) {
                if (e.category() != Category.AUTH || refreshed) {
                    throw e;
                }
                refreshed = true;
                String fresh = token(token);
                if (fresh == null || fresh.equals(token)) {
                    throw e;
                }
                token = fresh;
                return call.run(token);
            }
        }
    }

    private final class Counts {
        int pushed;
        int applied;
        int conflicts;
        int rejected;
        int pulled;

        SyncResult result(SyncResult.Status status, Category failure, String message) throws OutpostException {
            return new SyncResult(status, pushed, applied, conflicts, rejected, pulled, store.pendingCount(), failure, message);
        }

        String summary() {
            return pushed + " pushed (" + applied + " applied, " + conflicts + " conflicts, " + rejected + " rejected), "
                    + pulled + " pulled";
        }
    }
}
