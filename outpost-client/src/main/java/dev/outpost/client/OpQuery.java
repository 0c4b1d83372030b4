package dev.outpost.client;

import dev.outpost.protocol.Priority;
import java.time.Instant;
import java.util.EnumSet;
import java.util.Objects;
import java.util.Set;

/**
 * Which ops {@link Outpost#ops(OpQuery)} lists: filters, order and page. Immutable; made by
 * {@link #builder()}, whose setters check their values at once.
 *
 * <pre>{@code
 * List<OpInfo> stuck = outpost.ops(OpQuery.builder().states(OpState.PENDING)
 *         .createdBefore(Instant.now().minus(Duration.ofHours(1))).limit(20).build());
 * }</pre>
 */
public final class OpQuery {
    /** The order of the listing. */
    public enum Order {
        /** Oldest written first (the queue's own order). */
        OLDEST_FIRST,
        /** Newest written first. */
        NEWEST_FIRST,
        /** Highest priority first, then oldest first. */
        PRIORITY
    }

    private final Set<OpState> states;
    private final Priority priority;
    private final String collection;
    private final String recordId;
    private final Instant createdBefore;
    private final Instant createdAfter;
    private final Order order;
    private final int offset;
    private final int limit;

    private OpQuery(Builder builder) {
        this.states = builder.states.isEmpty() ? EnumSet.allOf(OpState.class) : EnumSet.copyOf(builder.states);
        this.priority = builder.priority;
        this.collection = builder.collection;
        this.recordId = builder.recordId;
        this.createdBefore = builder.createdBefore;
        this.createdAfter = builder.createdAfter;
        this.order = builder.order;
        this.offset = builder.offset;
        this.limit = builder.limit;
    }

    /** A builder listing every op, oldest first, 100 at a time. */
    public static Builder builder() {
        return new Builder();
    }

    public Set<OpState> states() {
        return EnumSet.copyOf(states);
    }

    public Priority priority() {
        return priority;
    }

    public String collection() {
        return collection;
    }

    public String recordId() {
        return recordId;
    }

    public Instant createdBefore() {
        return createdBefore;
    }

    public Instant createdAfter() {
        return createdAfter;
    }

    public Order order() {
        return order;
    }

    public int offset() {
        return offset;
    }

    public int limit() {
        return limit;
    }

    /** Builds an {@link OpQuery}. */
    public static final class Builder {
        private final Set<OpState> states = EnumSet.noneOf(OpState.class);
        private Priority priority;
        private String collection;
        private String recordId;
        private Instant createdBefore;
        private Instant createdAfter;
        private Order order = Order.OLDEST_FIRST;
        private int offset;
        private int limit = 100;

        private Builder() {
        }

        /** Only ops in these states (default: all). */
        public Builder states(OpState... states) {
            for (OpState state : states) {
                this.states.add(Objects.requireNonNull(state, "state"));
            }
            return this;
        }

        /** Only ops of this priority. */
        public Builder priority(Priority priority) {
            this.priority = Objects.requireNonNull(priority, "priority");
            return this;
        }

        /** Only ops of this collection. */
        public Builder collection(String collection) {
            this.collection = Objects.requireNonNull(collection, "collection");
            return this;
        }

        /** Only ops of this record (with {@link #collection}). */
        public Builder record(String collection, String recordId) {
            this.collection = Objects.requireNonNull(collection, "collection");
            this.recordId = Objects.requireNonNull(recordId, "recordId");
            return this;
        }

        /** Only ops written before this instant (older ones). */
        public Builder createdBefore(Instant instant) {
            this.createdBefore = Objects.requireNonNull(instant, "createdBefore");
            return this;
        }

        /** Only ops written after this instant (newer ones). */
        public Builder createdAfter(Instant instant) {
            this.createdAfter = Objects.requireNonNull(instant, "createdAfter");
            return this;
        }

        /** The order; default oldest first. */
        public Builder order(Order order) {
            this.order = Objects.requireNonNull(order, "order");
            return this;
        }

        /** Ops to skip before the page, at least 0; default 0. */
        public Builder offset(int offset) {
            if (offset < 0) {
                throw new IllegalArgumentException("offset must be at least 0, got " + offset);
            }
            this.offset = offset;
            return this;
        }

        /** Ops per page, 1 to 1000; default 100. */
        public Builder limit(int limit) {
            if (limit < 1 || limit > 1000) {
                throw new IllegalArgumentException("limit must be from 1 to 1000, got " + limit);
            }
            this.limit = limit;
            return this;
        }

        public OpQuery build() {
            return new OpQuery(this);
        }
    }
}
