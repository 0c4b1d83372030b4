package dev.outpost.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The v1 JSON form of the protocol messages. */
class WireTest {
    private static final String HLC_1 = "1700000000000-00000-device-1";
    private static final String HLC_2 = "1700000000001-00003-device-2";

    private static ObjectNode json(String text) {
        return Wire.object(text.replace('\'', '"'));
    }

    private static JsonNode tree(String text) throws IOException {
        return Wire.tree(text.getBytes(StandardCharsets.UTF_8));
    }

    private static Operation create() {
        return new Operation("op-1", "notes", "rec-1", OpType.CREATE, null,
                json("{'title':'Hello','tags':['a','b'],'meta':{'n':1,'ok':true,'x':1.5}}"), HLC_1, Priority.HIGH);
    }

    private static Operation update() {
        return new Operation("op-2", "notes", "rec-1", OpType.UPDATE, 1L,
                json("{'title':'Bye','meta':{'n':null}}"), HLC_2, Priority.NORMAL);
    }

    private static Operation delete() {
        return new Operation("op-3", "notes", "rec-1", OpType.DELETE, 2L, null, HLC_2, null);
    }

    private static ServerRecord serverRecord() {
        return new ServerRecord("notes", "rec-1", 7, false, json("{'title':'Server'}"), HLC_2);
    }

    private static ServerRecord tombstone() {
        return new ServerRecord("notes", "rec-2", 3, true, null, HLC_1);
    }

    private static PushRequest pushRequest() {
        return new PushRequest("device-1", List.of(create(), update(), delete()));
    }

    private static PushResponse pushResponse() {
        return new PushResponse(List.of(
                OpResult.applied("op-1", 1),
                OpResult.conflict("op-2", serverRecord()),
                OpResult.rejected("op-3", "INVALID_COLLECTION", "collection '' is not valid"),
                new OpResult("op-4", OpStatus.MERGED, 8L, serverRecord(), null),
                OpResult.conflict("op-5", tombstone()).asDuplicate()));
    }

    private static PullResponse pullResponse() {
        return new PullResponse(List.of(
                new Change("notes", "rec-1", 7, false, json("{'title':'Server','n':[1,{'k':null}]}"), HLC_2,
                        new Change.Origin("device-2", "op-9")),
                new Change("notes", "rec-2", 3, true, null, HLC_1, new Change.Origin("device-1", "op-3")),
                new Change("todos", "t-1", 1, false, json("{}"), HLC_1, null)),
                "Y3Vyc29yOjQy", true);
    }

    static Stream<Arguments> messages() {
        return Stream.of(
                Arguments.of(pushRequest(), PushRequest.class),
                Arguments.of(new PushRequest("device-1", List.of()), PushRequest.class),
                Arguments.of(create(), Operation.class),
                Arguments.of(update(), Operation.class),
                Arguments.of(delete(), Operation.class),
                Arguments.of(pushResponse(), PushResponse.class),
                Arguments.of(OpResult.applied("op-1", 1), OpResult.class),
                Arguments.of(pullResponse(), PullResponse.class),
                Arguments.of(new PullResponse(List.of(), "Y3Vyc29yOjA", false), PullResponse.class),
                Arguments.of(new Change("notes", "rec-1", 7, false, json("{'a':1}"), HLC_1,
                        new Change.Origin("device-1", "op-1")), Change.class),
                Arguments.of(new ErrorBody("MALFORMED_JSON", "body is not JSON"), ErrorBody.class),
                Arguments.of(serverRecord(), ServerRecord.class),
                Arguments.of(tombstone(), ServerRecord.class));
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("messages")
    void messageSurvivesARoundTripAsText(Object message, Class<?> type) throws IOException {
        assertThat(Wire.read(Wire.write(message), type)).isEqualTo(message);
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("messages")
    void messageSurvivesARoundTripAsBytes(Object message, Class<?> type) throws IOException {
        byte[] bytes = Wire.writeBytes(message);

        assertThat(new String(bytes, StandardCharsets.UTF_8)).isEqualTo(Wire.write(message));
        assertThat(Wire.read(bytes, type)).isEqualTo(message);
    }

    @Test
    void nonAsciiTextSurvivesARoundTrip() throws IOException {
        Operation op = new Operation("op-ü", "notes", "rec-日本", OpType.CREATE, null,
                json("{'title':'Grüße 👋','quote':'\\\\ \\\" \\n'}"), HLC_1, Priority.LOW);

        assertThat(Wire.read(Wire.writeBytes(op), Operation.class)).isEqualTo(op);
    }

    @Test
    void pushRequestUsesTheProtocolFieldNames() throws IOException {
        String text = Wire.write(new PushRequest("device-1", List.of(update())));

        assertThat(text).contains("\"deviceId\":", "\"ops\":", "\"opId\":", "\"collection\":", "\"recordId\":",
                "\"type\":", "\"baseVersion\":", "\"data\":", "\"hlc\":", "\"priority\":");
        assertThat(tree(text)).isEqualTo(json("{'deviceId':'device-1','ops':[{'opId':'op-2','collection':'notes',"
                + "'recordId':'rec-1','type':'UPDATE','baseVersion':1,'data':{'title':'Bye','meta':{'n':null}},"
                + "'hlc':'" + HLC_2 + "','priority':'NORMAL'}]}"));
    }

    @Test
    void pushResponseUsesTheProtocolFieldNames() throws IOException {
        String text = Wire.write(new PushResponse(List.of(
                OpResult.conflict("op-2", serverRecord()),
                OpResult.rejected("op-3", "INVALID_COLLECTION", "collection '' is not valid"))));

        assertThat(text).contains("\"results\":", "\"opId\":", "\"status\":", "\"version\":", "\"record\":",
                "\"error\":", "\"code\":", "\"message\":");
        assertThat(tree(text)).isEqualTo(json("{'results':["
                + "{'opId':'op-2','status':'CONFLICT','version':7,'record':{'collection':'notes','recordId':'rec-1',"
                + "'version':7,'deleted':false,'data':{'title':'Server'},'hlc':'" + HLC_2 + "'}},"
                + "{'opId':'op-3','status':'REJECTED','error':{'code':'INVALID_COLLECTION',"
                + "'message':'collection \\u0027\\u0027 is not valid'}}]}"));
    }

    @Test
    void pullResponseUsesTheProtocolFieldNames() throws IOException {
        String text = Wire.write(new PullResponse(List.of(
                new Change("notes", "rec-1", 7, false, json("{'a':1}"), HLC_2, new Change.Origin("device-2", "op-9"))),
                "Y3Vyc29yOjQy", true));

        assertThat(text).contains("\"changes\":", "\"collection\":", "\"recordId\":", "\"version\":", "\"data\":",
                "\"hlc\":", "\"origin\":", "\"deviceId\":", "\"opId\":", "\"cursor\":", "\"hasMore\":");
        assertThat(tree(text)).isEqualTo(json("{'changes':[{'collection':'notes','recordId':'rec-1','version':7,"
                + "'deleted':false,'data':{'a':1},'hlc':'" + HLC_2 + "','origin':{'deviceId':'device-2','opId':'op-9'}}],"
                + "'cursor':'Y3Vyc29yOjQy','hasMore':true}"));
    }

    @Test
    void errorBodyUsesTheProtocolFieldNames() {
        assertThat(Wire.write(new ErrorBody("MALFORMED_JSON", "body is not JSON")))
                .isEqualTo("{\"code\":\"MALFORMED_JSON\",\"message\":\"body is not JSON\"}");
    }

    @Test
    void enumsAreWrittenByName() throws IOException {
        for (OpType type : OpType.values()) {
            Operation op = new Operation("op", "c", "r", type, null, null, HLC_1, null);
            assertThat(tree(Wire.write(op)).get("type").textValue()).isEqualTo(type.name());
        }
        for (Priority priority : Priority.values()) {
            Operation op = new Operation("op", "c", "r", OpType.DELETE, null, null, HLC_1, priority);
            assertThat(tree(Wire.write(op)).get("priority").textValue()).isEqualTo(priority.name());
        }
        for (OpStatus status : OpStatus.values()) {
            OpResult result = new OpResult("op", status, null, null, null);
            assertThat(tree(Wire.write(result)).get("status").textValue()).isEqualTo(status.name());
        }
    }

    @Test
    void nullFieldsOfAnOperationAreOmitted() throws IOException {
        Operation op = new Operation("op-1", "notes", "rec-1", OpType.DELETE, null, null, HLC_1, null);

        String text = Wire.write(op);

        assertThat(text).doesNotContain("null", "baseVersion", "data", "priority");
        assertThat(fieldNames(tree(text))).containsExactlyInAnyOrder("opId", "collection", "recordId", "type", "hlc");
    }

    @Test
    void nullFieldsOfOpResultsAreOmitted() throws IOException {
        String applied = Wire.write(OpResult.applied("op-1", 4));
        String rejected = Wire.write(OpResult.rejected("op-2", "BAD", "bad op"));

        assertThat(applied).doesNotContain("null", "record", "error");
        assertThat(fieldNames(tree(applied))).containsExactlyInAnyOrder("opId", "status", "version");
        assertThat(rejected).doesNotContain("null", "version", "record");
        assertThat(fieldNames(tree(rejected))).containsExactlyInAnyOrder("opId", "status", "error");
    }

    @Test
    void nullFieldsOfChangesAndServerRecordsAreOmitted() throws IOException {
        String change = Wire.write(new Change("notes", "rec-2", 3, true, null, HLC_1, null));
        String record = Wire.write(tombstone());

        assertThat(change).doesNotContain("null", "data", "origin");
        assertThat(fieldNames(tree(change))).containsExactlyInAnyOrder("collection", "recordId", "version", "deleted", "hlc");
        assertThat(record).doesNotContain("null", "data");
        assertThat(fieldNames(tree(record))).containsExactlyInAnyOrder("collection", "recordId", "version", "deleted", "hlc");
    }

    @Test
    void nullInsideAMergePatchIsKeptOnTheWire() throws IOException {
        // A null in an UPDATE's data removes the field, so it must not be dropped like a null field.
        String text = Wire.write(update());

        assertThat(tree(text).get("data")).isEqualTo(json("{'title':'Bye','meta':{'n':null}}"));
        assertThat(Wire.read(text, Operation.class).data().get("meta").get("n").isNull()).isTrue();
    }

    @Test
    void readerIgnoresUnknownFields() throws IOException {
        String text = "{'deviceId':'device-1','protocol':2,'extra':{'nested':[1,2,{'x':null}]},"
                + "'ops':[{'opId':'op-3','collection':'notes','recordId':'rec-1','type':'DELETE','baseVersion':2,"
                + "'hlc':'" + HLC_2 + "','signature':'abc','future':{'a':1}}]}";

        PushRequest request = Wire.read(text.replace('\'', '"'), PushRequest.class);

        assertThat(request).isEqualTo(new PushRequest("device-1", List.of(delete())));
    }

    @Test
    void readerIgnoresUnknownFieldsAtEveryLevelOfAPullResponse() throws IOException {
        String text = "{'changes':[{'collection':'notes','recordId':'rec-1','version':7,'deleted':false,"
                + "'data':{'a':1},'hlc':'" + HLC_2 + "','origin':{'deviceId':'device-2','opId':'op-9','app':'x'},"
                + "'size':12}],'cursor':'c','hasMore':false,'serverTime':1700000000000}";

        PullResponse response = Wire.read(text.replace('\'', '"'), PullResponse.class);

        assertThat(response).isEqualTo(new PullResponse(List.of(new Change("notes", "rec-1", 7, false,
                json("{'a':1}"), HLC_2, new Change.Origin("device-2", "op-9"))), "c", false));
    }

    @Test
    void readerIgnoresUnknownFieldsOfAPushResponse() throws IOException {
        String text = "{'results':[{'opId':'op-1','status':'APPLIED','version':1,'took':3}],'serverVersion':'2'}";

        PushResponse response = Wire.read(text.replace('\'', '"'), PushResponse.class);

        assertThat(response).isEqualTo(new PushResponse(List.of(OpResult.applied("op-1", 1))));
    }

    @ParameterizedTest
    @ValueSource(strings = {"{\"deviceId\":\"d\",\"ops\":[]} {\"b\":2}", "{\"deviceId\":\"d\",\"ops\":[]} x", "{",
        "not json", "[]"})
    void readerRejectsMalformedJson(String text) {
        assertThatThrownBy(() -> Wire.read(text, PushRequest.class)).isInstanceOf(IOException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"{}", "{\"deviceId\":\"d\"}", "{\"deviceId\":\"d\",\"ops\":null}",
        "{\"deviceId\":\"d\",\"ops\":{}}"})
    void readerRejectsAPushRequestWithoutAListOfOps(String text) {
        assertThatThrownBy(() -> Wire.read(text, PushRequest.class)).isInstanceOf(IOException.class);
    }

    @Test
    void readerRejectsAnErrorBodyWithoutCode() {
        assertThatThrownBy(() -> Wire.read("{\"message\":\"m\"}", ErrorBody.class)).isInstanceOf(IOException.class);
    }

    @Test
    void objectParsesAJsonObject() {
        ObjectNode object = Wire.object("{\"a\":1,\"b\":{\"c\":[true,null]}}");

        assertThat(object.get("a").intValue()).isEqualTo(1);
        assertThat(object.get("b").get("c").get(1).isNull()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(strings = {"[]", "[1,2]", "\"text\"", "42", "1.5", "true", "null"})
    void objectRejectsJsonThatIsNotAnObject(String text) {
        assertThatThrownBy(() -> Wire.object(text)).isInstanceOf(IllegalArgumentException.class);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", "{", "}", "{\"a\":}", "{\"a\":1,}", "{'a':1}", "{a:1}", "{\"a\":NaN}",
        "{\"a\":1} {\"b\":2}", "{\"a\":1}]", "not json", "{\"a\":\"unterminated}"})
    void objectRejectsMalformedJson(String text) {
        assertThatThrownBy(() -> Wire.object(text)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void objectRejectsNull() {
        assertThatThrownBy(() -> Wire.object(null)).isInstanceOf(IllegalArgumentException.class);
    }

    private static String nestedArrays(int depth) {
        return "[".repeat(depth) + "]".repeat(depth);
    }

    private static String nestedObjects(int depth) {
        return "{\"a\":".repeat(depth - 1) + "{}" + "}".repeat(depth - 1);
    }

    @Test
    void treeAcceptsNestingUpToMaxDepth() throws IOException {
        assertThat(Wire.tree(nestedArrays(Wire.MAX_DEPTH).getBytes(StandardCharsets.UTF_8)).isArray()).isTrue();
        assertThat(Wire.tree(nestedObjects(Wire.MAX_DEPTH).getBytes(StandardCharsets.UTF_8)).isObject()).isTrue();
    }

    @ParameterizedTest
    @ValueSource(ints = {Wire.MAX_DEPTH + 1, Wire.MAX_DEPTH + 2, 1_000, 100_000})
    void treeRefusesNestingDeeperThanMaxDepth(int depth) {
        assertThatThrownBy(() -> Wire.tree(nestedArrays(depth).getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IOException.class);
        assertThatThrownBy(() -> Wire.tree(nestedObjects(depth).getBytes(StandardCharsets.UTF_8)))
                .isInstanceOf(IOException.class);
    }

    @Test
    void objectRefusesNestingDeeperThanMaxDepth() {
        assertThat(Wire.object(nestedObjects(Wire.MAX_DEPTH))).isNotNull();
        assertThatThrownBy(() -> Wire.object(nestedObjects(Wire.MAX_DEPTH + 1)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void readRefusesAMessageNestedDeeperThanMaxDepth() {
        // The envelope {"deviceId":..,"ops":[{"data": ...}]} takes three levels.
        String deep = "{\"deviceId\":\"d\",\"ops\":[{\"opId\":\"o\",\"collection\":\"c\",\"recordId\":\"r\","
                + "\"type\":\"CREATE\",\"hlc\":\"" + HLC_1 + "\",\"data\":" + nestedObjects(Wire.MAX_DEPTH) + "}]}";

        assertThatThrownBy(() -> Wire.read(deep, PushRequest.class)).isInstanceOf(IOException.class);
        assertThatThrownBy(() -> Wire.read(deep.getBytes(StandardCharsets.UTF_8), PushRequest.class))
                .isInstanceOf(IOException.class);
    }

    private static List<String> fieldNames(JsonNode node) {
        List<String> names = new ArrayList<>();
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            names.add(it.next());
        }
        return names;
    }
}
