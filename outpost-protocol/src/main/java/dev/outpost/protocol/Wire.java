package dev.outpost.protocol;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.Map;

/**
 * The JSON form of protocol v1, shared by client and server so both read and write it alike.
 *
 * <p>Readers ignore fields they do not know, so a v1 peer accepts messages that later
 * additions extend. Nesting deeper than {@link #MAX_DEPTH} is refused while parsing.
 */
public final class Wire {
    /** The deepest nesting of objects and arrays any message may have. */
    public static final int MAX_DEPTH = 64;

    /**
     * The deepest nesting a record's data may have (the record object itself is level 1).
     * Messages wrap a record in at most four levels, so every message that carries a record
     * stays within {@link #MAX_DEPTH}.
     */
    public static final int MAX_RECORD_DEPTH = 32;

    private static final ObjectMapper MAPPER = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .disable(SerializationFeature.FAIL_ON_EMPTY_BEANS)
            .disable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();

    static {
        MAPPER.getFactory().setStreamReadConstraints(
                StreamReadConstraints.builder().maxNestingDepth(MAX_DEPTH).build());
    }

    private Wire() {
    }

    /** The configured mapper; do not reconfigure it. */
    public static ObjectMapper mapper() {
        return MAPPER;
    }

    /** Writes a protocol message (or any tree) as compact JSON. */
    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /** Writes a protocol message as UTF-8 JSON bytes. */
    public static byte[] writeBytes(Object value) {
        try {
            return MAPPER.writeValueAsBytes(value);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    /**
     * Reads a protocol message.
     *
     * @throws IOException if the text is not JSON of that message's shape
     */
    public static <T> T read(byte[] json, Class<T> type) throws IOException {
        return MAPPER.readValue(json, type);
    }

    /**
     * Reads a protocol message from a string.
     *
     * @throws IOException if the text is not JSON of that message's shape
     */
    public static <T> T read(String json, Class<T> type) throws IOException {
        return MAPPER.readValue(json, type);
    }

    /** How deeply {@code node} nests: 0 for a scalar, 1 for an object or array of scalars. */
    public static int depth(JsonNode node) {
        if (node == null || !node.isContainerNode()) {
            return 0;
        }
        int deepest = 0;
        for (JsonNode child : node) {
            deepest = Math.max(deepest, depth(child));
        }
        return deepest + 1;
    }

    /**
     * Why JSON written from {@code node} could not be read back by {@link #object} and the other
     * readers here: a string, field name or number longer than the reader's limits (Jackson's
     * {@code StreamReadConstraints}); null if it can be read. The writer has no such limits, so
     * a value built in memory can exceed them.
     */
    public static String unreadable(JsonNode node) {
        StreamReadConstraints limits = MAPPER.getFactory().streamReadConstraints();
        if (node == null) {
            return null;
        }
        if (node.isTextual()) {
            int length = node.textValue().length();
            return length > limits.getMaxStringLength() ? "a string of " + length + " characters (at most "
                    + limits.getMaxStringLength() + " can be read)" : null;
        }
        if (node.isBigInteger() || node.isBigDecimal()) {
            int length = node.asText().length();
            return length > limits.getMaxNumberLength() ? "a number of " + length + " digits (at most "
                    + limits.getMaxNumberLength() + " can be read)" : null;
        }
        if (node.isObject()) {
            for (Map.Entry<String, JsonNode> field : node.properties()) {
                if (field.getKey().length() > limits.getMaxNameLength()) {
                    return "a field name of " + field.getKey().length() + " characters (at most "
                            + limits.getMaxNameLength() + " can be read)";
                }
                String inside = unreadable(field.getValue());
                if (inside != null) {
                    return inside;
                }
            }
        } else if (node.isArray()) {
            for (JsonNode element : node) {
                String inside = unreadable(element);
                if (inside != null) {
                    return inside;
                }
            }
        }
        return null;
    }

    /** Reads any JSON value as a tree. */
    public static JsonNode tree(byte[] json) throws IOException {
        return MAPPER.readTree(json);
    }

    /**
     * Parses a JSON object, as held in a store's column.
     *
     * @throws IllegalArgumentException if the text is not a JSON object
     */
    public static ObjectNode object(String json) {
        try {
            JsonNode node = MAPPER.readTree(json);
            if (node instanceof ObjectNode object) {
                return object;
            }
            throw new IllegalArgumentException("expected a JSON object but got " + node.getNodeType());
        } catch (IOException e) {
            throw new IllegalArgumentException("not valid JSON: " + e.getMessage(), e);
        }
    }
}
