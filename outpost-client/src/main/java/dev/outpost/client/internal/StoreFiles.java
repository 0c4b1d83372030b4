package dev.outpost.client.internal;

import dev.outpost.client.BackupInfo;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import org.sqlite.SQLiteConnection;
import org.sqlite.SQLiteErrorCode;

/**
 * The store's files: backups (named {@code backup-<epoch millis>.db} in the backup directory,
 * written through SQLite's online backup to a temporary name, fsynced, then renamed), moving a
 * damaged store aside with its WAL and shared-memory files, and restoring a backup in its place.
 */
final class StoreFiles {
    private static final String PREFIX = "backup-";
    private static final String SUFFIX = ".db";

    private StoreFiles() {
    }

    /** Writes a consistent copy of the database behind {@code db} and keeps the newest {@code kept}. */
    static BackupInfo backup(Connection db, Path directory, Instant now, int kept) throws SQLException, IOException {
        Files.createDirectories(directory);
        Path target = directory.resolve(PREFIX + now.toEpochMilli() + SUFFIX);
        Path partial = directory.resolve(target.getFileName() + ".partial");
        Files.deleteIfExists(partial);
        // All pages in one step, under one read transaction: a consistent snapshot that writes
        // through other connections neither block nor restart.
        int rc = db.unwrap(SQLiteConnection.class).getDatabase()
                .backup("main", partial.toAbsolutePath().toString(), null, 100, 3, -1);
        if (rc != SQLiteErrorCode.SQLITE_OK.code) {
            throw new SQLException("SQLite's online backup failed with result code " + rc, null, rc);
        }
        try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
        move(partial, target);
        List<Path> backups = backups(directory);
        for (int i = kept; i < backups.size(); i++) {
            Files.deleteIfExists(backups.get(i));
        }
        return new BackupInfo(target, now, Files.size(target));
    }

    /** The backups in {@code directory}, newest first. */
    static List<Path> backups(Path directory) throws IOException {
        List<Path> backups = new ArrayList<>();
        if (!Files.isDirectory(directory)) {
            return backups;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(directory, PREFIX + "*" + SUFFIX)) {
            for (Path entry : entries) {
                if (takenAt(entry).isPresent()) {
                    backups.add(entry);
                }
            }
        }
        backups.sort(Comparator.comparing((Path path) -> takenAt(path).orElseThrow()).reversed());
        return backups;
    }

    /** When a backup file was taken, from its name. */
    static Optional<Instant> takenAt(Path backup) {
        String name = backup.getFileName().toString();
        if (!name.startsWith(PREFIX) || !name.endsWith(SUFFIX)) {
            return Optional.empty();
        }
        try {
            return Optional.of(Instant.ofEpochMilli(Long.parseLong(name.substring(PREFIX.length(), name.length() - SUFFIX.length()))));
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /** Moves the store file and its WAL and shared-memory files to {@code <name>.damaged-<millis>}; returns the new path. */
    static Path moveAside(Path file, Instant now) throws IOException {
        Path aside = file.resolveSibling(file.getFileName() + ".damaged-" + now.toEpochMilli());
        if (Files.exists(file)) {
            move(file, aside);
        }
        for (String suffix : new String[] {"-wal", "-shm"}) {
            Path extra = file.resolveSibling(file.getFileName() + suffix);
            if (Files.exists(extra)) {
                move(extra, aside.resolveSibling(aside.getFileName() + suffix));
            }
        }
        return aside;
    }

    /** Copies {@code backup} to {@code file} (which must not exist), fsynced before it gets its name. */
    static void restore(Path backup, Path file) throws IOException {
        Path partial = file.resolveSibling(file.getFileName() + ".restoring");
        Files.copy(backup, partial, StandardCopyOption.REPLACE_EXISTING);
        try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
        move(partial, file);
    }

    private static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to);
        }
        syncDirectoryOf(to);
    }

    /** Forces the directory holding {@code file} to disk, so that the file's name survives a power loss. */
    static void syncDirectoryOf(Path file) {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            try (FileChannel directory = FileChannel.open(parent, StandardOpenOption.READ)) {
                directory.force(true);
            } catch (IOException e) {
                // Not every file system lets a directory be opened for fsync; the name stands.
            }
        }
    }
}
