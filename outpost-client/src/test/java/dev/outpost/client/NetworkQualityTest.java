package dev.outpost.client;

import static org.assertj.core.api.Assertions.assertThat;

import dev.outpost.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sync's own requests are measured and told to the network monitor, the throughput half of its quality. */
class NetworkQualityTest {
    @TempDir
    Path dir;

    private record Transfer(long bytes, Duration elapsed) {
    }

    /** A monitor that says the network is up and keeps what it is told. */
    private static final class Recording implements NetworkMonitor {
        final List<Transfer> transfers = Collections.synchronizedList(new ArrayList<>());

        @Override
        public NetworkState current() {
            return NetworkState.UNKNOWN;
        }

        @Override
        public void transferred(long bytes, Duration elapsed) {
            transfers.add(new Transfer(bytes, elapsed));
        }
    }

    @Test
    void eachPushAndPullOfASyncIsToldToTheMonitorWithItsBytesOnTheWire() throws Exception {
        byte[] noise = new byte[48 * 1024];
        new Random(7).nextBytes(noise);
        String blob = Base64.getEncoder().encodeToString(noise);
        Recording monitor = new Recording();
        try (TestServer server = TestServer.start();
                Outpost phone = Outpost.open(OutpostConfig.builder().syncPolicy(SyncPolicy.MANUAL).storeFile(dir.resolve("p.db"))
                        .serverUrl(server.url()).tokenProvider(TokenProvider.fixed(server.token("ann"))).networkMonitor(monitor)
                        .build())) {
            phone.put("files", "f1", "{\"blob\":\"" + blob + "\"}");

            assertThat(phone.sync().pushed()).isEqualTo(1);
        }

        assertThat(monitor.transfers).as("one push, one pull").hasSize(2);
        assertThat(monitor.transfers).allSatisfy(transfer -> {
            assertThat(transfer.bytes()).as("the record went both ways, gzip cannot shrink noise below its bytes")
                    .isGreaterThan(noise.length);
            assertThat(transfer.elapsed()).isPositive();
        });
    }

    @Test
    void theDefaultMonitorScoresASyncsTransfers() throws Exception {
        dev.outpost.client.internal.ProbingNetworkMonitor probing = new dev.outpost.client.internal.ProbingNetworkMonitor(
                Transport.http(java.net.URI.create("http://127.0.0.1:1"), Duration.ofSeconds(1)), Duration.ofHours(1));

        probing.transferred(50_000, Duration.ofSeconds(5));

        assertThat(probing.current().quality()).as("10 KB/s").isEqualTo(0.1);
    }
}
