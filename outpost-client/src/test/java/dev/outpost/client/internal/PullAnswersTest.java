package dev.outpost.client.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The streaming read of a pull answer gives what the protocol's own mapping gives, and refuses what it must. */
class PullAnswersTest {
    private static final String ANSWER = """
            { "changes" : [
                { "collection" : "notes", "recordId" : "n1", "version" : 2, "deleted" : false,
                  "data" : { "title" : "caf\\u00e9 \\"q\\"", "raw" : "na\u00efve \u2603 \ud834\udd1e",
                             "nested" : { "list" : [ 1, 2.5e3, null, true, { "deep" : [ [ ] ] } ] } },
                  "hlc" : "1700000000000-00000-dev", "origin" : { "deviceId" : "phone", "opId" : "op-1", "extra" : [1] },
                  "unknown" : { "a" : [ { } ] } },
                { "collection" : "notes", "recordId" : "n2", "version" : 9000000000, "deleted" : true,
                  "data" : null, "hlc" : null, "origin" : null, "scope" : "team" },
                { "recordId" : "n3", "collection" : "todos", "version" : 1, "data" : { } }
              ],
              "cursor" : "Yz0x", "hasMore" : true, "next" : "ignored" }
            """;

    private static byte[] utf8(String text) {
        return text.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void anAnswerReadsAsTheProtocolsMappingReadsIt() throws Exception {
        PullResponse read = PullAnswers.read(utf8(ANSWER)).toResponse();

        assertThat(read).isEqualTo(Wire.read(utf8(ANSWER), PullResponse.class));
        assertThat(read.changes()).hasSize(3);
        assertThat(read.hasMore()).isTrue();
    }

    @Test
    void anAnswerThatCountsWhatFollowsSaysSoAndOneThatDoesNotSaysUnknown() throws Exception {
        assertThat(PullAnswers.read(utf8("{\"changes\":[],\"cursor\":\"c\",\"hasMore\":true,\"remaining\":1200}")).remaining())
                .isEqualTo(1200);
        assertThat(PullAnswers.read(utf8(ANSWER)).remaining()).isEqualTo(-1);
        assertThatThrownBy(() -> PullAnswers.read(utf8("{\"changes\":[],\"cursor\":\"c\",\"remaining\":-1}")))
                .isInstanceOf(IOException.class).hasMessageContaining("remaining must not be negative");
        assertThatThrownBy(() -> PullAnswers.read(utf8("{\"changes\":[],\"cursor\":\"c\",\"remaining\":\"many\"}")))
                .isInstanceOf(IOException.class).hasMessageContaining("remaining must be a whole number");
    }

    @Test
    void aRecordsDataIsKeptAsTheTextTheAnswerHolds() throws Exception {
        PulledPage page = PullAnswers.read(utf8(ANSWER));

        String first = ANSWER.substring(ANSWER.indexOf("{ \"title\""), ANSWER.indexOf("] } ] } }") + "] } ] } }".length());
        assertThat(page.changes().get(0).json()).isEqualTo(first).contains("\n");
        assertThat(page.changes().get(1).json()).isNull();
        assertThat(page.changes().get(2).json()).isEqualTo("{ }");
        assertThat(page.changes().get(0).data().get("raw").asText()).isEqualTo("na\u00efve \u2603 \ud834\udd1e");
    }

    @Test
    void aChangeMadeFromATreeGivesItsTextWhenAsked() throws Exception {
        PulledPage page = PulledPage.of(Wire.read(utf8(ANSWER), PullResponse.class));

        assertThat(Wire.object(page.changes().get(0).json())).isEqualTo(page.changes().get(0).data());
        assertThat(page.toResponse()).isEqualTo(Wire.read(utf8(ANSWER), PullResponse.class));
    }

    static Stream<Arguments> refused() {
        String change = "{\"collection\":\"notes\",\"recordId\":\"n1\",\"version\":1";
        return Stream.of(
                Arguments.of("not JSON", "<html>busy</html>", ""),
                Arguments.of("an array", "[]", "the answer must be an object but is an array"),
                Arguments.of("empty", "", "the answer must be an object but is missing"),
                Arguments.of("no changes", "{\"cursor\":\"c\"}", "the answer has no changes"),
                Arguments.of("no cursor", "{\"changes\":[]}", "the answer has no cursor"),
                Arguments.of("changes not an array", "{\"changes\":{},\"cursor\":\"c\"}", "changes must be an array"),
                Arguments.of("cursor a number", "{\"changes\":[],\"cursor\":7}", "cursor must be a string but is a whole number"),
                Arguments.of("hasMore a string", "{\"changes\":[],\"cursor\":\"c\",\"hasMore\":\"yes\"}",
                        "hasMore must be true or false but is a string"),
                Arguments.of("a change not an object", "{\"changes\":[1],\"cursor\":\"c\"}", "a change must be an object"),
                Arguments.of("no record id", "{\"changes\":[{\"collection\":\"notes\",\"version\":1}],\"cursor\":\"c\"}",
                        "a change has no recordId"),
                Arguments.of("no collection", "{\"changes\":[{\"recordId\":\"n1\",\"version\":1}],\"cursor\":\"c\"}",
                        "a change has no collection"),
                Arguments.of("no version", "{\"changes\":[{\"collection\":\"notes\",\"recordId\":\"n1\"}],\"cursor\":\"c\"}",
                        "a change has no version"),
                Arguments.of("version a string", "{\"changes\":[{\"collection\":\"notes\",\"recordId\":\"n1\",\"version\":\"1\"}],"
                        + "\"cursor\":\"c\"}", "version must be a whole number but is a string"),
                Arguments.of("version a fraction", "{\"changes\":[" + change.replace(":1", ":1.5") + "}],\"cursor\":\"c\"}",
                        "version must be a whole number but is a number with a fraction"),
                Arguments.of("version past a long", "{\"changes\":[" + change.replace(":1", ":99999999999999999999") + "}],"
                        + "\"cursor\":\"c\"}", ""),
                Arguments.of("data an array", "{\"changes\":[" + change + ",\"data\":[1]}],\"cursor\":\"c\"}",
                        "data must be an object but is an array"),
                Arguments.of("data a string", "{\"changes\":[" + change + ",\"data\":\"{}\"}],\"cursor\":\"c\"}",
                        "data must be an object but is a string"),
                Arguments.of("data cut off", "{\"changes\":[" + change + ",\"data\":{\"a\":[1,2", ""),
                Arguments.of("data malformed", "{\"changes\":[" + change + ",\"data\":{\"a\":tru}}],\"cursor\":\"c\"}", ""),
                Arguments.of("data too deep", "{\"changes\":[" + change + ",\"data\":" + "{\"a\":".repeat(70) + "1"
                        + "}".repeat(70) + "}],\"cursor\":\"c\"}", ""),
                Arguments.of("origin a string", "{\"changes\":[" + change + ",\"origin\":\"phone\"}],\"cursor\":\"c\"}",
                        "origin must be an object but is a string"),
                Arguments.of("deleted a number", "{\"changes\":[" + change + ",\"deleted\":1}],\"cursor\":\"c\"}",
                        "deleted must be true or false but is a whole number"),
                Arguments.of("trailing text", "{\"changes\":[],\"cursor\":\"c\"} {}", "the answer goes on after its end"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("refused")
    void anAnswerNotOfTheProtocolIsRefusedWithWhatIsWrong(String name, String body, String message) {
        assertThatThrownBy(() -> PullAnswers.read(utf8(body))).isInstanceOf(IOException.class).hasMessageContaining(message);
    }
}
