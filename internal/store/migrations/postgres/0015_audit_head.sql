-- PostgreSQL version of ../0015_audit_head.sql. Here the head row is what
-- serialises appenders: AppendAudit reads it with SELECT ... FOR UPDATE.
CREATE TABLE audit_head (
	id   BIGINT PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL CHECK (seq >= 0),
	hash TEXT   NOT NULL CHECK (length(hash) = 64),
	at   TEXT   NOT NULL DEFAULT ''
);

INSERT INTO audit_head (id, seq, hash, at)
SELECT 1, coalesce((SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), 0),
	coalesce((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), repeat('0', 64)),
	coalesce((SELECT at FROM audit_events ORDER BY seq DESC LIMIT 1), '');
