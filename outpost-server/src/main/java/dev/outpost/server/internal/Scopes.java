package dev.outpost.server.internal;

/** Names of the scopes records live in. In this version each user has one scope of their own. */
final class Scopes {
    private Scopes() {
    }

    static String ownScope(String user) {
        return "user:" + user;
    }
}
