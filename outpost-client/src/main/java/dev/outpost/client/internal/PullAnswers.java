package dev.outpost.client.internal;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Reads the server's answer to a pull (a {@link dev.outpost.protocol.PullResponse} in JSON)
 * with a streaming parser, taking each record's data as the slice of the answer that holds
 * it: the text is checked to be well-formed JSON, within {@link Wire#MAX_DEPTH}, but no tree
 * is made of it. Fields the protocol does not know are passed over; a field of the wrong type,
 * a change without its collection, record id or version, or an answer without its changes or
 * cursor is refused.
 */
final class PullAnswers {
    private PullAnswers() {
    }

    /**
     * The page in {@code body}.
     *
     * @throws IOException if the body is not a pull answer of protocol v1
     */
    static PulledPage read(byte[] body) throws IOException {
        try (JsonParser json = Wire.mapper().getFactory().createParser(body)) {
            expect(json, json.nextToken(), JsonToken.START_OBJECT, "the answer");
            List<PulledPage.Pulled> changes = null;
            String cursor = null;
            boolean hasMore = false;
            long remaining = -1;
            while (json.nextToken() == JsonToken.FIELD_NAME) {
                String field = json.currentName();
                JsonToken value = json.nextToken();
                switch (field) {
                    case "changes" -> {
                        expect(json, value, JsonToken.START_ARRAY, "changes");
                        changes = new ArrayList<>();
                        while (json.nextToken() != JsonToken.END_ARRAY) {
                            changes.add(change(json, body));
                        }
                    }
                    case "cursor" -> cursor = text(json, value, "cursor");
                    case "hasMore" -> hasMore = bool(json, value, "hasMore");
                    case "remaining" -> {
                        expect(json, value, JsonToken.VALUE_NUMBER_INT, "remaining");
                        remaining = json.getLongValue();
                        if (remaining < 0) {
                            throw new IOException("remaining must not be negative but is " + remaining + ", at " + at(json));
                        }
                    }
                    default -> json.skipChildren();
                }
            }
            if (json.nextToken() != null) {
                throw new IOException("the answer goes on after its end, at " + at(json));
            }
            if (changes == null || cursor == null) {
                throw new IOException("the answer has no " + (changes == null ? "changes" : "cursor"));
            }
            return new PulledPage(changes, cursor, hasMore, remaining);
        }
    }

    private static PulledPage.Pulled change(JsonParser json, byte[] body) throws IOException {
        expect(json, json.currentToken(), JsonToken.START_OBJECT, "a change");
        String collection = null;
        String recordId = null;
        Long version = null;
        boolean deleted = false;
        String data = null;
        String hlc = null;
        Change.Origin origin = null;
        String scope = null;
        while (json.nextToken() == JsonToken.FIELD_NAME) {
            String field = json.currentName();
            JsonToken value = json.nextToken();
            switch (field) {
                case "collection" -> collection = text(json, value, field);
                case "recordId" -> recordId = text(json, value, field);
                case "version" -> {
                    expect(json, value, JsonToken.VALUE_NUMBER_INT, field);
                    version = json.getLongValue();
                }
                case "deleted" -> deleted = bool(json, value, field);
                case "data" -> data = object(json, value, body);
                case "hlc" -> hlc = text(json, value, field);
                case "origin" -> origin = origin(json, value);
                case "scope" -> scope = text(json, value, field);
                default -> json.skipChildren();
            }
        }
        if (collection == null || recordId == null || version == null) {
            throw new IOException("a change has no " + (collection == null ? "collection" : recordId == null ? "recordId" : "version")
                    + ", at " + at(json));
        }
        return new PulledPage.Pulled(collection, recordId, version, deleted, data, hlc, origin, scope);
    }

    /** A JSON object's text, as the answer holds it (well-formed, not parsed into a tree); null for null. */
    private static String object(JsonParser json, JsonToken value, byte[] body) throws IOException {
        if (value == JsonToken.VALUE_NULL) {
            return null;
        }
        expect(json, value, JsonToken.START_OBJECT, "data");
        long start = json.currentTokenLocation().getByteOffset();
        json.skipChildren();
        long end = json.currentTokenLocation().getByteOffset() + 1;
        if (start < 0 || end > body.length || end <= start) {
            throw new IOException("cannot find the bytes of a record's data, at " + at(json));
        }
        return new String(body, (int) start, (int) (end - start), StandardCharsets.UTF_8);
    }

    private static Change.Origin origin(JsonParser json, JsonToken value) throws IOException {
        if (value == JsonToken.VALUE_NULL) {
            return null;
        }
        expect(json, value, JsonToken.START_OBJECT, "origin");
        String deviceId = null;
        String opId = null;
        while (json.nextToken() == JsonToken.FIELD_NAME) {
            String field = json.currentName();
            JsonToken token = json.nextToken();
            switch (field) {
                case "deviceId" -> deviceId = text(json, token, field);
                case "opId" -> opId = text(json, token, field);
                default -> json.skipChildren();
            }
        }
        return new Change.Origin(deviceId, opId);
    }

    private static String text(JsonParser json, JsonToken value, String field) throws IOException {
        if (value == JsonToken.VALUE_NULL) {
            return null;
        }
        expect(json, value, JsonToken.VALUE_STRING, field);
        return json.getText();
    }

    private static boolean bool(JsonParser json, JsonToken value, String field) throws IOException {
        if (value != JsonToken.VALUE_TRUE && value != JsonToken.VALUE_FALSE) {
            throw new IOException(field + " must be true or false but is " + describe(value) + ", at " + at(json));
        }
        return value == JsonToken.VALUE_TRUE;
    }

    private static void expect(JsonParser json, JsonToken actual, JsonToken expected, String what) throws IOException {
        if (actual != expected) {
            throw new IOException(what + " must be " + describe(expected) + " but is " + describe(actual) + ", at " + at(json));
        }
    }

    private static String describe(JsonToken token) {
        if (token == null) {
            return "missing";
        }
        return switch (token) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "a string";
            case VALUE_NUMBER_INT -> "a whole number";
            case VALUE_NUMBER_FLOAT -> "a number with a fraction";
            case VALUE_TRUE, VALUE_FALSE -> "true or false";
            case VALUE_NULL -> "null";
            default -> token.asString() == null ? token.name() : "'" + token.asString() + "'";
        };
    }

    private static String at(JsonParser json) {
        return "byte " + json.currentTokenLocation().getByteOffset();
    }
}
