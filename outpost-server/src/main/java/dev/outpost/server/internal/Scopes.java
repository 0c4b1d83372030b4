package dev.outpost.server.internal;

import dev.outpost.server.Identity;
import dev.outpost.server.ScopeAccess;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where a request's records live. Each user has a scope of their own ({@code user:<name>});
 * a token may grant shared scopes ({@code shared:<name>}), to read or to read and write. On
 * the wire an op or change names a shared scope by its plain name, and the user's own scope
 * by no name at all.
 *
 * @param user the token's subject
 * @param shared the shared scopes the token grants
 */
record Scopes(String user, Map<String, ScopeAccess> shared) {
    /** The most shared scopes one token may grant. */
    static final int MAX_SHARED = 100;
    /** What a shared scope's stored name begins with, before its wire name. */
    static final String SHARED_PREFIX = "shared:";

    Scopes {
        shared = Map.copyOf(shared);
    }

    static Scopes of(Identity identity) {
        if (identity.scopes().size() > MAX_SHARED) {
            throw new ApiException(401, "UNAUTHORIZED", "the token grants " + identity.scopes().size()
                    + " shared scopes; at most " + MAX_SHARED + " are accepted");
        }
        return new Scopes(identity.user(), identity.scopes());
    }

    static String ownScope(String user) {
        return "user:" + user;
    }

    /** The user's own scope. */
    String own() {
        return ownScope(user);
    }

    /** The stored scope of an op's or change's wire scope (null: the user's own). */
    String stored(String wire) {
        return wire == null ? own() : SHARED_PREFIX + wire;
    }

    /** Whether the token may write records of the wire scope. */
    boolean canWrite(String wire) {
        return wire == null || shared.get(wire) == ScopeAccess.READ_WRITE;
    }

    /** Whether the token may read records of the wire scope. */
    boolean canRead(String wire) {
        return wire == null || shared.containsKey(wire);
    }

    /** Every stored scope the token may read: its own first, then the shared ones. */
    List<String> readable() {
        List<String> scopes = new ArrayList<>();
        scopes.add(own());
        shared.keySet().stream().sorted().forEach(name -> scopes.add(stored(name)));
        return scopes;
    }

    /** Every stored scope the token may write. */
    List<String> writable() {
        List<String> scopes = new ArrayList<>();
        scopes.add(own());
        shared.entrySet().stream().filter(entry -> entry.getValue() == ScopeAccess.READ_WRITE).map(Map.Entry::getKey).sorted()
                .forEach(name -> scopes.add(stored(name)));
        return scopes;
    }
}
