/** The Outpost client: an offline-first local store that syncs with an Outpost server. */
module dev.outpost.client {
    requires transitive dev.outpost.protocol;
    requires java.net.http;
    requires java.sql;
    requires org.xerial.sqlitejdbc;
    requires org.slf4j;
    requires static micrometer.core;
    requires transitive com.google.crypto.tink;

    exports dev.outpost.client;
}
