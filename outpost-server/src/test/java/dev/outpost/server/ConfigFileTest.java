package dev.outpost.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The server's configuration file and environment overrides, good and bad. */
class ConfigFileTest {
    @TempDir
    Path dir;

    private Path file(String json) throws Exception {
        Path file = dir.resolve("outpost-server.json");
        Files.writeString(file, json);
        return file;
    }

    @Test
    void aGoodFileConfiguresTheServer() throws Exception {
        Path config = file("""
                {"host": "127.0.0.1", "port": 0, "limits": {"maxOpsPerPush": 5},
                 "defaultConflictPolicy": "SERVER_WINS",
                 "collections": {"profiles": {"conflictPolicy": "MERGE", "counters": ["visits"]},
                                 "calls": {"naturalKey": {"exact": ["number"], "within": {"startedAt": 1000}}}}}
                """);
        try (OutpostServer server = OutpostServer.builder().dataDir(dir.resolve("data")).configFile(config).build().start()) {
            assertThat(server.port()).isPositive();
        }
    }

    @Test
    void aBadFileIsRefusedNamingTheFileAndTheField() throws Exception {
        assertRefused("{\"prot\": 8080}", "unknown field prot");
        assertRefused("{\"port\": \"eighty\"}", "port must be a whole number");
        assertRefused("{\"port\": 70000}", "port must be from 0 to 65535");
        assertRefused("{\"limits\": {\"maxOpsPerPush\": 0}}", "maxOpsPerPush must be at least 1");
        assertRefused("{\"limits\": {\"maxOps\": 5}}", "unknown field limits.maxOps");
        assertRefused("{\"collections\": {\"notes\": {\"conflictPolicy\": \"MOSTLY_RIGHT\"}}}",
                "collections.notes.conflictPolicy must be SERVER_WINS");
        assertRefused("{\"collections\": {\"notes\": {\"counters\": []}}}", "collections.notes.counters must be a non-empty array");
        assertRefused("{\"collections\": {\"bad/name\": {\"conflictPolicy\": \"MERGE\"}}}", "bad/name");
        assertRefused("{\"collections\": {\"calls\": {\"naturalKey\": {}}}}", "naturalKey needs at least one field");
        assertRefused("{\"collections\": {\"calls\": {\"naturalKey\": {\"within\": {\"at\": \"soon\"}}}}}",
                "naturalKey.within.at must be a number");
        assertRefused("{\"port\": ", "is not valid JSON");
        assertRefused("[1, 2]", "must hold a JSON object");
        assertThatThrownBy(() -> OutpostServer.builder().configFile(dir.resolve("missing.json")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("cannot be read");
    }

    private void assertRefused(String json, String message) throws Exception {
        Path config = file(json);
        assertThatThrownBy(() -> OutpostServer.builder().configFile(config))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(config.toString())
                .hasMessageContaining(message);
    }

    @Test
    void environmentOverridesAreAppliedAndCheckedNamingTheVariable() {
        OutpostServer.Builder builder = OutpostServer.builder().dataDir(dir);
        builder.environment(Map.of("OUTPOST_PORT", "0", "OUTPOST_HOST", "127.0.0.1", "PATH", "/usr/bin"));
        try (OutpostServer server = builder.build().start()) {
            assertThat(server.url()).startsWith("http://127.0.0.1:");
        }
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_PORT", "eighty")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_PORT='eighty'")
                .hasMessageContaining("not a whole number");
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_DB", "jdbc:mysql://x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_DB");
    }
}
