package dev.outpost.client.internal;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.Set;

/**
 * The lock that keeps a store file to one open store: an exclusive lock on
 * {@code <store file>.lock}, beside it, held from the open to the close. A second open of the
 * same file, in this process or another, finds it held. The operating system drops the lock
 * when the process ends, however it ends, so a crash leaves no stale lock. The lock file
 * itself stays; removing it at close could let two opens lock two different files of one name.
 *
 * <p>Locks held in this process are also kept in a set, looked at before the lock file is
 * opened: the operating system's locks belong to the process, and closing any channel of the
 * file would drop the lock another channel holds.
 */
final class StoreLock implements AutoCloseable {
    /** The lock files this process holds, by their directory's real path. */
    private static final Set<Path> HELD = new HashSet<>();

    private final Path key;
    private final FileChannel channel;
    private final FileLock lock;

    private StoreLock(Path key, FileChannel channel, FileLock lock) {
        this.key = key;
        this.channel = channel;
        this.lock = lock;
    }

    /** The lock file of {@code store}. */
    static Path fileOf(Path store) {
        return store.resolveSibling(store.getFileName() + ".lock");
    }

    /**
     * Takes the lock of {@code store}; null if another open store holds it.
     *
     * @throws IOException if the lock file cannot be made or locked
     */
    static StoreLock tryAcquire(Path store) throws IOException {
        Path file = fileOf(store.toAbsolutePath());
        Path parent = file.getParent();
        Files.createDirectories(parent);
        Path key = parent.toRealPath().resolve(file.getFileName());
        synchronized (HELD) {
            if (HELD.contains(key)) {
                return null;
            }
            FileChannel channel = FileChannel.open(key, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            try {
                FileLock lock = channel.tryLock();
                if (lock == null) {
                    channel.close();
                    return null;
                }
                HELD.add(key);
                return new StoreLock(key, channel, lock);
            } catch (IOException | RuntimeException e) {
                channel.close();
                throw e;
            }
        }
    }

    @Override
    public void close() {
        try {
            lock.release();
        } catch (IOException e) {
            // Closing the channel below drops it too.
        }
        try {
            channel.close();
        } catch (IOException e) {
            // The lock goes with the process at the latest.
        }
        synchronized (HELD) {
            HELD.remove(key);
        }
    }
}
