-- Outpost local store, schema version 6 (PRAGMA user_version = 6).
--
-- records.server_data: NULL while server_deleted = 0 means the server state is the view
--                      (data), stored once. Most records are in sync, and a synced record
--                      then writes and keeps its JSON once instead of twice. Writes to the
--                      view first copy such a server state into server_data.
UPDATE records SET server_data = NULL WHERE server_deleted = 0 AND deleted = 0 AND server_data = data;
