-- PostgreSQL only (migrations/postgres/0046_audit_target_first.sql): its
-- index on the audit trail's target leads with target_id. SQLite keeps
-- (target_type, target_id, seq): its planner skip-scans the few target
-- types, and this file changes nothing there.
SELECT 1;
