package dev.outpost.protocol;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Iterator;
import java.util.Map;
import java.util.Objects;

/**
 * JSON merge patch (RFC 7396) over records, the form of an UPDATE operation's data.
 * Client and server both use these functions, so a patch gives the same record on both.
 */
public final class JsonMergePatch {
    private JsonMergePatch() {
    }

    /**
     * Applies {@code patch} to {@code target} and returns the result; neither argument changes.
     * A field set to null in the patch is removed; an object in the patch merges into an
     * object field; any other value replaces the field.
     *
     * @param target the record's fields, or null for an empty record
     * @param patch the merge patch
     */
    public static ObjectNode apply(ObjectNode target, ObjectNode patch) {
        Objects.requireNonNull(patch, "patch");
        ObjectNode result = target == null ? JsonNodeFactory.instance.objectNode() : target.deepCopy();
        mergeInto(result, patch);
        return result;
    }

    /**
     * The merge patch that turns {@code from} into {@code to}: {@code apply(from, diff(from, to))}
     * equals {@code to}. Both records must be in the form {@link #withoutNulls} gives (no field
     * of any object holds null), because a merge patch cannot set a field to null.
     */
    public static ObjectNode diff(ObjectNode from, ObjectNode to) {
        Objects.requireNonNull(to, "to");
        ObjectNode patch = JsonNodeFactory.instance.objectNode();
        ObjectNode source = from == null ? JsonNodeFactory.instance.objectNode() : from;
        for (Iterator<String> names = source.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!to.has(name)) {
                patch.putNull(name);
            }
        }
        for (Iterator<Map.Entry<String, JsonNode>> fields = to.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            JsonNode old = source.get(field.getKey());
            JsonNode now = field.getValue();
            if (old != null && old.equals(now)) {
                continue;
            }
            if (old instanceof ObjectNode oldObject && now instanceof ObjectNode nowObject) {
                patch.set(field.getKey(), diff(oldObject, nowObject));
            } else {
                patch.set(field.getKey(), now.deepCopy());
            }
        }
        return patch;
    }

    /**
     * One merge patch with the effect of applying {@code first} then {@code second}, or null
     * when no merge patch has that effect: {@code apply(x, compose(a, b))} equals
     * {@code apply(apply(x, a), b)} for every record {@code x} whenever the result is not null.
     *
     * <p>It is null when {@code first} sets a field to a non-object (or removes it) and
     * {@code second} patches that field with an object: applied in turn they replace the
     * field's object, which a single merge patch, merging into the field, cannot say.
     */
    public static ObjectNode compose(ObjectNode first, ObjectNode second) {
        Objects.requireNonNull(first, "first");
        Objects.requireNonNull(second, "second");
        ObjectNode result = first.deepCopy();
        for (Iterator<Map.Entry<String, JsonNode>> fields = second.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            JsonNode before = first.get(field.getKey());
            JsonNode after = field.getValue();
            if (after instanceof ObjectNode afterObject && before != null) {
                if (!(before instanceof ObjectNode beforeObject)) {
                    return null;
                }
                ObjectNode nested = compose(beforeObject, afterObject);
                if (nested == null) {
                    return null;
                }
                result.set(field.getKey(), nested);
            } else {
                result.set(field.getKey(), after.deepCopy());
            }
        }
        return result;
    }

    /**
     * Removes null-valued fields at every depth of objects, the form RFC 7396 gives a record
     * created from a patch, so that a CREATE and an equivalent UPDATE store the same record.
     */
    public static ObjectNode withoutNulls(ObjectNode record) {
        return apply(JsonNodeFactory.instance.objectNode(), record);
    }

    private static void mergeInto(ObjectNode target, ObjectNode patch) {
        for (Iterator<Map.Entry<String, JsonNode>> fields = patch.fields(); fields.hasNext(); ) {
            Map.Entry<String, JsonNode> field = fields.next();
            String name = field.getKey();
            JsonNode value = field.getValue();
            if (value.isNull()) {
                target.remove(name);
            } else if (value instanceof ObjectNode patchObject) {
                JsonNode existing = target.get(name);
                ObjectNode child = existing instanceof ObjectNode existingObject
                        ? existingObject
                        : target.putObject(name);
                mergeInto(child, patchObject);
            } else {
                target.set(name, value.deepCopy());
            }
        }
    }
}
