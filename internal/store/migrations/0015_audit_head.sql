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

-- The append writes the search index itself, once per transaction just
-- before the commit, instead of through this trigger: an insert into
-- audit_events fires triggers, so it opens a statement savepoint, and FTS5
-- flushes its pending terms at every savepoint. Indexed per event, a
-- transaction of many events wrote one tiny index segment per event.
DROP TRIGGER IF EXISTS audit_events_target_search;
