package dev.outpost.client;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A backup of the local store, written by {@link Outpost#backup()} or on schedule.
 *
 * @param file the backup file, a complete SQLite database
 * @param takenAt when it was taken
 * @param bytes its size
 */
public record BackupInfo(Path file, Instant takenAt, long bytes) {
}
