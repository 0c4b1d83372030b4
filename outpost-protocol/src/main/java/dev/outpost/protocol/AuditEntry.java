package dev.outpost.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * One pushed op as the server's audit keeps it ({@code GET /v1/devices/{deviceId}/operations}).
 *
 * @param opId the op's id
 * @param collection the record's collection; null if the op was too malformed to say
 * @param recordId the record's id; null likewise
 * @param type the op's type; null likewise
 * @param status the first outcome (APPLIED, MERGED, CONFLICT, REJECTED)
 * @param version the record's version after it, when it had one
 * @param record the server's record on CONFLICT or MERGED (the conflict's data)
 * @param error why it was rejected
 * @param receivedAt when the push carrying it arrived, ISO-8601
 * @param completedAt when its outcome was committed, ISO-8601
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record AuditEntry(String opId, String collection, String recordId, OpType type, OpStatus status, Long version,
        ServerRecord record, ErrorBody error, String receivedAt, String completedAt) {
}
