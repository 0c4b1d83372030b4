package dev.outpost.client;

/** When a write call returns, what it survives. */
public enum Durability {
    /**
     * The default: the write is fsynced before the call returns, so it survives a killed
     * process and a power loss. Concurrent writers share fsyncs.
     */
    DURABLE,
    /**
     * The write reaches the operating system before the call returns: it survives a killed
     * process but not a power loss or kernel crash. For bulk loads that can be redone. A sync
     * still forces the store once per pushed batch, before it goes, so that ops the server may
     * hold are never taken for unsent after a power loss.
     */
    PROCESS_SAFE
}
