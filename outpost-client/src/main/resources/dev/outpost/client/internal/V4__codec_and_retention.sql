-- Outpost local store, schema version 4 (PRAGMA user_version = 4).
--
-- ops.codec: how ops.data is stored: 0 = JSON text; 1 = deflate-compressed UTF-8 JSON in a
--            BLOB (payloads over 1 KB, see Payloads). ops.size stays the uncompressed size.
-- ops_finished: finished ops by time, for the retention purge.
ALTER TABLE ops ADD COLUMN codec INTEGER NOT NULL DEFAULT 0;
CREATE INDEX ops_finished ON ops (finished_at) WHERE finished_at IS NOT NULL;
