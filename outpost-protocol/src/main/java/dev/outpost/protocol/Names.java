package dev.outpost.protocol;

/** What collection names and ids may look like; client and server check the same rules. */
public final class Names {
    /** The longest record id, device id or op id, in characters. */
    public static final int MAX_ID_LENGTH = 200;

    private static final int MAX_COLLECTION_LENGTH = 64;

    private Names() {
    }

    /** Whether {@code name} is 1 to 64 letters, digits, '_', '.' or '-', not starting with '.' or '-'. */
    public static boolean isValidCollection(String name) {
        if (name == null || name.isEmpty() || name.length() > MAX_COLLECTION_LENGTH) {
            return false;
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean allowed = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'
                    || (i > 0 && (c == '.' || c == '-'));
            if (!allowed) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether {@code id} is a non-blank string of at most {@link #MAX_ID_LENGTH} characters
     * with no control characters or line separators.
     */
    public static boolean isValidId(String id) {
        if (id == null || id.isBlank() || id.length() > MAX_ID_LENGTH) {
            return false;
        }
        for (int i = 0; i < id.length(); i++) {
            char c = id.charAt(i);
            if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
                return false;
            }
        }
        return true;
    }

    /** The rule for collection names, in words, for error messages. */
    public static String collectionRule() {
        return "1 to 64 letters, digits, '_', '.' or '-', starting with a letter, digit or '_'";
    }

    /** The rule for ids, in words, for error messages. */
    public static String idRule() {
        return "a non-blank string of at most " + MAX_ID_LENGTH + " characters, without control characters";
    }
}
