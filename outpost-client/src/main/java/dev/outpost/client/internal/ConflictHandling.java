package dev.outpost.client.internal;

import dev.outpost.client.ClientConflictPolicy;
import dev.outpost.client.Conflict;
import dev.outpost.client.ConflictResolver;
import dev.outpost.client.Resolution;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiConsumer;
import java.util.function.Function;

/**
 * How the store settles conflicts on the device: each collection's policy, the app's
 * resolvers, and who hears of each settled conflict.
 *
 * @param policies the policy of a collection (never null)
 * @param resolvers the resolvers, by collection
 * @param listener told of each conflict after the store committed its settlement
 */
public record ConflictHandling(Function<String, ClientConflictPolicy> policies, Map<String, ConflictResolver> resolvers,
        BiConsumer<Conflict, Resolution> listener) {

    /** Every collection SERVER_WINS, no resolvers, nobody told: what the store does by itself. */
    static final ConflictHandling SERVER_WINS =
            new ConflictHandling(collection -> ClientConflictPolicy.SERVER_WINS, Map.of(), (conflict, resolution) -> { });

    public ConflictHandling {
        Objects.requireNonNull(policies, "policies");
        resolvers = Map.copyOf(resolvers);
        Objects.requireNonNull(listener, "listener");
    }

    ClientConflictPolicy policy(String collection) {
        ClientConflictPolicy policy = policies.apply(collection);
        return policy == null ? ClientConflictPolicy.SERVER_WINS : policy;
    }

    ConflictResolver resolver(String collection) {
        return resolvers.get(collection);
    }
}
