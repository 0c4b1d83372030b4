-- Outpost local store, schema version 3 (PRAGMA user_version = 3): fewer b-tree pages
-- written per local write, since each page written is what a commit costs.
--
-- records becomes WITHOUT ROWID: one b-tree keyed by (collection, id), not a table plus an
--         index.
-- ops     loses AUTOINCREMENT (no sqlite_sequence row to write per insert; a new op takes
--         max(seq) + 1, so seq still orders ops as written), the UNIQUE index on op_id (op ids
--         are UUIDv7, looked up only for dead ops) and the (status, seq) index, which
--         ops_ready's (status, priority, seq) serves.
-- meta.hlc is no longer written by every write: on open the clock restarts after the later of
--         meta.hlc (written by pulls) and the hlc of the newest op.
CREATE TABLE records_v3 (
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
) WITHOUT ROWID;
INSERT INTO records_v3 (collection, id, data, deleted, server_data, server_version, server_deleted, server_hlc, last_synced_at)
    SELECT collection, id, data, deleted, server_data, server_version, server_deleted, server_hlc, last_synced_at FROM records;
DROP TABLE records;
ALTER TABLE records_v3 RENAME TO records;

CREATE TABLE ops_v3 (
    seq             INTEGER PRIMARY KEY,
    op_id           TEXT    NOT NULL,
    collection      TEXT    NOT NULL,
    record_id       TEXT    NOT NULL,
    type            TEXT    NOT NULL,
    base_version    INTEGER,
    data            TEXT,
    hlc             TEXT    NOT NULL,
    priority        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    status          TEXT    NOT NULL,
    result          TEXT,
    finished_at     INTEGER,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    sent_at         INTEGER,
    size            INTEGER NOT NULL DEFAULT 0
);
INSERT INTO ops_v3 (seq, op_id, collection, record_id, type, base_version, data, hlc, priority, created_at, attempts,
        last_error, status, result, finished_at, next_attempt_at, sent_at, size)
    SELECT seq, op_id, collection, record_id, type, base_version, data, hlc, priority, created_at, attempts,
        last_error, status, result, finished_at, next_attempt_at, sent_at, size FROM ops;
DROP TABLE ops;
ALTER TABLE ops_v3 RENAME TO ops;
CREATE INDEX ops_by_record ON ops (collection, record_id, status, seq);
CREATE INDEX ops_ready ON ops (status, priority, seq);
