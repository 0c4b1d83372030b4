package dev.outpost.client.internal;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.util.Set;
import java.util.UUID;

/**
 * The default key provider's keyset file. A new keyset is written whole to a temporary file
 * with owner-only permissions, fsynced, then linked under the keyset's name (which fails if
 * that name already holds one), and the directory is fsynced. A crash therefore leaves either
 * no keyset file, the complete one, or (from a version that wrote in place) an empty file,
 * which counts as no keyset. A file that holds anything is never replaced: a keyset lost
 * would leave every sealed value unreadable.
 */
public final class KeysetFiles {
    private static final Object CREATING = new Object();

    private KeysetFiles() {
    }

    /** Makes a new keyset's JSON. */
    @FunctionalInterface
    public interface NewKeyset {
        /** The JSON of a newly generated keyset. */
        String json() throws GeneralSecurityException;
    }

    /** The keyset JSON in {@code file}, first writing {@code fresh}'s if the file is absent or empty. */
    public static String readOrCreate(Path file, NewKeyset fresh) throws IOException, GeneralSecurityException {
        String existing = readIfPresent(file);
        if (existing != null) {
            return existing;
        }
        synchronized (CREATING) {
            existing = readIfPresent(file);
            if (existing != null) {
                return existing;
            }
            create(file, fresh.json().getBytes(StandardCharsets.UTF_8));
        }
        return Files.readString(file, StandardCharsets.UTF_8);
    }

    /** The file's text, or null if it is absent or empty. */
    private static String readIfPresent(Path file) throws IOException {
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            return text.isEmpty() ? null : text;
        } catch (NoSuchFileException e) {
            return null;
        }
    }

    private static void create(Path file, byte[] json) throws IOException {
        Path absolute = file.toAbsolutePath();
        Path parent = absolute.getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        Path partial = absolute.resolveSibling(absolute.getFileName() + "." + UUID.randomUUID() + ".new");
        try {
            try (FileChannel channel = FileChannel.open(partial, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), ownerOnly(absolute))) {
                ByteBuffer buffer = ByteBuffer.wrap(json);
                while (buffer.hasRemaining()) {
                    channel.write(buffer);
                }
                channel.force(true);
            }
            if (isEmpty(absolute)) {
                // Left by a creation that crashed between creating the file and writing it.
                Files.deleteIfExists(absolute);
            }
            try {
                Files.createLink(absolute, partial);
            } catch (FileAlreadyExistsException e) {
                // Another process created it first; theirs is read.
            } catch (UnsupportedOperationException | IOException e) {
                if (Files.exists(absolute)) {
                    throw e;
                }
                // No hard links on this file system: a plain move, which never replaces a file.
                Files.move(partial, absolute);
            }
        } finally {
            Files.deleteIfExists(partial);
        }
        StoreFiles.syncDirectoryOf(absolute);
    }

    private static boolean isEmpty(Path file) throws IOException {
        try {
            return Files.size(file) == 0;
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    private static FileAttribute<?>[] ownerOnly(Path file) {
        if (!file.getFileSystem().supportedFileAttributeViews().contains("posix")) {
            // Not a POSIX file system: the directory's permissions protect the file.
            return new FileAttribute<?>[0];
        }
        Set<PosixFilePermission> permissions = PosixFilePermissions.fromString("rw-------");
        return new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(permissions)};
    }
}
