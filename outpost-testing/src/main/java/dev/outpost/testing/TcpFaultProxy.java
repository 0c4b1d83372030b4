package dev.outpost.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A TCP proxy on a loopback port that forwards to a target and breaks the network on command:
 * the faults a phone on a train sees, without root or netem.
 *
 * <p>A fault applies to connections accepted after it is set; {@link #set} with
 * {@link Fault#RESET} also resets every open connection, so pooled HTTP connections go down
 * too. With {@link #randomFaults} each new connection draws its fault from a seeded random.
 */
public final class TcpFaultProxy implements AutoCloseable {

    /** What the proxy does to a connection. */
    public enum Fault {
        /** Forward both ways. */
        NONE,
        /** Reset the connection at once: the device is offline. */
        RESET,
        /** Forward the request but only the first {@code cutAfterBytes} of the answer, then reset: the answer is lost. */
        CUT_RESPONSE,
        /** Accept and read, never forward or answer: the request times out. */
        BLACKHOLE,
        /** Forward after waiting {@code delayMillis} per chunk. */
        DELAY
    }

    private final InetSocketAddress target;
    private final ServerSocket listener;
    private final ExecutorService threads = Executors.newCachedThreadPool(runnable -> {
        Thread thread = new Thread(runnable, "tcp-fault-proxy");
        thread.setDaemon(true);
        return thread;
    });
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private final AtomicLong connections = new AtomicLong();
    private volatile Fault fault = Fault.NONE;
    private volatile int cutAfterBytes = 0;
    private volatile long delayMillis = 0;
    private volatile double faultProbability = 0;
    private volatile Random random;

    private TcpFaultProxy(InetSocketAddress target, ServerSocket listener) {
        this.target = target;
        this.listener = listener;
    }

    /** Starts a proxy on a free loopback port forwarding to {@code host:port}. */
    public static TcpFaultProxy start(String host, int port) throws IOException {
        ServerSocket listener = new ServerSocket();
        listener.setReuseAddress(true);
        listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        TcpFaultProxy proxy = new TcpFaultProxy(new InetSocketAddress(host, port), listener);
        proxy.threads.execute(proxy::acceptLoop);
        return proxy;
    }

    /** The proxy's port. */
    public int port() {
        return listener.getLocalPort();
    }

    /** The proxy's base URL for HTTP clients. */
    public String url() {
        return "http://127.0.0.1:" + port();
    }

    /** How many connections the proxy has accepted. */
    public long connections() {
        return connections.get();
    }

    /** Applies {@code fault} to new connections; RESET also resets the open ones. Turns random faults off. */
    public void set(Fault fault) {
        this.faultProbability = 0;
        this.fault = fault;
        if (fault == Fault.RESET) {
            for (Socket socket : open) {
                reset(socket);
            }
        }
    }

    /** Bytes of each answer forwarded before a CUT_RESPONSE fault resets the connection. */
    public void cutAfterBytes(int bytes) {
        this.cutAfterBytes = bytes;
    }

    /** The wait before each forwarded chunk under a DELAY fault. */
    public void delayMillis(long millis) {
        this.delayMillis = millis;
    }

    /**
     * From now on each new connection, with {@code probability}, gets a fault drawn from RESET
     * and CUT_RESPONSE (with a random cut point), else none; {@code seed} makes it repeatable.
     */
    public void randomFaults(double probability, long seed) {
        this.random = new Random(seed);
        this.fault = Fault.NONE;
        this.faultProbability = probability;
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket client = listener.accept();
                connections.incrementAndGet();
                threads.execute(() -> handle(client));
            } catch (IOException e) {
                return;
            }
        }
    }

    private void handle(Socket client) {
        Fault chosen = fault;
        int cut = cutAfterBytes;
        if (faultProbability > 0) {
            synchronized (this) {
                if (random.nextDouble() < faultProbability) {
                    chosen = random.nextBoolean() ? Fault.RESET : Fault.CUT_RESPONSE;
                    cut = random.nextInt(200);
                } else {
                    chosen = Fault.NONE;
                }
            }
        }
        open.add(client);
        try {
            switch (chosen) {
                case RESET -> reset(client);
                case BLACKHOLE -> drain(client);
                default -> forward(client, chosen, cut);
            }
        } finally {
            open.remove(client);
        }
    }

    private void forward(Socket client, Fault chosen, int cut) {
        try (Socket upstream = new Socket()) {
            upstream.connect(target, 5_000);
            open.add(upstream);
            threads.execute(() -> pipe(client, upstream, -1, chosen));
            pipe(upstream, client, chosen == Fault.CUT_RESPONSE ? cut : -1, chosen);
        } catch (IOException e) {
            reset(client);
        }
    }

    private void pipe(Socket from, Socket to, int limit, Fault chosen) {
        byte[] buffer = new byte[8192];
        long sent = 0;
        try {
            InputStream in = from.getInputStream();
            OutputStream out = to.getOutputStream();
            int n;
            while ((n = in.read(buffer)) != -1) {
                if (chosen == Fault.DELAY && delayMillis > 0) {
                    Thread.sleep(delayMillis);
                }
                if (limit >= 0 && sent + n > limit) {
                    out.write(buffer, 0, (int) (limit - sent));
                    out.flush();
                    reset(to);
                    reset(from);
                    return;
                }
                out.write(buffer, 0, n);
                out.flush();
                sent += n;
            }
            to.shutdownOutput();
        } catch (IOException e) {
            reset(to);
            reset(from);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.remove(from);
        }
    }

    private static void drain(Socket client) {
        try (InputStream in = client.getInputStream()) {
            byte[] buffer = new byte[8192];
            while (in.read(buffer) != -1) {
                // swallow: nothing is ever answered
            }
        } catch (IOException e) {
            // the client gave up
        }
    }

    private static void reset(Socket socket) {
        try {
            socket.setSoLinger(true, 0);
            socket.close();
        } catch (SocketException e) {
            // already closed
        } catch (IOException e) {
            // already closed
        }
    }

    /** Stops accepting and resets every open connection. */
    @Override
    public void close() {
        try {
            listener.close();
        } catch (IOException e) {
            // closing anyway
        }
        for (Socket socket : open) {
            reset(socket);
        }
        threads.shutdownNow();
        try {
            threads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
