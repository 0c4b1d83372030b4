package dev.outpost.client.internal;

import dev.outpost.client.Durability;
import dev.outpost.client.KeyProvider;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Set;

/**
 * Where and how the local store keeps its file and backups.
 *
 * @param durability what a returned write survives
 * @param backupDirectory where backups go
 * @param backupInterval how old the last backup may be before a scheduled one is taken
 * @param backupsKept how many backups are kept, newest first
 * @param recoverCorrupt whether a damaged store is moved aside and restored from a backup
 * @param memoryOnlyFallback whether the store falls back to memory when no file storage works
 * @param sensitiveFields per collection, the top-level fields sealed at rest
 * @param keyProvider the source of the AEAD that seals them
 * @param recordCacheSize how many records the memory cache in front of the local view holds (0: none)
 */
public record StorageSettings(Durability durability, Path backupDirectory, Duration backupInterval, int backupsKept,
        boolean recoverCorrupt, boolean memoryOnlyFallback, Map<String, Set<String>> sensitiveFields,
        KeyProvider keyProvider, int recordCacheSize) {
    public StorageSettings {
        sensitiveFields = Map.copyOf(sensitiveFields);
    }
}
