-- The audit chain's head as a row of its own: the seq, hash and time of the
-- newest event. An append reads it locked (see AppendAudit in
-- internal/store/audit.go), links the new event to it and moves it, all in
-- one transaction, so two writers can never read the same head and fork the
-- chain. SQLite's immediate transaction already serialises writers; the row
-- is what a database with row locks (SELECT ... FOR UPDATE) would lock.
-- Verify checks that it agrees with the newest event, so a trail cut at its
-- end is noticed unless the head row is rewound too.
CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL CHECK (seq >= 0),
	hash TEXT    NOT NULL CHECK (length(hash) = 64),
	at   TEXT    NOT NULL DEFAULT ''
);

INSERT INTO audit_head (id, seq, hash, at)
SELECT 1, coalesce((SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), 0),
	coalesce((SELECT hash FROM audit_events ORDER BY seq DESC LIMIT 1), printf('%064d', 0)),
	coalesce((SELECT at FROM audit_events ORDER BY seq DESC LIMIT 1), '');

-- The append now writes the search index itself, after the event, instead
-- of through a trigger. A trigger that writes to the FTS5 table makes every
-- insert open a statement savepoint, and FTS5 flushes its pending terms to
-- disk at each savepoint: one tiny index segment per event, plus the merges
-- they cause, where a transaction of many events should write one.
DROP TRIGGER audit_events_target_search;

-- For the same reason the append-only check fails with FAIL rather than
-- ABORT: ABORT promises to undo the statement's earlier changes, which needs
-- a statement savepoint. The check runs before the row is written, so FAIL
-- leaves nothing behind either, and the append's INSERT OR FAIL needs none.
DROP TRIGGER audit_events_append_only;
CREATE TRIGGER audit_events_append_only BEFORE INSERT ON audit_events
WHEN NEW.seq <= (SELECT coalesce(max(seq), 0) FROM audit_events)
BEGIN
	SELECT RAISE(FAIL, 'audit_events is append-only');
END;
