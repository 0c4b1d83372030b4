package dev.outpost.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.outpost.protocol.Wire;
import java.io.IOException;
import java.io.UncheckedIOException;

/** JSON for the server's tests: an answer's body read as a tree. */
final class TestJson {
    private TestJson() {
    }

    static JsonNode parse(String json) {
        try {
            return Wire.mapper().readTree(json);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
