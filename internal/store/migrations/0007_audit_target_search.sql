-- "Target contains" search on the audit trail: a trigram index over
-- target_id, so a substring of three or more characters is an index lookup
-- instead of a scan of every event (3–5 s at 5M events without it). It is
-- only an index: verification never reads it, and a stale row (after an
-- operator archives old events) matches nothing.
CREATE VIRTUAL TABLE audit_target_search USING fts5(target_id, tokenize = 'trigram');

INSERT INTO audit_target_search(rowid, target_id) SELECT seq, target_id FROM audit_events;

CREATE TRIGGER audit_events_target_search AFTER INSERT ON audit_events
BEGIN
	INSERT INTO audit_target_search(rowid, target_id) VALUES (new.seq, new.target_id);
END;
