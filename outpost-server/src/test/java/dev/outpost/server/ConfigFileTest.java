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

    @Test
    void badLimitsAreRefusedInTheBuilderTheFileAndTheEnvironment() throws Exception {
        assertThatThrownBy(() -> OutpostServer.builder().maxRecordDepth(0))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxRecordDepth must be from 1 to 32").hasMessageContaining("got 0");
        assertThatThrownBy(() -> OutpostServer.builder().maxRecordDepth(33))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxRecordDepth must be from 1 to 32")
                .hasMessageContaining("got 33").hasMessageContaining("64");
        assertRefused("{\"limits\": {\"maxRecordDepth\": 33}}", "maxRecordDepth must be from 1 to 32");
        assertRefused("{\"limits\": {\"maxRecordDepth\": \"deep\"}}", "maxRecordDepth must be a whole number");
        assertRefused("{\"limits\": {\"maxRecordDepth\": 2.5}}", "maxRecordDepth must be a whole number");
        assertRefused("{\"limits\": {\"maxBodyBytes\": 0}}", "maxBodyBytes must be at least 1");
        assertRefused("{\"limits\": {\"maxBodyBytes\": 4294967296}}", "maxBodyBytes must be a whole number below 2^31");
        assertRefused("{\"limits\": {\"maxRecordBytes\": -5}}", "maxRecordBytes must be at least 1");
        assertRefused("{\"limits\": {\"maxPullLimit\": 0}}", "maxPullLimit must be at least 1");
        assertRefused("{\"limits\": 5}", "limits must be a JSON object");
        for (Map.Entry<String, String> bad : Map.of("OUTPOST_MAX_RECORD_DEPTH", "0", "OUTPOST_MAX_BODY_BYTES", "-1",
                "OUTPOST_MAX_OPS_PER_PUSH", "0", "OUTPOST_MAX_RECORD_BYTES", "0", "OUTPOST_MAX_PULL_LIMIT", "0").entrySet()) {
            assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of(bad.getKey(), bad.getValue())))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining(bad.getKey() + "='" + bad.getValue() + "' is not valid");
        }
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_MAX_RECORD_DEPTH", "deep")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("OUTPOST_MAX_RECORD_DEPTH='deep'")
                .hasMessageContaining("not a whole number");
        assertThatThrownBy(() -> OutpostServer.builder().environment(Map.of("OUTPOST_MAX_RECORD_DEPTH", "40")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("maxRecordDepth must be from 1 to 32");
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
