package dev.outpost.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Settles a conflicting op by a {@link ConflictPolicy}: pure functions, so every server node
 * (and a test) settles the same conflict the same way.
 */
public final class ConflictRules {
    private ConflictRules() {
    }

    /** Who prevailed. */
    public enum Winner {
        /** The server's record stands. */
        SERVER,
        /** The op's change was applied (on top of the server's record). */
        CLIENT,
        /** Both sides' changes were combined. */
        MERGED
    }

    /**
     * The settled state of a record.
     *
     * @param winner who prevailed
     * @param data the record's fields after settling; null when deleted
     * @param deleted whether the record is deleted after settling
     */
    public record Settlement(Winner winner, ObjectNode data, boolean deleted) {
    }

    /**
     * Settles a conflicting op.
     *
     * @param policy the collection's policy
     * @param op the op (its type, data and hlc)
     * @param current the server's record now (never null: a conflict needs one)
     * @param base the record as it was at the op's base version, or null if unknown (CREATE, or
     *     history gone); MERGE then treats every field of the op as changed by the client
     * @param counters fields whose values are numbers that both sides' deltas add to
     */
    public static Settlement settle(ConflictPolicy policy, Operation op, ServerRecord current, ServerRecord base,
            Set<String> counters) {
        return settle(policy, op, current, base, counters, Map.of());
    }

    /**
     * Settles a conflicting op, knowing when the server last changed each field.
     *
     * <p>Under MERGE a field changed on both sides goes to the later of the op's HLC and the
     * HLC of the server's change that last set that field. A field missing from
     * {@code fieldTimes} is timed by the server record's HLC, the latest any field can be.
     *
     * @param policy the collection's policy
     * @param op the op (its type, data and hlc)
     * @param current the server's record now (never null: a conflict needs one)
     * @param base the record as it was at the op's base version, or null if unknown
     * @param counters fields whose values are numbers that both sides' deltas add to
     * @param fieldTimes for each field the server changed since {@code base}, the HLC of the
     *     change that last set it; empty or null when unknown
     */
    public static Settlement settle(ConflictPolicy policy, Operation op, ServerRecord current, ServerRecord base,
            Set<String> counters, Map<String, String> fieldTimes) {
        Objects.requireNonNull(policy, "policy");
        Objects.requireNonNull(op, "op");
        Objects.requireNonNull(current, "current");
        return switch (policy) {
            case SERVER_WINS, MANUAL -> server(current);
            case CLIENT_WINS -> client(op, current, base);
            case LAST_WRITE_WINS -> Hlc.compare(op.hlc(), current.hlc()) > 0 ? client(op, current, base) : server(current);
            case MERGE -> merge(op, current, base, counters == null ? Set.of() : counters,
                    fieldTimes == null ? Map.of() : fieldTimes);
        };
    }

    private static Settlement server(ServerRecord current) {
        return new Settlement(Winner.SERVER, current.data(), current.deleted());
    }

    /**
     * The op applied on top of the current record, as if it had been made against it. An update
     * of a record the server deleted brings it back as the device had it: the op's fields on top
     * of the record at the op's base version (the op's fields alone when that is unknown).
     */
    private static Settlement client(Operation op, ServerRecord current, ServerRecord base) {
        return switch (op.type()) {
            case CREATE -> new Settlement(Winner.CLIENT, JsonMergePatch.withoutNulls(op.data()), false);
            case UPDATE -> new Settlement(Winner.CLIENT,
                    JsonMergePatch.apply(current.deleted() ? live(base) : current.data(), op.data()), false);
            case DELETE -> new Settlement(Winner.CLIENT, null, true);
        };
    }

    private static ObjectNode live(ServerRecord record) {
        return record == null || record.deleted() ? null : record.data();
    }

    private static Settlement merge(Operation op, ServerRecord current, ServerRecord base, Set<String> counters,
            Map<String, String> fieldTimes) {
        if (op.type() == OpType.DELETE || current.deleted()) {
            // A delete against an edit has no fields to merge: the later change decides.
            return Hlc.compare(op.hlc(), current.hlc()) > 0 ? client(op, current, base) : server(current);
        }
        ObjectNode baseData = base == null || base.deleted() || base.data() == null
                ? JsonNodeFactory.instance.objectNode() : base.data();
        ObjectNode serverData = current.data() == null ? JsonNodeFactory.instance.objectNode() : current.data();
        ObjectNode clientData = op.type() == OpType.CREATE
                ? JsonMergePatch.withoutNulls(op.data())
                : JsonMergePatch.apply(baseData, op.data());
        Set<String> fields = new LinkedHashSet<>();
        serverData.fieldNames().forEachRemaining(fields::add);
        clientData.fieldNames().forEachRemaining(fields::add);
        baseData.fieldNames().forEachRemaining(fields::add);
        ObjectNode merged = JsonNodeFactory.instance.objectNode();
        for (String field : fields) {
            JsonNode before = baseData.get(field);
            JsonNode theirs = serverData.get(field);
            JsonNode ours = clientData.get(field);
            boolean clientChanged = base == null && op.type() == OpType.UPDATE
                    ? op.data().has(field)
                    : !Objects.equals(before, ours);
            boolean serverChanged = !Objects.equals(before, theirs);
            JsonNode value;
            if (counters.contains(field) && isNumber(theirs) && isNumber(ours)) {
                BigDecimal start = isNumber(before) ? before.decimalValue() : BigDecimal.ZERO;
                value = number(theirs.decimalValue().add(ours.decimalValue().subtract(start)));
            } else if (clientChanged && serverChanged) {
                value = Hlc.compare(op.hlc(), fieldTimes.getOrDefault(field, current.hlc())) > 0 ? ours : theirs;
            } else if (clientChanged) {
                value = ours;
            } else {
                value = theirs;
            }
            if (value != null && !value.isNull()) {
                merged.set(field, value.deepCopy());
            }
        }
        return new Settlement(Winner.MERGED, merged, false);
    }

    private static boolean isNumber(JsonNode node) {
        return node != null && node.isNumber();
    }

    private static JsonNode number(BigDecimal value) {
        BigDecimal stripped = value.stripTrailingZeros();
        if (stripped.scale() <= 0 && stripped.abs().compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) <= 0) {
            return JsonNodeFactory.instance.numberNode(stripped.longValueExact());
        }
        return JsonNodeFactory.instance.numberNode(value);
    }
}
