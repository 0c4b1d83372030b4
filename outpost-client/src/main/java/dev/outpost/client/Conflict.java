package dev.outpost.client;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * A conflict between one of this device's changes and the server's record: the server
 * answered the change CONFLICT and kept its own record. The device settles it by the
 * collection's {@link ClientConflictPolicy} or {@link ConflictResolver}; one left for the app
 * is listed by {@link Outpost#conflicts()} and settled with {@link Outpost#resolveConflict}.
 *
 * <p>The objects are copies; changing them changes nothing stored.
 *
 * @param id the conflict's id, for {@link Outpost#resolveConflict}
 * @param collection the record's collection
 * @param recordId the record's id
 * @param opId the id of the device's op the server answered CONFLICT
 * @param base the record's fields before the device's change, at the version the change was
 *     made against; null when the device did not know them (a create, or the record had moved on)
 * @param local the record's fields as the device's change made them, what the device showed
 *     before the conflict; null if the device deleted the record
 * @param remote the server's record's fields; null if the server's record is deleted
 * @param remoteVersion the server's version of the record
 * @param remoteDeleted whether the server's record is deleted
 * @param localHlc the hybrid logical clock timestamp of the device's change
 * @param remoteHlc the timestamp of the server record's last change; null if the server sent none
 * @param detectedAt when the device received the CONFLICT answer
 * @param error why the collection's resolver did not settle it (it threw or returned null); null otherwise
 * @param remoteRecordId the id the server holds the record under: {@code recordId}, except when
 *     the server matched the device's create to a record it already held by the collection's
 *     natural key (the same real-world item, written by another device). Then the device's
 *     record gives way to the server's, which the next pull brings under this id; such a
 *     conflict is settled {@link Resolution.Kind#SERVER} at once.
 */
public record Conflict(String id, String collection, String recordId, String opId, ObjectNode base, ObjectNode local,
        ObjectNode remote, long remoteVersion, boolean remoteDeleted, String localHlc, String remoteHlc,
        Instant detectedAt, String error, String remoteRecordId) {

    /** A conflict on a record the server holds under the device's id, as before {@code remoteRecordId}. */
    public Conflict(String id, String collection, String recordId, String opId, ObjectNode base, ObjectNode local,
            ObjectNode remote, long remoteVersion, boolean remoteDeleted, String localHlc, String remoteHlc,
            Instant detectedAt, String error) {
        this(id, collection, recordId, opId, base, local, remote, remoteVersion, remoteDeleted, localHlc, remoteHlc,
                detectedAt, error, recordId);
    }
}
