package dev.outpost.server;

/** A bearer token that is missing, malformed, forged, expired or meant for another server. */
public final class TokenException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong with the token, without echoing the token */
    public TokenException(String message) {
        super(message);
    }
}
