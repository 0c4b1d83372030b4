package dev.outpost.protocol;

import java.util.Objects;

/**
 * The body of every error the server answers, and of a rejected operation's result.
 *
 * @param code a stable SNAKE_CASE code for programs, for example {@code MALFORMED_JSON}
 * @param message a sentence for people, naming the value or field that is wrong
 */
public record ErrorBody(String code, String message) {
    public ErrorBody {
        Objects.requireNonNull(code, "code");
        Objects.requireNonNull(message, "message");
    }
}
