-- Outpost local store, schema version 2 (PRAGMA user_version = 2).
--
-- ops.next_attempt_at: milliseconds since the epoch before which the op is not sent (0: now);
--                      set from the retry policy after a failed attempt.
-- ops.sent_at:         when the op was first handed to the transport. The server may have
--                      applied a sent op even if its answer was lost, so a sent op is never
--                      changed again (coalescing folds writes only into unsent ops).
-- ops.size:            bytes of the op's payload as JSON.
-- ops.status gains DISCARDED: a dead op the app chose to drop; it stays for the record.
ALTER TABLE ops ADD COLUMN next_attempt_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ops ADD COLUMN sent_at INTEGER;
ALTER TABLE ops ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ops_ready ON ops (status, priority, seq);
