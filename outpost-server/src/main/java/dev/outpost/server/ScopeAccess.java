package dev.outpost.server;

/**
 * What a token lets its user do in a shared scope. A user can always read and write their own
 * records; shared scopes are granted per token, in its {@code scopes} claim, for example
 * {@code "scopes": {"team-acme": "read-write", "announcements": "read"}}.
 */
public enum ScopeAccess {
    /** Pull the scope's changes; ops on its records are rejected (SCOPE_READ_ONLY). */
    READ("read"),
    /** Pull the scope's changes and push ops on its records. */
    READ_WRITE("read-write");

    private final String claim;

    ScopeAccess(String claim) {
        this.claim = claim;
    }

    /** How this access is written in a token's {@code scopes} claim. */
    public String claim() {
        return claim;
    }

    /** The access a claim value names, or null if it names none. */
    static ScopeAccess ofClaim(Object value) {
        for (ScopeAccess access : values()) {
            if (access.claim.equals(value)) {
                return access;
            }
        }
        return null;
    }
}
