package dev.outpost.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * A conflict kept for review, as {@code GET /v1/conflicts} lists it.
 *
 * @param id the conflict's id, for {@code POST /v1/conflicts/{id}/resolve}
 * @param collection the record's collection
 * @param recordId the record's id
 * @param base the record at the op's base version; null if unknown
 * @param local the op as the device sent it
 * @param remote the server's record when the conflict arose
 * @param status OPEN or RESOLVED
 * @param resolution SERVER, CLIENT or MERGED once resolved
 * @param createdAt when the conflict arose, ISO-8601
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record ConflictInfo(String id, String collection, String recordId, ServerRecord base, Operation local,
        ServerRecord remote, String status, String resolution, String createdAt) {
}
