package dev.outpost.server.internal;

import dev.outpost.protocol.OpType;
import dev.outpost.protocol.Operation;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.TreeSet;

/**
 * The 64-bit keys a push locks: its device, each record its ops touch, and for a CREATE in a
 * collection with a natural key the whole collection's key space (two devices creating the
 * same call at once must not both miss the other). Two names sharing a key only make their
 * writers wait for each other.
 */
final class LockKeys {
    private LockKeys() {
    }

    static long device(String deviceId) {
        return hash("device", deviceId, "", "");
    }

    static long record(String scope, String collection, String id) {
        return hash("record", scope, collection, id);
    }

    /** The keys of a push's records, in ascending order so that every push takes them in the same order. */
    static TreeSet<Long> records(Scopes scopes, List<PushParser.Parsed> ops, Policies policies) {
        TreeSet<Long> keys = new TreeSet<>();
        for (PushParser.Parsed parsed : ops) {
            Operation op = parsed.op();
            if (op == null || parsed.rejection() != null) {
                continue;
            }
            String scope = scopes.stored(op.scope());
            keys.add(record(scope, op.collection(), op.recordId()));
            if (op.type() == OpType.CREATE && policies.naturalKeyOf(op.collection()) != null) {
                keys.add(hash("natural-key", scope, op.collection(), ""));
            }
        }
        return keys;
    }

    /** FNV-1a over the parts, each followed by a zero byte. */
    private static long hash(String kind, String a, String b, String c) {
        long hash = 0xcbf29ce484222325L;
        for (String part : new String[] {kind, a, b, c}) {
            for (byte x : part.getBytes(StandardCharsets.UTF_8)) {
                hash ^= x & 0xff;
                hash *= 0x100000001b3L;
            }
            hash *= 0x100000001b3L;
        }
        return hash;
    }
}
