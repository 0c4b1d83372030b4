-- Outpost server schema, version 2 (PostgreSQL): the change log by record and version, so the
-- MERGE conflict policy can read a record as it was at an op's base version.
CREATE INDEX changes_by_record ON changes (scope, collection, record_id, version);
