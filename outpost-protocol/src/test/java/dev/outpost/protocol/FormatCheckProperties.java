package dev.outpost.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.regex.Pattern;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;

/**
 * The hand-written checks of timestamps and collection names accept exactly what their
 * documented patterns accept, and timestamps are written in the documented widths.
 */
class FormatCheckProperties {
    private static final Pattern TIMESTAMP = Pattern.compile("\\d{13}-\\d{5}-(.+)", Pattern.DOTALL);
    private static final Pattern COLLECTION = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}");

    @Property(tries = 2000)
    void aTimestampIsValidExactlyWhenItMatchesTheDocumentedPattern(@ForAll("nearTimestamps") String value) {
        var matcher = TIMESTAMP.matcher(value);
        boolean expected = matcher.matches() && Names.isValidId(matcher.group(1));
        assertThat(Hlc.isValid(value)).as("'%s'", value).isEqualTo(expected);
    }

    @Property(tries = 2000)
    void aCollectionNameIsValidExactlyWhenItMatchesTheDocumentedPattern(@ForAll("nearNames") String name) {
        assertThat(Names.isValidCollection(name)).as("'%s'", name).isEqualTo(COLLECTION.matcher(name).matches());
    }

    @Property(tries = 500)
    void aTimestampIsWrittenWithThirteenDigitsOfMillisAndFiveOfCounter(
            @ForAll @LongRange(min = 1, max = 9_999_999_999_999L) long millis,
            @ForAll @IntRange(min = 0, max = 99_999) int counter) {
        Hlc clock = Hlc.create("node-1", () -> 0L, String.format("%013d-%05d-x", millis, counter));
        assertThat(clock.last()).isEqualTo(String.format("%013d-%05d-%s", millis, counter, "node-1"));
    }

    /** Strings mostly shaped like timestamps, with digits, separators and odd characters mixed in. */
    @Provide
    Arbitrary<String> nearTimestamps() {
        Arbitrary<String> digits = Arbitraries.strings().withChars("0123456789").ofMinLength(11).ofMaxLength(15);
        Arbitrary<String> counter = Arbitraries.strings().withChars("0123456789x").ofMinLength(4).ofMaxLength(6);
        Arbitrary<String> separator = Arbitraries.of("-", "-", "-", ":", "", "--");
        Arbitrary<String> node = Arbitraries.strings().withChars("ab-1 \n\u0000\u2028").ofMinLength(0).ofMaxLength(4);
        Arbitrary<String> shaped = net.jqwik.api.Combinators.combine(digits, separator, counter, separator, node)
                .as((a, b, c, d, e) -> a + b + c + d + e);
        return Arbitraries.oneOf(shaped, Arbitraries.strings().ofMaxLength(30));
    }

    /** Strings mostly of the characters a name may hold, some too long, some with others. */
    @Provide
    Arbitrary<String> nearNames() {
        Arbitrary<String> allowed = Arbitraries.strings().withChars("aZ09_.-").ofMinLength(0).ofMaxLength(70);
        Arbitrary<String> mixed = Arbitraries.strings().withChars("aZ09_.- /\u00e9\n").ofMinLength(0).ofMaxLength(8);
        return Arbitraries.oneOf(allowed, mixed, Arbitraries.strings().ofMaxLength(10));
    }
}
