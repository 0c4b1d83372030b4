/** The Outpost sync server: protocol v1 over HTTP on a database. */
module dev.outpost.server {
    requires transitive dev.outpost.protocol;
    requires com.nimbusds.jose.jwt;
    requires io.javalin;
    requires micrometer.core;
    requires micrometer.registry.prometheus;
    requires java.sql;
    requires org.xerial.sqlitejdbc;
    requires org.postgresql.jdbc;
    requires com.zaxxer.hikari;
    requires flyway.core;
    requires org.slf4j;

    exports dev.outpost.server;
}
