package dev.outpost.client.internal;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.outpost.protocol.Wire;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * How an op's payload is kept in {@code ops.data}: JSON text up to {@link #THRESHOLD} bytes,
 * deflate-compressed UTF-8 JSON (codec 1) above it, when compressing saves space.
 */
final class Payloads {
    /** Payloads larger than this many bytes of JSON are compressed. */
    static final int THRESHOLD = 1024;
    static final int JSON = 0;
    static final int DEFLATE = 1;

    private Payloads() {
    }

    /** A payload as stored: its codec, the value for the column and its JSON size. */
    record Stored(int codec, Object value, int size) {
    }

    static Stored encode(ObjectNode data) {
        if (data == null) {
            return new Stored(JSON, null, 0);
        }
        String json = Wire.write(data);
        byte[] utf8 = json.getBytes(StandardCharsets.UTF_8);
        if (utf8.length <= THRESHOLD) {
            return new Stored(JSON, json, utf8.length);
        }
        byte[] compressed = deflate(utf8);
        return compressed.length < utf8.length
                ? new Stored(DEFLATE, compressed, utf8.length)
                : new Stored(JSON, json, utf8.length);
    }

    /** Binds a stored payload to parameter {@code index}. */
    static void bind(PreparedStatement statement, int index, Stored stored) throws SQLException {
        if (stored.value() instanceof byte[] bytes) {
            statement.setBytes(index, bytes);
        } else {
            statement.setString(index, (String) stored.value());
        }
    }

    /**
     * Reads the payload of column {@code dataColumn} stored with the codec in {@code codecColumn}.
     *
     * @throws Unreadable if the stored value cannot be decoded (a damaged compressed payload,
     *     JSON the reader refuses); other {@link SQLException}s are failures of the database
     */
    static ObjectNode read(ResultSet rows, int dataColumn, int codecColumn) throws SQLException {
        int codec = rows.getInt(codecColumn);
        if (codec == DEFLATE) {
            byte[] bytes = rows.getBytes(dataColumn);
            return bytes == null ? null : object(new String(inflate(bytes), StandardCharsets.UTF_8), "an op payload");
        }
        if (codec != JSON) {
            throw new Unreadable("an op payload is stored with codec " + codec + ", which this version does not know", null);
        }
        String json = rows.getString(dataColumn);
        return json == null ? null : object(json, "an op payload");
    }

    /**
     * Parses stored JSON text ({@code what} names it in the error).
     *
     * @throws Unreadable if the reader refuses it
     */
    static ObjectNode object(String json, String what) throws Unreadable {
        try {
            return Wire.object(json);
        } catch (IllegalArgumentException e) {
            throw new Unreadable(what + " cannot be read back from the store: " + e.getMessage(), e);
        }
    }

    /**
     * Whether {@code e} says a stored value cannot be decoded (its row is damaged, or sealed
     * under another key) rather than that the database or the key provider failed.
     */
    static boolean undecodable(SQLException e) {
        return e instanceof Unreadable || e instanceof FieldCipher.SecurityFailure failure && failure.damagedValue();
    }

    /**
     * A stored value that cannot be decoded, as opposed to a failure of the database: the row
     * is damaged (or was written past the reader's limits), and reading it again will not help.
     */
    static final class Unreadable extends SQLException {
        private static final long serialVersionUID = 1L;

        Unreadable(String message, Throwable cause) {
            super(message, "UNREADABLE", cause);
        }
    }

    static byte[] deflate(byte[] input) {
        Deflater deflater = new Deflater(Deflater.DEFAULT_COMPRESSION);
        try {
            deflater.setInput(input);
            deflater.finish();
            ByteArrayOutputStream out = new ByteArrayOutputStream(input.length / 2 + 16);
            byte[] buffer = new byte[4096];
            while (!deflater.finished()) {
                out.write(buffer, 0, deflater.deflate(buffer));
            }
            return out.toByteArray();
        } finally {
            deflater.end();
        }
    }

    static byte[] inflate(byte[] input) throws Unreadable {
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(input);
            ByteArrayOutputStream out = new ByteArrayOutputStream(input.length * 4);
            byte[] buffer = new byte[4096];
            while (!inflater.finished()) {
                int n = inflater.inflate(buffer);
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new Unreadable("a compressed op payload is truncated", null);
                }
                out.write(buffer, 0, n);
            }
            return out.toByteArray();
        } catch (DataFormatException e) {
            throw new Unreadable("a compressed op payload is corrupt: " + e.getMessage(), e);
        } finally {
            inflater.end();
        }
    }
}
