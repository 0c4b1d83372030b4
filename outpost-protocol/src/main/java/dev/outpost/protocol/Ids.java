package dev.outpost.protocol;

import java.security.SecureRandom;
import java.util.UUID;

/** Identifiers that devices generate without asking the server. */
public final class Ids {
    private static final SecureRandom RANDOM = new SecureRandom();

    private Ids() {
    }

    /**
     * A new UUID version 7 (RFC 9562): 48 bits of Unix milliseconds then random bits, so ids
     * made later sort later and index well.
     */
    public static String uuidV7() {
        long millis = System.currentTimeMillis();
        long randA = RANDOM.nextInt(1 << 12);
        long msb = (millis << 16) | 0x7000L | randA;
        long lsb = (RANDOM.nextLong() & 0x3FFF_FFFF_FFFF_FFFFL) | 0x8000_0000_0000_0000L;
        return new UUID(msb, lsb).toString();
    }
}
