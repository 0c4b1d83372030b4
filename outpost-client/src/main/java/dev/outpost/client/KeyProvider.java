package dev.outpost.client;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.aead.AeadConfig;
import com.google.crypto.tink.aead.PredefinedAeadParameters;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;

/**
 * Supplies the AEAD (Google Tink) that seals the fields an app marks sensitive, in the op
 * queue and in the local view. Called at most once per open store, the first time a sealed
 * field is written or read. Returning null or throwing makes that write or read fail with a
 * STORAGE error (code KEY_UNAVAILABLE) naming the cause; nothing is written in the clear
 * instead. Platforms plug in their own key store here (for example Android's Keystore through
 * Tink's {@code AndroidKeysetManager}).
 */
@FunctionalInterface
public interface KeyProvider {

    /** The AEAD that seals and opens sensitive fields. */
    Aead aead() throws GeneralSecurityException, IOException;

    /**
     * The default: an AES-256-GCM keyset kept as JSON in {@code file}, created on first use
     * with owner-only permissions. Whoever can read the file can read the sealed fields, so it
     * belongs in the app's private data directory.
     */
    static KeyProvider keysetFile(Path file) {
        return () -> {
            AeadConfig.register();
            if (!Files.exists(file)) {
                KeysetHandle fresh = KeysetHandle.generateNew(PredefinedAeadParameters.AES256_GCM);
                byte[] json = TinkJsonProtoKeysetFormat.serializeKeyset(fresh, InsecureSecretKeyAccess.get())
                        .getBytes(StandardCharsets.UTF_8);
                Path parent = file.toAbsolutePath().getParent();
                if (parent != null) {
                    Files.createDirectories(parent);
                }
                try {
                    Files.createFile(file);
                    try {
                        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
                    } catch (UnsupportedOperationException e) {
                        // Not a POSIX file system: the directory's permissions protect the file.
                    }
                    Files.write(file, json, StandardOpenOption.WRITE, StandardOpenOption.SYNC);
                } catch (FileAlreadyExistsException e) {
                    // Another opener created it first; read theirs.
                }
            }
            KeysetHandle handle = TinkJsonProtoKeysetFormat.parseKeyset(
                    Files.readString(file, StandardCharsets.UTF_8), InsecureSecretKeyAccess.get());
            return handle.getPrimitive(RegistryConfiguration.get(), Aead.class);
        };
    }
}
