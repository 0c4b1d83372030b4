package dev.outpost.client;

import dev.outpost.protocol.Names;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * A query of the local view: one collection's live records, filtered by their fields, sorted
 * and paged. Immutable: each method returns a new query. Served by the device's store, so it
 * answers offline.
 *
 * <pre>{@code
 * List<LocalRecord> page = outpost.query(Query.in("tasks")
 *         .where("done", Query.Op.EQ, false)
 *         .where("priority", Query.Op.GE, 2)
 *         .orderByDescending("due")
 *         .limit(20).offset(40));
 * }</pre>
 *
 * <p>Fields are top-level names or dotted paths into nested objects ({@code address.city}).
 * Comparisons follow SQLite's: numbers order before text, and a record without the field (or
 * with null) matches only {@code EQ null} / {@code NE} with a value. Sorting by a field puts
 * records without it first (last when descending); ties go by id. Fields marked sensitive are
 * sealed in the store and cannot be filtered or sorted on.
 */
public final class Query {
    private static final Pattern FIELD = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*");
    /** The most records one query returns. */
    public static final int MAX_LIMIT = 10_000;

    /** A comparison. */
    public enum Op {
        EQ("="), NE("<>"), LT("<"), LE("<="), GT(">"), GE(">=");

        private final String sql;

        Op(String sql) {
            this.sql = sql;
        }

        /** The SQL operator. */
        public String sql() {
            return sql;
        }
    }

    /** One condition: {@code field op value}. */
    public record Condition(String field, Op op, Object value) {
    }

    /** One sort key. */
    public record Order(String field, boolean descending) {
    }

    private final String collection;
    private final List<Condition> conditions;
    private final List<Order> orders;
    private final int limit;
    private final int offset;

    private Query(String collection, List<Condition> conditions, List<Order> orders, int limit, int offset) {
        this.collection = collection;
        this.conditions = List.copyOf(conditions);
        this.orders = List.copyOf(orders);
        this.limit = limit;
        this.offset = offset;
    }

    /**
     * Every live record of {@code collection}, ordered by id, at most {@link #MAX_LIMIT}.
     *
     * @throws IllegalArgumentException if the collection name is not valid
     */
    public static Query in(String collection) {
        if (!Names.isValidCollection(collection)) {
            throw new IllegalArgumentException("collection '" + collection + "' is not valid: " + Names.collectionRule());
        }
        return new Query(collection, List.of(), List.of(), MAX_LIMIT, 0);
    }

    /**
     * Only records whose {@code field} compares so with {@code value}: a String, a Number, a
     * Boolean, or null (with EQ: the field is absent or null; with NE: it is present).
     *
     * @throws IllegalArgumentException if the field is not a name or dotted path, or the value
     *     is of another type, or null is compared with an order operator
     */
    public Query where(String field, Op op, Object value) {
        checkField(field);
        Objects.requireNonNull(op, "op");
        if (value != null && !(value instanceof String) && !(value instanceof Number) && !(value instanceof Boolean)) {
            throw new IllegalArgumentException("a query compares with a String, Number, Boolean or null, not "
                    + value.getClass().getSimpleName());
        }
        if (value == null && op != Op.EQ && op != Op.NE) {
            throw new IllegalArgumentException("null can only be compared with EQ or NE, not " + op);
        }
        List<Condition> more = new ArrayList<>(conditions);
        more.add(new Condition(field, op, value));
        return new Query(collection, more, orders, limit, offset);
    }

    /** Sorts by {@code field}, ascending; call again for further keys. */
    public Query orderBy(String field) {
        return order(field, false);
    }

    /** Sorts by {@code field}, descending; call again for further keys. */
    public Query orderByDescending(String field) {
        return order(field, true);
    }

    private Query order(String field, boolean descending) {
        checkField(field);
        List<Order> more = new ArrayList<>(orders);
        more.add(new Order(field, descending));
        return new Query(collection, conditions, more, limit, offset);
    }

    /** At most {@code limit} records, 1 to {@link #MAX_LIMIT}. */
    public Query limit(int limit) {
        if (limit < 1 || limit > MAX_LIMIT) {
            throw new IllegalArgumentException("limit must be from 1 to " + MAX_LIMIT + ", got " + limit);
        }
        return new Query(collection, conditions, orders, limit, offset);
    }

    /** Skips the first {@code offset} matching records (0 or more). */
    public Query offset(int offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset must not be negative, got " + offset);
        }
        return new Query(collection, conditions, orders, limit, offset);
    }

    public String collection() {
        return collection;
    }

    public List<Condition> conditions() {
        return conditions;
    }

    public List<Order> orders() {
        return orders;
    }

    public int limit() {
        return limit;
    }

    public int offset() {
        return offset;
    }

    private static void checkField(String field) {
        if (field == null || field.length() > 200 || !FIELD.matcher(field).matches()) {
            throw new IllegalArgumentException("field '" + field + "' is not valid: a name of letters, digits and '_' "
                    + "(not starting with a digit), or such names joined by '.' for nested fields");
        }
    }

    @Override
    public String toString() {
        return "Query[" + collection + ", where " + conditions + ", order " + orders + ", limit " + limit + ", offset " + offset + "]";
    }
}
