-- SQLite has one writer and links the audit chain in Go (store.auditLink).
-- On PostgreSQL, migrations/postgres/0048_audit_link.sql defines
-- audit_link, which links inside the database. This file keeps the two
-- databases at the same migration count, which copy checks.
SELECT 1;
