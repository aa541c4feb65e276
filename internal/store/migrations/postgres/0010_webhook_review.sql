-- PostgreSQL: nothing to do. SQLite rebuilt webhook_events to widen a
-- CHECK; the PostgreSQL 0004 creates the table in its final shape.
SELECT 1;
