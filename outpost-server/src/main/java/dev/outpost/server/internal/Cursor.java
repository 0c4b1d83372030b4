package dev.outpost.server.internal;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** Pull cursors: opaque to clients, the last change sequence number seen inside. */
final class Cursor {
    private static final String PREFIX = "c1:";

    private Cursor() {
    }

    static String encode(long seq) {
        return Base64.getUrlEncoder().withoutPadding()
                .encodeToString((PREFIX + seq).getBytes(StandardCharsets.UTF_8));
    }

    /** The sequence number inside; 0 for a null cursor (from the beginning). */
    static long decode(String cursor) {
        if (cursor == null || cursor.isEmpty()) {
            return 0;
        }
        String text;
        try {
            text = new String(Base64.getUrlDecoder().decode(cursor), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw invalid();
        }
        if (!text.startsWith(PREFIX)) {
            throw invalid();
        }
        try {
            long seq = Long.parseLong(text.substring(PREFIX.length()));
            if (seq < 0) {
                throw invalid();
            }
            return seq;
        } catch (NumberFormatException e) {
            throw invalid();
        }
    }

    private static ApiException invalid() {
        return new ApiException(400, "INVALID_CURSOR",
                "cursor is not one this server gave out; pull without a cursor to start from the beginning");
    }
}
