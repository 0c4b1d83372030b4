package dev.outpost.server.internal;

import java.sql.Connection;
import java.sql.SQLException;

/** How the store gets database connections: one transaction of work at a time per call. */
interface Connections extends AutoCloseable {

    /** Work done on a connection; may throw {@link SQLException} and {@link ApiException}. */
    @FunctionalInterface
    interface Work<T> {
        T run(Connection connection) throws SQLException;
    }

    /**
     * Runs {@code work} in one transaction and commits it. On any exception the transaction
     * is rolled back; a transaction the database aborted to break a deadlock or a
     * serialization conflict is run again from the start.
     */
    <T> T write(Work<T> work) throws SQLException;

    /** Runs {@code work} on a connection that sees the last committed state. */
    <T> T read(Work<T> work) throws SQLException;

    @Override
    void close();
}
