package dev.outpost.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Composition of merge patches, the rule the client's queue coalescing rests on. */
class MergePatchCompositionProperties {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    @Property(tries = 2000)
    void composedPatchHasTheEffectOfBothInTurnWheneverItExists(
            @ForAll("records") ObjectNode record, @ForAll("patches") ObjectNode first, @ForAll("patches") ObjectNode second) {
        ObjectNode composed = JsonMergePatch.compose(first, second);
        if (composed != null) {
            assertThat(JsonMergePatch.apply(record, composed))
                    .isEqualTo(JsonMergePatch.apply(JsonMergePatch.apply(record, first), second));
        }
    }

    @Property(tries = 500)
    void patchesOnDifferentFieldsAlwaysCompose(@ForAll("patches") ObjectNode first, @ForAll("patches") ObjectNode second) {
        ObjectNode renamed = JSON.objectNode();
        second.fields().forEachRemaining(field -> renamed.set("other_" + field.getKey(), field.getValue()));
        assertThat(JsonMergePatch.compose(first, renamed)).isNotNull();
    }

    @Example
    void removingAFieldThenPatchingItWithAnObjectDoesNotCompose() {
        assertThat(JsonMergePatch.compose(Wire.object("{\"a\":null}"), Wire.object("{\"a\":{\"b\":1}}"))).isNull();
        assertThat(JsonMergePatch.compose(Wire.object("{\"a\":5}"), Wire.object("{\"a\":{\"b\":1}}"))).isNull();
    }

    @Example
    void composingNeverChangesItsArguments() {
        ObjectNode first = Wire.object("{\"a\":{\"b\":1},\"c\":null}");
        ObjectNode second = Wire.object("{\"a\":{\"d\":2},\"c\":3}");
        String before = first.toString() + second;
        JsonMergePatch.compose(first, second);
        assertThat(first.toString() + second).isEqualTo(before);
    }

    @Provide
    Arbitrary<ObjectNode> records() {
        return objects(3, false);
    }

    @Provide
    Arbitrary<ObjectNode> patches() {
        return objects(3, true);
    }

    private static Arbitrary<ObjectNode> objects(int depth, boolean withNulls) {
        Arbitrary<JsonNode> value = values(depth - 1, withNulls);
        return Arbitraries.maps(Arbitraries.of("a", "b", "c", "d"), value).ofMaxSize(4).map(fields -> {
            ObjectNode node = JSON.objectNode();
            fields.forEach(node::set);
            return node;
        });
    }

    private static Arbitrary<JsonNode> values(int depth, boolean withNulls) {
        Arbitrary<JsonNode> scalars = Arbitraries.oneOf(
                Arbitraries.integers().between(0, 3).map(JSON::numberNode),
                Arbitraries.of("x", "y").map(JSON::textNode),
                Arbitraries.of(JSON.arrayNode().add(1), JSON.arrayNode()));
        Arbitrary<JsonNode> leaves = withNulls ? Arbitraries.oneOf(scalars, Arbitraries.just(JSON.nullNode())) : scalars;
        if (depth <= 0) {
            return leaves;
        }
        return Arbitraries.oneOf(leaves, objects(depth, withNulls).map(JsonNode.class::cast));
    }
}
