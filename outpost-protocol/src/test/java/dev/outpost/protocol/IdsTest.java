package dev.outpost.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** UUIDv7 ids made on devices. */
class IdsTest {
    /** The Unix milliseconds in the first 48 bits of a UUIDv7. */
    private static long millisOf(String id) {
        return UUID.fromString(id).getMostSignificantBits() >>> 16;
    }

    @Test
    void idIsACanonicalLowerCaseUuid() {
        String id = Ids.uuidV7();

        assertThat(id).matches("[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
        assertThat(UUID.fromString(id).toString()).isEqualTo(id);
    }

    @Test
    void idsHaveVersion7AndVariant2() {
        for (int i = 0; i < 1_000; i++) {
            UUID uuid = UUID.fromString(Ids.uuidV7());

            assertThat(uuid.version()).as(uuid.toString()).isEqualTo(7);
            assertThat(uuid.variant()).as(uuid.toString()).isEqualTo(2);
        }
    }

    @Test
    void idCarriesTheMillisecondItWasMadeIn() {
        long before = System.currentTimeMillis();
        String id = Ids.uuidV7();
        long after = System.currentTimeMillis();

        assertThat(millisOf(id)).isBetween(before, after);
    }

    @Test
    void idsFromLaterMillisecondsSortLater() {
        List<String> made = new ArrayList<>();
        Set<Long> millis = new HashSet<>();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (millis.size() < 5) {
            String id = Ids.uuidV7();
            made.add(id);
            millis.add(millisOf(id));
            if (System.nanoTime() > deadline) {
                fail("ids from only %d distinct milliseconds after %d ids", millis.size(), made.size());
            }
        }

        for (int i = 1; i < made.size(); i++) {
            assertThat(millisOf(made.get(i)))
                    .as("millisecond field of id %d must not be before that of id %d", i, i - 1)
                    .isGreaterThanOrEqualTo(millisOf(made.get(i - 1)));
        }
        List<String> sorted = new ArrayList<>(made);
        sorted.sort(null);
        for (int i = 1; i < sorted.size(); i++) {
            String earlier = sorted.get(i - 1);
            String later = sorted.get(i);
            assertThat(millisOf(earlier))
                    .as("%s sorts before %s but was made in a later millisecond", earlier, later)
                    .isLessThanOrEqualTo(millisOf(later));
        }
    }

    @Test
    void stringOrderFollowsTheMillisecondField() {
        // Across the whole range of the 48-bit field, not just the milliseconds of this test run.
        long[] millis = {0L, 1L, 255L, 256L, 65_535L, 65_536L, 1_700_000_000_000L, 1_700_000_000_001L, (1L << 48) - 1};
        for (int i = 1; i < millis.length; i++) {
            String earlier = new UUID(millis[i - 1] << 16 | 0x7FFFL, -1L).toString();
            String later = new UUID(millis[i] << 16 | 0x7000L, 0x8000_0000_0000_0000L).toString();
            assertThat(earlier).isLessThan(later);
        }
    }

    @Test
    void tenThousandIdsAreDistinct() {
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 10_000; i++) {
            ids.add(Ids.uuidV7());
        }

        assertThat(ids).hasSize(10_000);
    }
}
