package dev.outpost.client;

/**
 * Supplies the bearer token sent with every request to the server.
 *
 * <p>Called before each sync with {@code rejected} null, and again with the token the server
 * has just refused (HTTP 401). Return a fresh token to have the request retried once with it.
 * Returning null, or the same token the server refused, ends the sync with an AUTH failure;
 * the ops stay queued. An exception thrown here ends the sync the same way, with the
 * exception as its cause. Called from the syncing thread; it may block to fetch a token.
 */
@FunctionalInterface
public interface TokenProvider {

    /** A provider with no token: requests go without credentials and fail with AUTH. */
    TokenProvider NONE = rejected -> null;

    /**
     * The token to use.
     *
     * @param rejected the token the server just refused, or null on the first ask
     * @return the token, or null if there is none
     */
    String token(String rejected) throws Exception;

    /** A provider that always returns the same token, for tokens issued for a long time. */
    static TokenProvider fixed(String token) {
        return rejected -> token;
    }
}
