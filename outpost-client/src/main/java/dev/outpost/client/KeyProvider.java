package dev.outpost.client;

import com.google.crypto.tink.Aead;
import com.google.crypto.tink.InsecureSecretKeyAccess;
import com.google.crypto.tink.KeysetHandle;
import com.google.crypto.tink.RegistryConfiguration;
import com.google.crypto.tink.TinkJsonProtoKeysetFormat;
import com.google.crypto.tink.aead.AeadConfig;
import com.google.crypto.tink.aead.PredefinedAeadParameters;
import dev.outpost.client.internal.KeysetFiles;
import java.io.IOException;
import java.nio.file.Path;
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
     * with owner-only permissions. The new keyset is written whole and fsynced before it
     * takes the file's name, so a crash cannot leave half a keyset; an empty file counts as
     * none, and a file that holds a keyset is never replaced. Whoever can read the file can
     * read the sealed fields, so it belongs in the app's private data directory.
     */
    static KeyProvider keysetFile(Path file) {
        return () -> {
            AeadConfig.register();
            String json = KeysetFiles.readOrCreate(file, () -> TinkJsonProtoKeysetFormat.serializeKeyset(
                    KeysetHandle.generateNew(PredefinedAeadParameters.AES256_GCM), InsecureSecretKeyAccess.get()));
            KeysetHandle handle = TinkJsonProtoKeysetFormat.parseKeyset(json, InsecureSecretKeyAccess.get());
            return handle.getPrimitive(RegistryConfiguration.get(), Aead.class);
        };
    }
}
