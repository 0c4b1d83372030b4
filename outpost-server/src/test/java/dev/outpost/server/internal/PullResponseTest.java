package dev.outpost.server.internal;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.core.JsonGenerator;
import dev.outpost.protocol.Change;
import dev.outpost.protocol.PullResponse;
import dev.outpost.protocol.Wire;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A pull's answer is written with the stored JSON copied in; it must read as the protocol's PullResponse. */
class PullResponseTest {
    @Test
    void aPageWrittenFromStoredJsonReadsAsThePullResponseOfItsChanges() throws Exception {
        String stored = "{\"title\":\"caf\\u00e9 \\\"quoted\\\"\",\"raw\":\"na\u00efve \u2603 \ud834\udd1e\",\"n\":3,"
                + "\"nested\":{\"list\":[1,2.5,null,true]}}";
        SyncStore.Page page = new SyncStore.Page(List.of(
                new SyncStore.StoredChange("notes", "n1", 2, false, stored.getBytes(StandardCharsets.UTF_8),
                        "1700000000000-00000-dev", "phone", "op-1", null),
                new SyncStore.StoredChange("notes", "n2", 3, true, null, null, "laptop", "op-2", "team")), 42, true);

        PullResponse read = Wire.read(HttpApi.pullResponse(page), PullResponse.class);

        assertThat(read).isEqualTo(new PullResponse(List.of(
                new Change("notes", "n1", 2, false, Wire.object(stored), "1700000000000-00000-dev",
                        new Change.Origin("phone", "op-1"), null),
                new Change("notes", "n2", 3, true, null, null, new Change.Origin("laptop", "op-2"), "team")),
                Cursor.encode(42), true));
    }

    /** A record larger than the writer's buffer is copied in whole too. */
    @Test
    void aRecordLargerThanTheWritersBufferIsCopiedWhole() throws Exception {
        String stored = "{\"body\":\"" + "\u00e9x".repeat(20_000) + "\"}";
        SyncStore.Page page = new SyncStore.Page(List.of(new SyncStore.StoredChange("notes", "big", 1, false,
                stored.getBytes(StandardCharsets.UTF_8), null, "phone", "op-1", null)), 1, false);

        PullResponse read = Wire.read(HttpApi.pullResponse(page), PullResponse.class);

        assertThat(read.changes().get(0).data()).isEqualTo(Wire.object(stored));
    }

    /** Written as a string value rather than raw, the JSON text comes back as that text. */
    @Test
    void rawJsonWrittenAsAStringValueReadsBackAsItsText() throws Exception {
        String text = "{\"title\":\"na\u00efve \\\"q\\\" \u2603\"}";
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (JsonGenerator json = Wire.mapper().getFactory().createGenerator(out)) {
            json.writeStartArray();
            json.writeString(new RawUtf8Json(text.getBytes(StandardCharsets.UTF_8)));
            json.writeEndArray();
        }

        assertThat(Wire.mapper().readTree(out.toByteArray()).get(0).asText()).isEqualTo(text);
    }

    @Test
    void anEmptyPageKeepsItsCursor() throws Exception {
        PullResponse read = Wire.read(HttpApi.pullResponse(new SyncStore.Page(List.of(), 7, false)), PullResponse.class);

        assertThat(read).isEqualTo(new PullResponse(List.of(), Cursor.encode(7), false));
    }
}
