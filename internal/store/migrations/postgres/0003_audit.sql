-- PostgreSQL version of ../0003_audit.sql. The append-only rule is three
-- plpgsql triggers raising an integrity violation (SQLSTATE 23000, which
-- store.IsConstraint recognises), as SQLite's RAISE(ABORT) triggers do.
CREATE TABLE audit_events (
	seq         BIGINT PRIMARY KEY,
	at          TEXT   NOT NULL,
	actor_id    BIGINT NOT NULL DEFAULT 0,
	actor_name  TEXT   NOT NULL DEFAULT '',
	actor_role  TEXT   NOT NULL DEFAULT '',
	action      TEXT   NOT NULL,
	outcome     TEXT   NOT NULL,
	target_type TEXT   NOT NULL DEFAULT '',
	target_id   TEXT   NOT NULL DEFAULT '',
	client_ip   TEXT   NOT NULL DEFAULT '',
	user_agent  TEXT   NOT NULL DEFAULT '',
	request_id  TEXT   NOT NULL DEFAULT '',
	details     TEXT   NOT NULL DEFAULT '{}',
	prev_hash   TEXT   NOT NULL CHECK (length(prev_hash) = 64),
	hash        TEXT   NOT NULL CHECK (length(hash) = 64)
);

CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'integrity_constraint_violation';
END
$$;

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();

-- Inserts may only go past the end (the primary key already refuses a
-- repeated seq; this refuses filling a gap behind the head).
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.seq <= (SELECT coalesce(max(seq), 0) FROM audit_events) THEN
		RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'integrity_constraint_violation';
	END IF;
	RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE INSERT ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();

CREATE INDEX audit_events_at      ON audit_events(at, seq);
CREATE INDEX audit_events_actor   ON audit_events(actor_name, seq);
CREATE INDEX audit_events_action  ON audit_events(action, seq);
CREATE INDEX audit_events_outcome ON audit_events(outcome, seq);
CREATE INDEX audit_events_target  ON audit_events(target_type, target_id, seq);
