package dev.outpost.client;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * The one exception of the client library: something went wrong that the app may act on.
 * The {@link #category()} says what kind of failure it was, the {@link #code()} which one.
 */
public final class OutpostException extends Exception {
    private static final long serialVersionUID = 1L;

    /** The kinds of failure. */
    public enum Category {
        /**
         * The server could not be reached (no connection could be made); the change stays
         * queued and no attempt is counted. A connection that breaks after the request went out
         * is {@link #SERVER}.
         */
        NETWORK,
        /** The server refused the credentials. */
        AUTH,
        /** The request or op was invalid and will not succeed if retried as is. */
        VALIDATION,
        /** The record changed elsewhere. */
        CONFLICT,
        /** The local store could not read or write its file. */
        STORAGE,
        /** A storage or size limit was reached. */
        QUOTA,
        /**
         * The server failed, answered something this client does not understand, or was sent
         * the request and then dropped the connection or gave no answer in time.
         */
        SERVER
    }

    private final Category category;
    private final String code;
    private final transient Duration retryAfter;

    /**
     * @param category the kind of failure
     * @param code a stable SNAKE_CASE code, such as the server's error code
     * @param message what happened, naming the ids and counts involved
     */
    public OutpostException(Category category, String code, String message) {
        this(category, code, message, null);
    }

    /** As {@link #OutpostException(Category, String, String)}, with the underlying cause. */
    public OutpostException(Category category, String code, String message, Throwable cause) {
        this(category, code, message, cause, null);
    }

    /**
     * As {@link #OutpostException(Category, String, String, Throwable)}, with the wait the
     * server asked for (HTTP Retry-After) before the next attempt.
     */
    public OutpostException(Category category, String code, String message, Throwable cause, Duration retryAfter) {
        super(message, cause);
        this.category = Objects.requireNonNull(category, "category");
        this.code = Objects.requireNonNull(code, "code");
        this.retryAfter = retryAfter;
    }

    /** The wait the server asked for before trying again, if it named one. */
    public Optional<Duration> retryAfter() {
        return Optional.ofNullable(retryAfter);
    }

    /** The kind of failure. */
    public Category category() {
        return category;
    }

    /** Which failure, as a stable SNAKE_CASE code. */
    public String code() {
        return code;
    }

    @Override
    public String toString() {
        return "OutpostException[" + category + "/" + code + "]: " + getMessage();
    }
}
