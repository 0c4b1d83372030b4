package dev.outpost.server.internal;

import dev.outpost.protocol.ErrorBody;
import dev.outpost.protocol.Wire;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.handler.ErrorHandler;

/**
 * The answers to requests Jetty refuses before any handler sees them (a request line or
 * headers too large, a request that is not valid HTTP), as the protocol's
 * {@code {"code","message"}} body instead of Jetty's HTML page.
 */
public final class JettyErrors extends ErrorHandler {
    /**
     * The most bytes of request line and headers together: room for the largest token the
     * protocol allows (100 shared scopes of 64-character names and a 200-character subject are
     * about 12 KB of JWT) beside the other headers. Jetty's default is 8 KiB.
     */
    public static final int MAX_REQUEST_HEADER_BYTES = 32 * 1024;

    @Override
    public ByteBuffer badMessageError(int status, String reason, HttpFields.Mutable fields) {
        fields.put(HttpHeader.CONTENT_TYPE, "application/json");
        return ByteBuffer.wrap(Wire.writeBytes(body(status, reason)));
    }

    static ErrorBody body(int status, String reason) {
        return switch (status) {
            case 414 -> new ErrorBody("URI_TOO_LONG", "the request's URL is too long: the request line may be at most "
                    + MAX_REQUEST_HEADER_BYTES + " bytes");
            case 431 -> new ErrorBody("HEADERS_TOO_LARGE", "the request's headers are too large: request line and headers "
                    + "may be at most " + MAX_REQUEST_HEADER_BYTES + " bytes together (is the bearer token that large?)");
            case 400 -> new ErrorBody("INVALID_REQUEST", "the request is not valid HTTP"
                    + (reason == null || reason.isBlank() || reason.equals("Bad Request") ? "" : ": " + reason)
                    + " (a URL may not hold an encoded NUL, %00, or an ambiguous path)");
            default -> new ErrorBody("HTTP_" + status, "the request was refused before it reached the API"
                    + (reason == null || reason.isBlank() ? "" : ": " + reason));
        };
    }
}
