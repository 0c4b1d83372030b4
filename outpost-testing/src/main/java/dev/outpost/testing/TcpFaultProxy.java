package dev.outpost.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.EnumMap;
import java.util.Map;
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
 * <p>RESET and BLACKHOLE apply to connections accepted after they are set, and RESET also
 * resets every open connection, so pooled HTTP connections go down too. CUT_RESPONSE and the
 * random faults of {@link #randomFaults} are drawn per request, so they break requests on
 * pooled keep-alive connections as well as new ones.
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
    private final Map<Fault, AtomicLong> faulted = new EnumMap<>(Fault.class);
    private volatile Fault fault = Fault.NONE;
    private volatile int cutAfterBytes = 0;
    private volatile long delayMillis = 0;
    private volatile double faultProbability = 0;
    private volatile Random random;

    private TcpFaultProxy(InetSocketAddress target, ServerSocket listener) {
        this.target = target;
        this.listener = listener;
        for (Fault fault : Fault.values()) {
            faulted.put(fault, new AtomicLong());
        }
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

    /** How many connections the proxy has broken in any way. */
    public long faults() {
        return faulted.entrySet().stream().filter(e -> e.getKey() != Fault.NONE).mapToLong(e -> e.getValue().get()).sum();
    }

    /** How many connections got {@code fault}. */
    public long faults(Fault fault) {
        return faulted.get(fault).get();
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
     * From now on each request, with {@code probability}, gets a fault drawn from RESET (the
     * request never arrives) and CUT_RESPONSE (it arrives, its answer is cut at a random byte),
     * else none; {@code seed} makes the draws repeatable.
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
        open.add(client);
        try {
            Fault atAccept = faultProbability > 0 ? Fault.NONE : fault;
            switch (atAccept) {
                case RESET -> {
                    count(Fault.RESET);
                    reset(client);
                }
                case BLACKHOLE -> {
                    count(Fault.BLACKHOLE);
                    drain(client);
                }
                default -> forward(client);
            }
        } finally {
            open.remove(client);
        }
    }

    /** The fault for the next request on a connection: a random one, or the fixed mode. */
    private Fault drawFault() {
        if (faultProbability > 0) {
            synchronized (this) {
                if (random.nextDouble() < faultProbability) {
                    return random.nextBoolean() ? Fault.RESET : Fault.CUT_RESPONSE;
                }
                return Fault.NONE;
            }
        }
        Fault current = fault;
        return current == Fault.CUT_RESPONSE || current == Fault.RESET ? current : Fault.NONE;
    }

    private synchronized int randomCut() {
        return random == null ? cutAfterBytes : random.nextInt(200);
    }

    private void count(Fault chosen) {
        faulted.get(chosen).incrementAndGet();
    }

    /** One proxied connection; a fault is drawn at the start of each request on it. */
    private final class Link {
        final Socket client;
        final Socket upstream;
        volatile boolean awaitingRequest = true;
        volatile long responseBudget = -1;

        Link(Socket client, Socket upstream) {
            this.client = client;
            this.upstream = upstream;
        }

        void requests() {
            byte[] buffer = new byte[8192];
            try {
                InputStream in = client.getInputStream();
                OutputStream out = upstream.getOutputStream();
                int n;
                while ((n = in.read(buffer)) != -1) {
                    if (awaitingRequest) {
                        awaitingRequest = false;
                        Fault drawn = drawFault();
                        count(drawn);
                        if (drawn == Fault.RESET) {
                            breakBoth();
                            return;
                        }
                        responseBudget = drawn == Fault.CUT_RESPONSE ? randomCut() : -1;
                    }
                    delay();
                    out.write(buffer, 0, n);
                    out.flush();
                }
                upstream.shutdownOutput();
            } catch (IOException e) {
                breakBoth();
            }
        }

        void responses() {
            byte[] buffer = new byte[8192];
            try {
                InputStream in = upstream.getInputStream();
                OutputStream out = client.getOutputStream();
                int n;
                while ((n = in.read(buffer)) != -1) {
                    awaitingRequest = true;
                    long budget = responseBudget;
                    if (budget >= 0 && n > budget) {
                        out.write(buffer, 0, (int) budget);
                        out.flush();
                        breakBoth();
                        return;
                    }
                    if (budget >= 0) {
                        responseBudget = budget - n;
                    }
                    delay();
                    out.write(buffer, 0, n);
                    out.flush();
                }
                client.shutdownOutput();
            } catch (IOException e) {
                breakBoth();
            }
        }

        private void delay() {
            if (fault == Fault.DELAY && delayMillis > 0) {
                try {
                    Thread.sleep(delayMillis);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        private void breakBoth() {
            reset(client);
            reset(upstream);
        }
    }

    private void forward(Socket client) {
        Socket upstream = new Socket();
        try {
            upstream.connect(target, 5_000);
        } catch (IOException e) {
            reset(client);
            reset(upstream);
            return;
        }
        open.add(upstream);
        Link link = new Link(client, upstream);
        try {
            threads.execute(link::requests);
            link.responses();
        } finally {
            open.remove(upstream);
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
