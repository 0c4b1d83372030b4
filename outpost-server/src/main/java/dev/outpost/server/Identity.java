package dev.outpost.server;

import java.util.Map;
import java.util.Objects;

/**
 * Who a verified bearer token speaks for.
 *
 * @param user the token's subject: the user whose own records the request reads and writes
 * @param scopes the shared scopes the token grants, by name, with what it may do in each
 */
public record Identity(String user, Map<String, ScopeAccess> scopes) {
    public Identity {
        Objects.requireNonNull(user, "user");
        scopes = Map.copyOf(scopes);
    }
}
