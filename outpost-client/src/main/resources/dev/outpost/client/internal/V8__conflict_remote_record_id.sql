-- Outpost local store, schema version 8 (PRAGMA user_version = 8).
--
-- conflicts.remote_record_id: the id the server holds the conflict's record under, when it is
--                             not the device's: the server matched the device's CREATE to a
--                             record it already held by the collection's natural key. NULL
--                             means the same id as record_id.
ALTER TABLE conflicts ADD COLUMN remote_record_id TEXT;
