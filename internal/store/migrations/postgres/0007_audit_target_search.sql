-- PostgreSQL version of ../0007_audit_target_search.sql: "target contains"
-- search through a pg_trgm GIN index on audit_events.target_id itself, which
-- answers ILIKE '%text%' for three characters or more. There is no separate
-- search table to keep in step.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX audit_events_target_trgm ON audit_events USING gin (target_id gin_trgm_ops);
