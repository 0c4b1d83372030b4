package dev.outpost.server.internal;

/**
 * The server's limits on what one request may carry.
 *
 * @param maxBodyBytes the largest request body accepted
 * @param maxOpsPerPush the most ops one push may carry
 * @param maxRecordBytes the largest record (or patch) one op may carry, as JSON
 * @param maxRecordDepth the deepest nesting a record (or patch) one op carries may have
 * @param maxPullLimit the most changes one pull returns, whatever it asks for
 * @param defaultPullLimit the changes a pull returns when it names no limit
 */
public record Limits(int maxBodyBytes, int maxOpsPerPush, int maxRecordBytes, int maxRecordDepth, int maxPullLimit,
        int defaultPullLimit) {
}
