-- The audit review's target filter and the refund page's history ask for
-- one target_id, most often without its type. PostgreSQL has no skip scan,
-- so (target_type, target_id, seq) did not serve target_id alone and the
-- planner took the pg_trgm index for the equality instead: 156–669 ms on
-- 5M events (load run 12) against 1–2 ms on SQLite. Leading with
-- target_id serves both (a type and an id are two equalities); nothing
-- filters by target type alone. Rebuilt in the migration's transaction:
-- about half a minute on 5M events, once.
DROP INDEX audit_events_target;
CREATE INDEX audit_events_target ON audit_events (target_id, target_type, seq);
