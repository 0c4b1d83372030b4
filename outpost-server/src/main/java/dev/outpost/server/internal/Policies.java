package dev.outpost.server.internal;

import dev.outpost.protocol.ConflictPolicy;
import dev.outpost.server.NaturalKey;
import java.util.Map;
import java.util.Set;

/**
 * The conflict policy of each collection and its counter fields.
 *
 * @param byCollection the policy of each collection that has one
 * @param fallback the policy of every other collection
 * @param counters per collection, the fields MERGE adds both sides' deltas to
 * @param naturalKeys per collection, the fields that make a CREATE a duplicate of a live record
 */
public record Policies(Map<String, ConflictPolicy> byCollection, ConflictPolicy fallback, Map<String, Set<String>> counters,
        Map<String, NaturalKey> naturalKeys) {
    public Policies {
        byCollection = Map.copyOf(byCollection);
        counters = Map.copyOf(counters);
        naturalKeys = Map.copyOf(naturalKeys);
    }

    NaturalKey naturalKeyOf(String collection) {
        return naturalKeys.get(collection);
    }

    ConflictPolicy of(String collection) {
        return byCollection.getOrDefault(collection, fallback);
    }

    Set<String> countersOf(String collection) {
        return counters.getOrDefault(collection, Set.of());
    }
}
