-- Outpost local store, schema version 7 (PRAGMA user_version = 7).
--
-- ops_unbased: the open ops (PENDING or DEAD) stored without a base version. An op takes a
--              base version only as its record's first open op (see OpQueue.insert), so every
--              open op that is not its record's first is here, with the few first ones that
--              have no base yet. A record none of whose open ops is here has one open op at
--              most: the answers to a push look here, in a small index, for a sent record's
--              other open ops, instead of among all its ops.
CREATE INDEX ops_unbased ON ops (collection, record_id, seq) WHERE base_version IS NULL AND status IN ('PENDING', 'DEAD');
