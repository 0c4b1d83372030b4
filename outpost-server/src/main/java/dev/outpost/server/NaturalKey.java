package dev.outpost.server;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A collection's natural key: fields that identify a record apart from its id, some matched
 * exactly and some (numbers) within a tolerance. A CREATE whose fields match a live record of
 * the same user is answered DUPLICATE with that record, so two devices logging the same event
 * make one record. The seeds' call log: line, number and direction exact; start time and
 * duration within one second.
 *
 * <pre>{@code
 * NaturalKey calls = NaturalKey.builder().exact("lineId", "number", "direction")
 *         .within("startedAt", 1000).within("durationSeconds", 1).build();
 * }</pre>
 */
public final class NaturalKey {
    private final Set<String> exact;
    private final Map<String, Double> within;

    private NaturalKey(Builder builder) {
        this.exact = Set.copyOf(builder.exact);
        this.within = Map.copyOf(builder.within);
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Fields whose values must be equal. */
    public Set<String> exact() {
        return exact;
    }

    /** Number fields and how far apart their values may be. */
    public Map<String, Double> within() {
        return within;
    }

    /** Builds a {@link NaturalKey}; at least one field is required. */
    public static final class Builder {
        private final Set<String> exact = new LinkedHashSet<>();
        private final Map<String, Double> within = new LinkedHashMap<>();

        private Builder() {
        }

        /** Fields that must be equal (top-level field names). */
        public Builder exact(String... fields) {
            for (String field : fields) {
                exact.add(checked(field));
            }
            return this;
        }

        /** A number field whose values may differ by at most {@code tolerance} (at least 0). */
        public Builder within(String field, double tolerance) {
            if (!(tolerance >= 0) || Double.isInfinite(tolerance)) {
                throw new IllegalArgumentException("tolerance of " + field + " must be a finite number >= 0, got " + tolerance);
            }
            within.put(checked(field), tolerance);
            return this;
        }

        public NaturalKey build() {
            if (exact.isEmpty() && within.isEmpty()) {
                throw new IllegalStateException("a natural key needs at least one field");
            }
            return new NaturalKey(this);
        }

        private static String checked(String field) {
            Objects.requireNonNull(field, "field");
            if (!field.matches("[A-Za-z0-9_]{1,64}")) {
                throw new IllegalArgumentException("natural key field '" + field + "' must be 1 to 64 letters, digits or '_'");
            }
            return field;
        }
    }
}
