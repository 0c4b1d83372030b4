-- Outpost server schema, version 1 (PostgreSQL). The same tables as the SQLite schema.
--
-- records:    the current state of every record, one row per (scope, collection, id);
--             version starts at 1 and grows by 1 per accepted change; a delete keeps the
--             row as a tombstone (deleted = 1, data NULL).
-- changes:    the change log that pull reads. Several transactions write at once here, so a
--             sequence alone would not give commit order (a number taken early and committed
--             late is skipped by a reader that has moved past it). A writer therefore takes
--             the change-log lock (a transaction-level advisory lock) just before inserting its
--             changes and holds it until its commit is visible: seq order is commit order.
-- devices:    the user each device id belongs to (the first user who pushed with it).
-- operations: every pushed op with its outcome; (device_id, op_id) is the idempotency key
--             and result is the JSON OpResult repeated to a re-sent op. Written in the
--             same transaction as the op's effect.
CREATE TABLE records (
    scope      TEXT    NOT NULL,
    collection TEXT    NOT NULL,
    id         TEXT    NOT NULL,
    version    BIGINT  NOT NULL,
    deleted    INTEGER NOT NULL,
    data       TEXT,
    hlc        TEXT,
    updated_at BIGINT  NOT NULL,
    PRIMARY KEY (scope, collection, id)
);

CREATE TABLE changes (
    seq           BIGSERIAL PRIMARY KEY,
    scope         TEXT    NOT NULL,
    collection    TEXT    NOT NULL,
    record_id     TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    deleted       INTEGER NOT NULL,
    data          TEXT,
    hlc           TEXT,
    origin_device TEXT    NOT NULL,
    origin_op     TEXT    NOT NULL,
    committed_at  BIGINT  NOT NULL
);
CREATE INDEX changes_by_scope ON changes (scope, seq);

CREATE TABLE devices (
    device_id  TEXT    PRIMARY KEY,
    user_id    TEXT    NOT NULL,
    first_seen BIGINT  NOT NULL
);

CREATE TABLE operations (
    device_id    TEXT    NOT NULL,
    op_id        TEXT    NOT NULL,
    user_id      TEXT    NOT NULL,
    collection   TEXT,
    record_id    TEXT,
    type         TEXT,
    status       TEXT    NOT NULL,
    result       TEXT    NOT NULL,
    received_at  BIGINT  NOT NULL,
    completed_at BIGINT  NOT NULL,
    PRIMARY KEY (device_id, op_id)
);
