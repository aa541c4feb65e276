-- Append-only, hash-chained audit trail (see internal/audit/doc.go for the
-- canonical encoding that hash covers). seq is assigned by the writer as
-- previous seq + 1; at is store.TimeFormat and never decreases along seq.
CREATE TABLE audit_events (
	seq         INTEGER PRIMARY KEY,
	at          TEXT    NOT NULL,
	actor_id    INTEGER NOT NULL DEFAULT 0,
	actor_name  TEXT    NOT NULL DEFAULT '',
	actor_role  TEXT    NOT NULL DEFAULT '',
	action      TEXT    NOT NULL,
	outcome     TEXT    NOT NULL,
	target_type TEXT    NOT NULL DEFAULT '',
	target_id   TEXT    NOT NULL DEFAULT '',
	client_ip   TEXT    NOT NULL DEFAULT '',
	user_agent  TEXT    NOT NULL DEFAULT '',
	request_id  TEXT    NOT NULL DEFAULT '',
	details     TEXT    NOT NULL DEFAULT '{}',
	prev_hash   TEXT    NOT NULL CHECK (length(prev_hash) = 64),
	hash        TEXT    NOT NULL CHECK (length(hash) = 64)
);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- INSERT OR REPLACE deletes the old row without firing DELETE triggers
-- (recursive_triggers is off), so inserts may only go past the end.
CREATE TRIGGER audit_events_append_only BEFORE INSERT ON audit_events
WHEN NEW.seq <= (SELECT coalesce(max(seq), 0) FROM audit_events)
BEGIN
	SELECT RAISE(ABORT, 'audit_events is append-only');
END;

-- Keyset pagination is newest first by seq; every filter index ends in seq
-- (explicitly, though SQLite would append the rowid anyway) so a filtered
-- page is an index range walked backwards, never a sort.
CREATE INDEX audit_events_at      ON audit_events(at, seq);
CREATE INDEX audit_events_actor   ON audit_events(actor_name, seq);
CREATE INDEX audit_events_action  ON audit_events(action, seq);
CREATE INDEX audit_events_outcome ON audit_events(outcome, seq);
CREATE INDEX audit_events_target  ON audit_events(target_type, target_id, seq);
