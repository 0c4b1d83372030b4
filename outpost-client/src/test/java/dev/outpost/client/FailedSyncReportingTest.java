package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.TestServer;
import java.net.URI;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sync that ends in an exception rather than a result (the device's storage failed, or an
 * app's transport threw what its contract does not allow) is still a sync to the app: told as
 * failed, in the history, metrics and status line, and thrown by {@code sync()} as itself.
 */
class FailedSyncReportingTest {
    @TempDir
    Path dir;

    private TestServer server;
    private final List<String> events = Collections.synchronizedList(new ArrayList<>());
    private final OutpostListener recorder = new OutpostListener() {
        @Override
        public void syncStarted(SyncReason reason) {
            events.add("started " + reason);
        }

        @Override
        public void syncCompleted(SyncResult result) {
            events.add("completed");
        }

        @Override
        public void syncFailed(SyncResult result) {
            events.add("failed " + result.failure());
        }
    };

    @BeforeEach
    void start() {
        server = TestServer.start();
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private OutpostConfig.Builder config(String name) {
        return OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve(name + ".db")).serverUrl(server.url())
                .tokenProvider(TokenProvider.fixed(server.token("ann")));
    }

    @Test
    void aSyncThatFailsOnTheDevicesStorageIsToldAsFailedAndShownInHistoryMetricsAndStatus() throws Exception {
        try (Outpost laptop = Outpost.open(config("laptop").build())) {
            laptop.put("patients", "p1", "{\"name\":\"Ann\",\"ssn\":\"123\"}");
            laptop.sync();
        }
        KeyProvider locked = () -> {
            throw new GeneralSecurityException("the key store is locked");
        };
        try (Outpost phone = Outpost.open(config("phone").sensitiveFields("patients", "ssn").keyProvider(locked)
                .listener(recorder).build())) {

            assertThatThrownBy(phone::sync).isInstanceOfSatisfying(OutpostException.class, e -> {
                assertThat(e.category()).isEqualTo(OutpostException.Category.STORAGE);
                assertThat(e.code()).isEqualTo("KEY_UNAVAILABLE");
            });

            assertThat(events).containsExactly("started REQUESTED", "failed STORAGE");
            assertThat(phone.lastSync()).hasValueSatisfying(last -> {
                assertThat(last.status()).isEqualTo(SyncResult.Status.FAILED);
                assertThat(last.failure()).isEqualTo(OutpostException.Category.STORAGE);
                assertThat(last.message()).contains("locked");
            });
            assertThat(phone.metrics().syncs()).isEqualTo(1);
            assertThat(phone.metrics().completedSyncs()).isZero();
            assertThat(phone.statusLine()).isEqualTo("Sync failed on this device's storage: 0 changes waiting");
            assertThatThrownBy(() -> phone.syncNow().get()).isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(OutpostException.class);
        }
    }

    @Test
    void aTransportThatThrowsAnUncheckedExceptionFailsTheSyncAndSyncThrowsThatException() throws Exception {
        Transport http = Transport.http(URI.create(server.url()), Duration.ofSeconds(5));
        IllegalStateException bug = new IllegalStateException("the app's transport has a bug");
        Transport broken = new Transport() {
            @Override
            public PushResponse push(PushRequest request, String token) {
                throw bug;
            }

            @Override
            public PullResponse pull(String cursor, int limit, String token) throws OutpostException {
                return http.pull(cursor, limit, token);
            }
        };
        try (Outpost phone = Outpost.open(config("phone").transport(broken).listener(recorder).build())) {
            phone.put("notes", "n1", "{}");

            assertThatThrownBy(phone::sync).isSameAs(bug);

            assertThat(events).containsExactly("started REQUESTED", "failed SERVER");
            assertThat(phone.lastSync()).hasValueSatisfying(last -> {
                assertThat(last.status()).isEqualTo(SyncResult.Status.FAILED);
                assertThat(last.pending()).isEqualTo(1);
                assertThat(last.message()).contains("the app's transport has a bug");
            });
            assertThat(phone.metrics().syncs()).isEqualTo(1);
            assertThat(phone.pendingCount()).as("the op stays queued").isEqualTo(1);
        }
    }
}
