package dev.outpost.server.internal;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Base64;
import java.util.HexFormat;

/**
 * Pull cursors: opaque to clients, URL-safe Base64 (no padding) of
 * {@code c2:<seq>:<user>:<scopes>}, where {@code seq} is the last change sequence number seen,
 * {@code user} a digest of the user the cursor was made for and {@code scopes} a digest of the
 * scopes that user could read then. A cursor of another user's, or of other readable scopes,
 * is refused rather than read from where it stands, since the changes it passed over were not
 * all the requester's to see or not to skip. Cursors of the first form, {@code c1:<seq>}, are
 * still read, without those checks.
 *
 * @param seq the last change sequence number seen; 0 from the beginning
 * @param user the user digest; null for the beginning and for a {@code c1} cursor
 * @param scopes the readable scopes' digest; null when {@code user} is
 */
record Cursor(long seq, String user, String scopes) {
    private static final String FIRST = "c1:";
    private static final String PREFIX = "c2:";
    /** Digest length in hex digits: 64 bits, so two users or scope sets are never mistaken for each other in practice. */
    private static final int DIGEST_HEX = 16;
    private static final Cursor START = new Cursor(0, null, null);

    /** The cursor after change {@code seq}, made for the token's user and readable scopes. */
    static String encode(long seq, Scopes scopes) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString((PREFIX + seq + ":" + userDigest(scopes) + ":"
                + scopesDigest(scopes)).getBytes(StandardCharsets.UTF_8));
    }

    /** The cursor's content; from the beginning for a null or empty cursor. */
    static Cursor decode(String cursor) {
        if (cursor == null || cursor.isEmpty()) {
            return START;
        }
        String text;
        try {
            text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw invalid();
        }
        if (text.startsWith(FIRST)) {
            return new Cursor(seq(text.substring(FIRST.length())), null, null);
        }
        if (!text.startsWith(PREFIX)) {
            throw invalid();
        }
        String[] parts = text.substring(PREFIX.length()).split(":", -1);
        if (parts.length != 3 || !isDigest(parts[1]) || !isDigest(parts[2])) {
            throw invalid();
        }
        return new Cursor(seq(parts[0]), parts[1], parts[2]);
    }

    /**
     * Refuses the cursor if it was made for another user (409 {@code CURSOR_OTHER_USER}) or for
     * other readable scopes than the token's (409 {@code CURSOR_SCOPES_CHANGED}); a cursor with
     * nothing to check passes.
     */
    Cursor checkMadeFor(Scopes scopes) {
        if (user == null) {
            return this;
        }
        if (!user.equals(userDigest(scopes))) {
            throw new ApiException(409, "CURSOR_OTHER_USER", "this cursor was made for another user than the token's; "
                    + "the device's store holds another user's data. Use a store of its own for each user");
        }
        if (!this.scopes.equals(scopesDigest(scopes))) {
            throw new ApiException(409, "CURSOR_SCOPES_CHANGED", "the token grants other scopes than when this cursor "
                    + "was made, so changes it passed over may now be readable; pull again without a cursor");
        }
        return this;
    }

    private static long seq(String text) {
        try {
            long seq = Long.parseLong(text);
            if (seq < 0) {
                throw invalid();
            }
            return seq;
        } catch (NumberFormatException e) {
            throw invalid();
        }
    }

    private static boolean isDigest(String text) {
        return text.length() == DIGEST_HEX && text.chars().allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
    }

    static String userDigest(Scopes scopes) {
        return digest("user\n" + scopes.user());
    }

    /** The digest of every scope the token may read, in {@link Scopes#readable()}'s order (its own, then shared ones sorted). */
    static String scopesDigest(Scopes scopes) {
        return digest("scopes\n" + String.join("\n", scopes.readable()));
    }

    private static String digest(String text) {
        try {
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(hash, 0, DIGEST_HEX / 2);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    private static ApiException invalid() {
        return new ApiException(400, "INVALID_CURSOR",
                "cursor is not one this server gave out; pull without a cursor to start from the beginning");
    }
}
