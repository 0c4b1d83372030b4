package dev.outpost.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.outpost.client.OutpostException;
import dev.outpost.client.Transport;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.PushRequest;
import dev.outpost.protocol.PushResponse;
import dev.outpost.testing.FakeClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The default monitor's quality score from measured latency (its probes) and throughput (the
 * sync's own transfers), on a fake clock and a transport whose health answers take the time
 * the test says.
 */
class ProbingNetworkMonitorTest {
    private final FakeClock clock = new FakeClock();
    private Duration latency = Duration.ofMillis(50);
    private final Transport transport = new Transport() {
        @Override
        public PushResponse push(PushRequest request, String token) {
            throw new UnsupportedOperationException();
        }

        @Override
        public PullResponse pull(String cursor, int limit, String token) {
            throw new UnsupportedOperationException();
        }

        @Override
        public Duration health() throws OutpostException {
            return latency;
        }
    };
    private final ProbingNetworkMonitor monitor = new ProbingNetworkMonitor(transport, Duration.ofSeconds(15), clock);

    private double quality() {
        return monitor.current().quality();
    }

    @Test
    void withNoTransfersQualityIsTheLatencyScore() {
        monitor.probe();
        assertThat(quality()).isEqualTo(1);

        latency = Duration.ofMillis(1050);
        monitor.probe();

        assertThat(quality()).isCloseTo(0.55, within(1e-9));
    }

    @Test
    void aSlowLinkScoresLowThoughItsLatencyIsGood() {
        monitor.probe();

        monitor.transferred(100_000, Duration.ofSeconds(1));

        assertThat(quality()).as("100 KB/s, halfway on the log scale from 10 KB/s to 1 MB/s").isCloseTo(0.55, within(1e-9));
        assertThat(monitor.current().online()).isTrue();
    }

    @Test
    void aFastLinkWithSlowAnswersScoresByItsLatency() {
        latency = Duration.ofMillis(1050);
        monitor.probe();

        monitor.transferred(5_000_000, Duration.ofSeconds(1));

        assertThat(quality()).isCloseTo(0.55, within(1e-9));
    }

    @Test
    void throughputIsAMovingAverageOfTransfers() {
        monitor.probe();
        monitor.transferred(10_000_000, Duration.ofSeconds(10));
        assertThat(quality()).isEqualTo(1);

        monitor.transferred(20_000, Duration.ofSeconds(2));

        double expected = ProbingNetworkMonitor.throughputScore(0.3 * 10_000 + 0.7 * 1_000_000);
        assertThat(quality()).as("one slow transfer pulls the average down, not to its own rate").isCloseTo(expected,
                within(1e-9)).isGreaterThan(0.9).isLessThan(1);
    }

    @Test
    void smallTransfersAndNonsenseAreNotMeasured() {
        monitor.probe();

        monitor.transferred(ProbingNetworkMonitor.MIN_TRANSFER_BYTES - 1, Duration.ofSeconds(10));
        monitor.transferred(-1, Duration.ofSeconds(1));
        monitor.transferred(1_000_000, null);
        monitor.transferred(1_000_000, Duration.ZERO);
        monitor.transferred(1_000_000, Duration.ofSeconds(-1));

        assertThat(quality()).isEqualTo(1);
    }

    @Test
    void aThroughputMeasureIsForgottenOnceNoTransferHasBeenSeenForTenMinutes() {
        monitor.probe();
        monitor.transferred(100_000, Duration.ofSeconds(10));
        double slow = quality();

        clock.advance(ProbingNetworkMonitor.THROUGHPUT_KEPT);
        double stillKept = quality();
        clock.advance(Duration.ofSeconds(1));
        double forgotten = quality();
        monitor.transferred(2_000_000, Duration.ofSeconds(1));

        assertThat(slow).as("10 KB/s").isEqualTo(0.1);
        assertThat(stillKept).isEqualTo(slow);
        assertThat(forgotten).as("latency alone").isEqualTo(1);
        assertThat(quality()).as("a new measure starts afresh, not averaged with the stale one").isEqualTo(1);
    }

    @Test
    void anOfflineNetworkHasQualityZeroWhateverWasMeasured() {
        monitor.transferred(5_000_000, Duration.ofSeconds(1));

        monitor.observe(false, null);

        assertThat(monitor.current().online()).isFalse();
        assertThat(quality()).isZero();
    }

    @Test
    void theThroughputScoreRunsFromATenthAtTenKilobytesToOneAtAMegabyte() {
        assertThat(ProbingNetworkMonitor.throughputScore(1)).isEqualTo(0.1);
        assertThat(ProbingNetworkMonitor.throughputScore(10_000)).isEqualTo(0.1);
        assertThat(ProbingNetworkMonitor.throughputScore(100_000)).isCloseTo(0.55, within(1e-9));
        assertThat(ProbingNetworkMonitor.throughputScore(1_000_000)).isEqualTo(1);
        assertThat(ProbingNetworkMonitor.throughputScore(1e9)).isEqualTo(1);
    }
}
