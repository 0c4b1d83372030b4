-- Outpost local store, schema version 1 (PRAGMA user_version = 1).
--
-- meta:    device_id (created once), cursor (the last pull cursor), hlc (the clock's last
--          timestamp, so it never runs backwards across restarts).
-- records: per record, the local view (data, deleted) that reads return, and the server
--          state it is based on (server_data, server_version, server_deleted; version 0 means
--          never on the server). The local view is always the server state with the
--          record's PENDING ops applied in seq order.
-- ops:     the durable queue. seq is the write order. status is PENDING until the server
--          answers, then APPLIED, CONFLICT (server's record kept; result holds it) or DEAD
--          (rejected; last_error says why). base_version is the server version the op was
--          written against, or NULL when it follows another pending op of the same record
--          (its base is then known only when that one is applied).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE records (
    collection     TEXT    NOT NULL,
    id             TEXT    NOT NULL,
    data           TEXT,
    deleted        INTEGER NOT NULL,
    server_data    TEXT,
    server_version INTEGER NOT NULL,
    server_deleted INTEGER NOT NULL,
    server_hlc     TEXT,
    last_synced_at INTEGER,
    PRIMARY KEY (collection, id)
);

CREATE TABLE ops (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    op_id        TEXT    NOT NULL UNIQUE,
    collection   TEXT    NOT NULL,
    record_id    TEXT    NOT NULL,
    type         TEXT    NOT NULL,
    base_version INTEGER,
    data         TEXT,
    hlc          TEXT    NOT NULL,
    priority     TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    status       TEXT    NOT NULL,
    result       TEXT,
    finished_at  INTEGER
);
CREATE INDEX ops_by_status ON ops (status, seq);
CREATE INDEX ops_by_record ON ops (collection, record_id, status, seq);
