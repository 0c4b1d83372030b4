package dev.outpost.client;

import java.nio.file.Path;
import java.time.Instant;

/**
 * What opening the local store found and did; see {@link Outpost#openReport()}.
 *
 * @param mode how the store was opened
 * @param message a sentence for people: what was found, what was recovered, what was lost
 * @param movedAside where a damaged store file was moved, kept for inspection; null if none was
 * @param backupUsed the backup the store was restored from; null if none was
 * @param backupTakenAt when that backup was taken; changes written after it are lost
 */
public record OpenReport(Mode mode, String message, Path movedAside, Path backupUsed, Instant backupTakenAt) {

    /** How the store was opened. */
    public enum Mode {
        /** The store file opened and passed its integrity check. */
        OPENED,
        /** The store file was damaged; it was moved aside and the last backup restored. */
        RECOVERED_FROM_BACKUP,
        /** The store file was damaged and no usable backup existed; it was moved aside and a new store begun. */
        STARTED_EMPTY,
        /**
         * No file storage worked: the store lives in memory, writes succeed but are lost when
         * the process ends. {@link Outpost#statusLine()} says so.
         */
        MEMORY_ONLY
    }

    /** The report of a store that opened normally. */
    public static OpenReport opened() {
        return new OpenReport(Mode.OPENED, "the local store opened and passed its integrity check", null, null, null);
    }
}
