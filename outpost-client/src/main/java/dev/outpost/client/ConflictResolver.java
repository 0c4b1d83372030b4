package dev.outpost.client;

/**
 * An app's own way of settling conflicts in a collection, registered with
 * {@link OutpostConfig.Builder#conflictResolver}; it decides instead of the collection's
 * {@link ClientConflictPolicy}.
 *
 * <p>The conflict is stored before the resolver is asked, and the resolver is called on the
 * syncing thread after the store committed the push's results, outside the store's lock: it
 * may read the store, and may take its time, though a sync waits for it (so it must not wait
 * for a sync itself: {@link Outpost#sync()} called there throws IllegalStateException).
 * Each conflict is put
 * to the resolver once; one still waiting for it when the app stopped is put to it when the
 * store next opens.
 *
 * <p>Failure contract: a resolver that throws, returns null, or returns merged data nested
 * too deeply leaves the conflict pending, as {@link Resolution#later()} does, with the reason in
 * {@link Conflict#error()}; it is reported to {@link OutpostListener#conflictDetected} and
 * listed by {@link Outpost#conflicts()} until the app settles it. Nothing is dropped.
 *
 * <pre>{@code
 * builder.conflictResolver("notes", conflict -> conflict.remote() == null
 *         ? Resolution.useLocal()                                   // bring it back
 *         : Resolution.merged(combine(conflict.local(), conflict.remote())));
 * }</pre>
 */
@FunctionalInterface
public interface ConflictResolver {

    /**
     * Decides a conflict.
     *
     * @param conflict the conflict, as stored
     * @return how to settle it; {@link Resolution#later()} to leave it for the app
     * @throws Exception when it cannot decide; the conflict then stays pending
     */
    Resolution resolve(Conflict conflict) throws Exception;
}
