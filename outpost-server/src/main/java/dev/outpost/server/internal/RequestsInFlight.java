package dev.outpost.server.internal;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.eclipse.jetty.server.AbstractConnector;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpChannel;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Server;

/**
 * The requests a server's connectors have begun and not yet completed, where completed means
 * the answer's last byte was written to the connection. A stop waits for this count to reach
 * zero: Jetty's own request statistics end a request when its handler returns, before the
 * answer (written after the handler by Javalin and Jetty) has left, and stopping in that
 * window cuts the answer off.
 */
public final class RequestsInFlight implements HttpChannel.Listener {
    private final Set<Request> open = Collections.synchronizedSet(Collections.newSetFromMap(new IdentityHashMap<>()));

    /** Counts the requests of every connector {@code server} has; call before it starts. */
    public void watch(Server server) {
        for (Connector connector : server.getConnectors()) {
            if (connector instanceof AbstractConnector counted) {
                counted.addBean(this);
            }
        }
    }

    /** How many requests have begun and are not yet completed. */
    public int count() {
        return open.size();
    }

    @Override
    public void onRequestBegin(Request request) {
        open.add(request);
    }

    @Override
    public void onComplete(Request request) {
        // Removed by identity: a request that failed before it began was never added.
        open.remove(request);
    }
}
