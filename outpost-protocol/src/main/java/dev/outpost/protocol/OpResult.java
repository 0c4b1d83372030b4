package dev.outpost.protocol;

import com.fasterxml.jackson.annotation.JsonInclude;

/**
 * The outcome of one pushed operation; a push response has one per op, in request order.
 *
 * @param opId the operation this answers
 * @param status the verdict
 * @param version the record's version after this op (the server's current version on CONFLICT);
 *     null on REJECTED
 * @param record the server's record, on CONFLICT and MERGED (and on DUPLICATE of those)
 * @param error why, on REJECTED
 * @param firstStatus on DUPLICATE, the status of the first outcome it repeats (APPLIED, MERGED,
 *     CONFLICT or REJECTED), so a device whose first answer was lost settles the op as it would
 *     have; null otherwise
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record OpResult(String opId, OpStatus status, Long version, ServerRecord record, ErrorBody error, OpStatus firstStatus) {

    /** A result that repeats nothing (every status but DUPLICATE). */
    public OpResult(String opId, OpStatus status, Long version, ServerRecord record, ErrorBody error) {
        this(opId, status, version, record, error, null);
    }

    /** The status that decides what the op's outcome was: the first outcome's, for a DUPLICATE that says it. */
    public OpStatus effectiveStatus() {
        return status == OpStatus.DUPLICATE && firstStatus != null ? firstStatus : status;
    }

    /** An applied op that brought the record to {@code version}. */
    public static OpResult applied(String opId, long version) {
        return new OpResult(opId, OpStatus.APPLIED, version, null, null);
    }

    /** A conflicting op; the server's record stands. */
    public static OpResult conflict(String opId, ServerRecord current) {
        return new OpResult(opId, OpStatus.CONFLICT, current.version(), current, null);
    }

    /** An invalid op that was not applied. */
    public static OpResult rejected(String opId, String code, String message) {
        return new OpResult(opId, OpStatus.REJECTED, null, null, new ErrorBody(code, message));
    }

    /**
     * This result repeated for a re-sent op: same version, record and error, status DUPLICATE,
     * and the first outcome's status in {@code firstStatus}.
     */
    public OpResult asDuplicate() {
        return new OpResult(opId, OpStatus.DUPLICATE, version, record, error, status == OpStatus.DUPLICATE ? firstStatus : status);
    }
}
