package dev.outpost.client.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** How often the backup schedule looks whether a backup is due. */
class BackupTimerTest {
    @Test
    void theScheduleLooksEveryTwelfthOfTheIntervalFromFiveSecondsToAnHour() {
        assertThat(BackupTimer.checkPeriod(Duration.ofHours(6))).isEqualTo(Duration.ofMinutes(30));
        assertThat(BackupTimer.checkPeriod(Duration.ofHours(24))).as("the default interval").isEqualTo(Duration.ofHours(1));
        assertThat(BackupTimer.checkPeriod(Duration.ofDays(365))).isEqualTo(Duration.ofHours(1));
        assertThat(BackupTimer.checkPeriod(Duration.ofMinutes(1))).isEqualTo(Duration.ofSeconds(5));
    }
}
