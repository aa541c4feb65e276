-- Needs attention (issue 11 part 3): refunds that have had no final answer
-- from NeoX for too long, or whose unknown outcome survived its retries,
-- wait for a manager, who settles them with what NeoX's portal shows.
ALTER TABLE refunds ADD COLUMN attention_since  TEXT    NOT NULL DEFAULT ''; -- when it entered needs attention; '' = never
ALTER TABLE refunds ADD COLUMN attention_reason TEXT    NOT NULL DEFAULT ''; -- no_final_answer | unknown_after_retries
ALTER TABLE refunds ADD COLUMN resolved_by      INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN resolved_by_name TEXT    NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN resolved_at      TEXT    NOT NULL DEFAULT ''; -- non-empty: the final state was set by a manager
ALTER TABLE refunds ADD COLUMN resolution_note  TEXT    NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN resolution_ref   TEXT    NOT NULL DEFAULT ''; -- NeoX's reference, as seen in its portal

-- The queue: flagged refunds that are not final yet, oldest first. The
-- queue's query repeats this WHERE so SQLite can use the partial index.
CREATE INDEX refunds_attention ON refunds(attention_since, id)
	WHERE attention_since <> '' AND submission NOT IN ('SUCCEEDED', 'FAILED');

-- The COL sweep: what NeoX's refund list holds that the desk does not, or
-- holds in another state. One row per (request id, kind); a later sweep
-- updates it, and clears it when the difference is gone.
CREATE TABLE col_sweep_findings (
	id                   INTEGER PRIMARY KEY,
	request_id           TEXT    NOT NULL,              -- NeoX's requestId (the desk's refund id when it is ours)
	kind                 TEXT    NOT NULL CHECK (kind IN ('unknown_to_desk', 'state_differs')),
	desk_approval        TEXT    NOT NULL DEFAULT '',
	desk_submission      TEXT    NOT NULL DEFAULT '',
	collection_trans_id  TEXT    NOT NULL DEFAULT '',
	refund_trans_id      TEXT    NOT NULL DEFAULT '',
	neox_approval_status TEXT    NOT NULL DEFAULT '',
	neox_status          TEXT    NOT NULL DEFAULT '',
	amount               INTEGER NOT NULL DEFAULT 0,  -- VND, as NeoX lists it
	note                 TEXT    NOT NULL DEFAULT '',
	failed_reason        TEXT    NOT NULL DEFAULT '',
	neox_created_at      TEXT    NOT NULL DEFAULT '',
	first_seen_at        TEXT    NOT NULL,
	last_seen_at         TEXT    NOT NULL,
	last_sweep_id        INTEGER NOT NULL,
	cleared_at           TEXT    NOT NULL DEFAULT '',  -- a later sweep saw the difference gone
	UNIQUE (request_id, kind)
);
CREATE INDEX col_sweep_findings_open ON col_sweep_findings(first_seen_at, id) WHERE cleared_at = '';

-- Every COL sweep: when, over which window, what it read and found, or why it failed.
CREATE TABLE col_sweeps (
	id          INTEGER PRIMARY KEY,
	started_at  TEXT    NOT NULL,
	finished_at TEXT    NOT NULL DEFAULT '',
	window_from TEXT    NOT NULL,
	window_to   TEXT    NOT NULL,
	pages       INTEGER NOT NULL DEFAULT 0,
	docs        INTEGER NOT NULL DEFAULT 0,
	findings    INTEGER NOT NULL DEFAULT 0, -- open findings after this sweep
	error       TEXT    NOT NULL DEFAULT ''
);
