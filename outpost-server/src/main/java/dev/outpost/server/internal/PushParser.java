package dev.outpost.server.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Hlc;
import dev.outpost.protocol.JsonMergePatch;
import dev.outpost.protocol.Names;
import dev.outpost.protocol.OpResult;
import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import dev.outpost.protocol.Priority;
import dev.outpost.protocol.Wire;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks a push body. Faults of the envelope (not an object, no device id, no ops array, an
 * op without an id) refuse the whole request; faults inside one op reject only that op, so
 * one bad op never blocks the ops behind it.
 */
final class PushParser {

    private final Limits limits;

    PushParser(Limits limits) {
        this.limits = limits;
    }

    /**
     * A checked op: either {@code op} or {@code rejection} is set. {@code dataJson} is the op's
     * data as JSON text (null for a DELETE or a rejection), written once for the size check and
     * stored as is when a CREATE makes it the record.
     */
    record Parsed(String opId, Operation op, OpResult rejection, String dataJson) {
        Parsed(String opId, Operation op, OpResult rejection) {
            this(opId, op, rejection, null);
        }
    }

    record Push(String deviceId, List<Parsed> ops) {
    }

    Push parse(JsonNode body) {
        if (!(body instanceof ObjectNode root)) {
            throw ApiException.badRequest("the push body must be a JSON object with deviceId and ops");
        }
        String deviceId = requiredId(root.get("deviceId"), "deviceId");
        JsonNode ops = root.get("ops");
        if (ops == null || !ops.isArray()) {
            throw ApiException.badRequest("ops is required and must be an array of operations");
        }
        if (ops.size() > limits.maxOpsPerPush()) {
            throw new ApiException(413, "TOO_MANY_OPS", "a push may carry at most " + limits.maxOpsPerPush()
                    + " ops; this one has " + ops.size() + ". Send them in smaller batches");
        }
        List<Parsed> parsed = new ArrayList<>(ops.size());
        for (int i = 0; i < ops.size(); i++) {
            JsonNode op = ops.get(i);
            if (!op.isObject()) {
                throw ApiException.badRequest("ops[" + i + "] must be an object");
            }
            String opId = requiredId(op.get("opId"), "ops[" + i + "].opId");
            parsed.add(parseOp(i, opId, (ObjectNode) op));
        }
        return new Push(deviceId, parsed);
    }

    /**
     * Fields of a record's state that only the server sets: its version, owner, scope grant,
     * place in the change log and server times. An op that carries one is rejected, so a
     * client that thinks it sets them learns that it does not.
     */
    static final List<String> SERVER_OWNED = List.of("version", "owner", "userId", "user", "seq", "origin", "deleted",
            "committedAt", "receivedAt", "completedAt", "createdAt", "updatedAt", "serverTime");

    private Parsed parseOp(int index, String opId, ObjectNode op) {
        String where = "ops[" + index + "]";
        for (String field : SERVER_OWNED) {
            if (op.has(field)) {
                return reject(opId, "SERVER_OWNED_FIELD", where + "." + field + " is set by the server, never by a device;"
                        + " send the record's fields in data and the version it was read at in baseVersion");
            }
        }
        String collection = text(op.get("collection"));
        if (!Names.isValidCollection(collection)) {
            return reject(opId, "INVALID_OP", where + ".collection must be " + Names.collectionRule()
                    + " (got " + shown(op.get("collection")) + ")");
        }
        String recordId = text(op.get("recordId"));
        if (!Names.isValidId(recordId)) {
            return reject(opId, "INVALID_OP", where + ".recordId must be " + Names.idRule()
                    + " (got " + shown(op.get("recordId")) + ")");
        }
        String typeText = text(op.get("type"));
        OpType type;
        try {
            type = typeText == null ? null : OpType.valueOf(typeText);
        } catch (IllegalArgumentException e) {
            type = null;
        }
        if (type == null) {
            return reject(opId, "UNKNOWN_OP_TYPE", where + ".type must be CREATE, UPDATE or DELETE (got "
                    + shown(op.get("type")) + ")");
        }
        JsonNode base = op.get("baseVersion");
        Long baseVersion = null;
        if (type != OpType.CREATE) {
            if (base == null || !base.isIntegralNumber() || !base.canConvertToLong() || base.asLong() < 0) {
                return reject(opId, "INVALID_OP", where + ".baseVersion must be the record version the "
                        + type + " was made against, a whole number >= 0 (got " + shown(base) + ")");
            }
            baseVersion = base.asLong();
        }
        JsonNode dataNode = op.get("data");
        ObjectNode data = null;
        String dataJson = null;
        if (type == OpType.DELETE) {
            if (dataNode != null && !dataNode.isNull()) {
                return reject(opId, "INVALID_OP", where + ".data must be absent for DELETE");
            }
        } else {
            if (!(dataNode instanceof ObjectNode object)) {
                return reject(opId, "INVALID_OP", where + ".data must be a JSON object for " + type
                        + (type == OpType.UPDATE ? " (a merge patch)" : " (the record)") + " (got " + shown(dataNode) + ")");
            }
            int depth = Wire.depth(object);
            if (depth > limits.maxRecordDepth()) {
                return reject(opId, "RECORD_TOO_DEEP", where + ".data nests " + depth
                        + " levels; a record may nest at most " + limits.maxRecordDepth());
            }
            data = type == OpType.CREATE ? JsonMergePatch.withoutNulls(object) : object;
            dataJson = Wire.write(data);
            int size = dataJson.getBytes(StandardCharsets.UTF_8).length;
            if (size > limits.maxRecordBytes()) {
                return reject(opId, "RECORD_TOO_LARGE", where + ".data is " + size + " bytes; a record may be at most "
                        + limits.maxRecordBytes() + " bytes");
            }
        }
        String hlc = text(op.get("hlc"));
        if (!Hlc.isValid(hlc)) {
            return reject(opId, "INVALID_OP", where + ".hlc must be a hybrid logical clock timestamp"
                    + " such as 1700000000000-00000-device1 (got " + shown(op.get("hlc")) + ")");
        }
        Priority priority = Priority.NORMAL;
        JsonNode priorityNode = op.get("priority");
        if (priorityNode != null && !priorityNode.isNull()) {
            try {
                priority = priorityNode.isTextual() ? Priority.valueOf(priorityNode.asText()) : null;
            } catch (IllegalArgumentException e) {
                priority = null;
            }
            if (priority == null) {
                return reject(opId, "INVALID_OP", where + ".priority must be LOW, NORMAL, HIGH or CRITICAL (got "
                        + shown(priorityNode) + ")");
            }
        }
        JsonNode scopeNode = op.get("scope");
        String scope = null;
        if (scopeNode != null && !scopeNode.isNull()) {
            scope = text(scopeNode);
            if (!Names.isValidCollection(scope)) {
                return reject(opId, "INVALID_OP", where + ".scope must be the name of a shared scope the token grants, "
                        + Names.collectionRule() + ", or absent for the user's own records (got " + shown(scopeNode) + ")");
            }
        }
        return new Parsed(opId, new Operation(opId, collection, recordId, type, baseVersion, data, hlc, priority, scope), null,
                dataJson);
    }

    private static Parsed reject(String opId, String code, String message) {
        return new Parsed(opId, null, OpResult.rejected(opId, code, message));
    }

    private static String requiredId(JsonNode node, String field) {
        String value = text(node);
        if (!Names.isValidId(value)) {
            throw ApiException.badRequest(field + " is required: " + Names.idRule() + " (got " + shown(node) + ")");
        }
        return value;
    }

    private static String text(JsonNode node) {
        return node != null && node.isTextual() ? node.asText() : null;
    }

    private static String shown(JsonNode node) {
        if (node == null) {
            return "nothing";
        }
        String text = node.toString();
        return text.length() > 40 ? text.substring(0, 40) + "..." : text;
    }
}
