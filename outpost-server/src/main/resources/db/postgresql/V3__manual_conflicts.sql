-- Outpost server schema, version 3 (PostgreSQL): conflicts kept for review (MANUAL policy).
--
-- conflicts: one row per op that conflicted in a MANUAL collection. base is the record at the
--            op's base version (NULL if unknown), local the op as sent (type and data),
--            remote the server's record when the conflict arose. status is OPEN until
--            POST /v1/conflicts/{id}/resolve settles it: resolution SERVER, CLIENT or MERGED,
--            resolved_version the record version the resolution wrote (NULL for SERVER).
CREATE TABLE conflicts (
    id               TEXT    PRIMARY KEY,
    scope            TEXT    NOT NULL,
    collection       TEXT    NOT NULL,
    record_id        TEXT    NOT NULL,
    device_id        TEXT    NOT NULL,
    op_id            TEXT    NOT NULL,
    base             TEXT,
    local            TEXT    NOT NULL,
    remote           TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    resolution       TEXT,
    resolved_version BIGINT,
    created_at       BIGINT  NOT NULL,
    resolved_at      BIGINT
);
CREATE INDEX conflicts_open ON conflicts (scope, status, created_at);
