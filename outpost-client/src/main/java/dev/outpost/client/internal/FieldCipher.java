package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.crypto.tink.Aead;
import dev.outpost.client.KeyProvider;
import dev.outpost.protocol.Wire;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.util.Base64;
import java.util.Map;
import java.util.Set;

/**
 * Seals the sensitive fields of records at rest. A sealed field's value is replaced by
 * {@code {"$outpost_sealed": "v1:<base64 ciphertext>"}}, the AEAD encryption of the value's
 * JSON with associated data {@code <collection>/<record id>#<field>}, so a sealed value cannot
 * be moved to another record or field. Sealing covers every configured field, whatever its
 * value looks like; opening covers the configured fields only, so data that merely resembles
 * a sealed value is never taken for one. A field stays sensitive for as long as data sealed
 * under it is kept. The AEAD is asked for only when first needed.
 */
final class FieldCipher {
    static final String MARK = "$outpost_sealed";
    private static final String VERSION = "v1:";

    private final Map<String, Set<String>> sensitive;
    private final KeyProvider keys;
    private Aead aead;

    FieldCipher(Map<String, Set<String>> sensitive, KeyProvider keys) {
        this.sensitive = Map.copyOf(sensitive);
        this.keys = keys;
    }

    /** A copy of {@code data} with its collection's sensitive fields sealed; {@code data} itself if none. */
    ObjectNode seal(String collection, String id, ObjectNode data) throws SecurityFailure {
        Set<String> fields = sensitive.get(collection);
        if (data == null || fields == null) {
            return data;
        }
        ObjectNode sealed = null;
        for (String field : fields) {
            JsonNode value = data.get(field);
            if (value == null || value.isNull()) {
                continue;
            }
            if (sealed == null) {
                sealed = data.deepCopy();
            }
            byte[] plain = Wire.write(value).getBytes(StandardCharsets.UTF_8);
            byte[] cipher = encrypt(plain, associated(collection, id, field));
            sealed.putObject(field).put(MARK, VERSION + Base64.getEncoder().encodeToString(cipher));
        }
        return sealed == null ? data : sealed;
    }

    /**
     * {@code data} with its collection's sensitive fields opened (in place). Only configured
     * fields are opened: a value elsewhere that merely looks sealed is data like any other.
     */
    ObjectNode open(String collection, String id, ObjectNode data) throws SecurityFailure {
        Set<String> fields = sensitive.get(collection);
        if (data == null || fields == null) {
            return data;
        }
        for (String field : fields) {
            JsonNode value = data.get(field);
            if (value == null || value.isNull()) {
                continue;
            }
            if (!isSealed(value)) {
                continue; // written before the field was marked sensitive; sealed at its next write
            }
            String text = value.get(MARK).asText();
            byte[] cipher;
            try {
                if (!text.startsWith(VERSION)) {
                    throw new IllegalArgumentException("unknown format");
                }
                cipher = Base64.getDecoder().decode(text.substring(VERSION.length()));
            } catch (IllegalArgumentException e) {
                throw new SecurityFailure("field " + field + " of " + collection + "/" + id
                        + " is sealed in a form this version cannot read: " + e.getMessage(), e, true);
            }
            byte[] plain = decrypt(cipher, associated(collection, id, field), collection, id, field);
            try {
                data.set(field, Wire.object("{\"v\":" + new String(plain, StandardCharsets.UTF_8) + "}").get("v"));
            } catch (IllegalArgumentException e) {
                throw new SecurityFailure("field " + field + " of " + collection + "/" + id + " was opened but is not"
                        + " readable JSON: " + e.getMessage(), e, true);
            }
        }
        return data;
    }

    /** Whether {@code collection} has fields marked sensitive, so its data is stored sealed. */
    boolean seals(String collection) {
        return sensitive.containsKey(collection);
    }

    /** Whether {@code field} of {@code collection} is marked sensitive, so stored sealed. */
    boolean isSealed(String collection, String field) {
        Set<String> fields = sensitive.get(collection);
        return fields != null && fields.contains(field);
    }

    private static boolean isSealed(JsonNode value) {
        return value instanceof ObjectNode object && object.size() == 1 && object.has(MARK);
    }

    private static byte[] associated(String collection, String id, String field) {
        return (collection + "/" + id + "#" + field).getBytes(StandardCharsets.UTF_8);
    }

    private byte[] encrypt(byte[] plain, byte[] associated) throws SecurityFailure {
        try {
            return aead().encrypt(plain, associated);
        } catch (GeneralSecurityException e) {
            throw new SecurityFailure("a sensitive field could not be sealed: " + e.getMessage(), e, false);
        }
    }

    private byte[] decrypt(byte[] cipher, byte[] associated, String collection, String id, String field)
            throws SecurityFailure {
        try {
            return aead().decrypt(cipher, associated);
        } catch (GeneralSecurityException e) {
            throw new SecurityFailure("field " + field + " of " + collection + "/" + id + " could not be opened with the"
                    + " configured key (a different key, or a damaged value): " + e.getMessage(), e, true);
        }
    }

    private synchronized Aead aead() throws SecurityFailure {
        if (aead == null) {
            try {
                aead = keys.aead();
            } catch (GeneralSecurityException | IOException | RuntimeException e) {
                throw new SecurityFailure("the key provider gave no key: " + e.getMessage(), e, false);
            }
            if (aead == null) {
                throw new SecurityFailure("the key provider returned no AEAD", null, false);
            }
        }
        return aead;
    }

    /**
     * Sealing or opening failed; becomes a STORAGE / KEY_UNAVAILABLE error. {@link #damagedValue}
     * tells a value that the key at hand cannot open (another key sealed it, or it is damaged:
     * trying again will not help) from a key that could not be had at all (perhaps for now).
     */
    static final class SecurityFailure extends java.sql.SQLException {
        private static final long serialVersionUID = 1L;
        private final boolean damagedValue;

        SecurityFailure(String message, Throwable cause, boolean damagedValue) {
            super(message, "KEY_UNAVAILABLE", cause);
            this.damagedValue = damagedValue;
        }

        /** Whether the value itself cannot be opened with the key given, rather than no key being given. */
        boolean damagedValue() {
            return damagedValue;
        }
    }
}
