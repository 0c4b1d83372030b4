package dev.outpost.testing;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Wire;

/** Realistic records for tests and benchmarks, shaped like the seeds' apps write them. */
public final class SampleRecords {
    private SampleRecords() {
    }

    /**
     * A call-log record of about 5 KB (the seeds' call and SMS logging app): line, number,
     * direction, times, and forty call events with agents and notes.
     */
    public static ObjectNode callLog(int n) {
        ObjectNode record = Wire.mapper().createObjectNode();
        record.put("lineId", "line-" + (n % 3));
        record.put("number", "+4477009" + String.format("%05d", n));
        record.put("direction", n % 2 == 0 ? "INBOUND" : "OUTBOUND");
        record.put("startedAt", 1_763_000_000_000L + n * 61_000L);
        record.put("durationSeconds", 30 + n % 600);
        ArrayNode events = record.putArray("events");
        for (int i = 0; i < 40; i++) {
            ObjectNode event = events.addObject();
            event.put("type", i % 4 == 0 ? "RINGING" : i % 4 == 1 ? "ANSWERED" : i % 4 == 2 ? "HOLD" : "TRANSFER");
            event.put("at", 1_763_000_000_000L + n * 61_000L + i * 1_500L);
            event.put("agent", "agent-" + (i % 7));
            event.put("note", "customer asked about invoice " + (1000 + i % 13));
        }
        return record;
    }
}
