-- Outpost local store, schema version 5 (PRAGMA user_version = 5).
--
-- conflicts: one row per CONFLICT answer to one of the device's ops, settled on the device by
--            the collection's ClientConflictPolicy or ConflictResolver, or held for the app.
--            id:                a UUIDv7, what Outpost.resolveConflict takes.
--            op_seq, op_id:     the ops row of the device's change and the id the server answered.
--                               While the conflict is OPEN that row stays (status CONFLICT, not
--                               purged) and the record's later ops wait behind it; a change that
--                               is sent again goes in that same row, under a new op id, so it
--                               keeps its place before the record's later ops.
--            base, local, remote: the record's fields (JSON, sensitive fields sealed) before the
--                               device's change (NULL if unknown), as the change made them (NULL
--                               for a delete), and on the server (NULL if deleted).
--            remote_version, remote_deleted, local_hlc, remote_hlc: the server's version and
--                               tombstone, the timestamps of both changes.
--            status:            OPEN (waiting for the app; for its resolver while
--                               awaiting_resolver = 1) or RESOLVED.
--            resolution:        SERVER, LOCAL or MERGED; resolved_by the policy's name, RESOLVER
--                               or APP; requeued_op_id the op that carries the winning change to
--                               the server (NULL if the server's record already held it).
--            error:             why the collection's resolver did not settle it.
--            Resolved rows are purged with finished ops, after the retention period.
CREATE TABLE conflicts (
    id                TEXT    PRIMARY KEY,
    op_seq            INTEGER NOT NULL,
    op_id             TEXT    NOT NULL,
    collection        TEXT    NOT NULL,
    record_id         TEXT    NOT NULL,
    base              TEXT,
    local             TEXT,
    remote            TEXT,
    remote_version    INTEGER NOT NULL,
    remote_deleted    INTEGER NOT NULL,
    local_hlc         TEXT    NOT NULL,
    remote_hlc        TEXT,
    detected_at       INTEGER NOT NULL,
    status            TEXT    NOT NULL,
    awaiting_resolver INTEGER NOT NULL DEFAULT 0,
    resolution        TEXT,
    resolved_by       TEXT,
    requeued_op_id    TEXT,
    error             TEXT,
    resolved_at       INTEGER
);
CREATE INDEX conflicts_by_record ON conflicts (collection, record_id, status);
CREATE INDEX conflicts_by_status ON conflicts (status, op_seq);
