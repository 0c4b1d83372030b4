package dev.outpost.server.internal;

/**
 * The server's limits on what one request may carry.
 *
 * @param maxBodyBytes the largest request body accepted
 * @param maxOpsPerPush the most ops one push may carry
 * @param maxRecordBytes the largest record (or patch) one op may carry, as JSON
 * @param maxPullLimit the most changes one pull may ask for
 * @param defaultPullLimit the changes a pull returns when it names no limit
 */
public record Limits(int maxBodyBytes, int maxOpsPerPush, int maxRecordBytes, int maxPullLimit, int defaultPullLimit) {
}
