-- Webhook deliveries that are signed but cannot be trusted as they stand
-- are kept for review instead of applied (internal/refunds/webhooks.go):
--   suspicious   names a refund but disagrees with what the desk stored
--                (product, payment / order / transaction, amount, currency,
--                NeoX's refund id), or names a refund the desk never sent;
--   contradicts  a genuine outcome that contradicts a manager's manual
--                resolution of the refund.
-- reason says which check failed; event keeps a GC event that named a
-- refundRequestId before NeoX's answer told the desk that id. SQLite cannot change a CHECK in place,
-- so the table is rebuilt with its rows and indexes.
CREATE TABLE webhook_events_new (
	id               INTEGER PRIMARY KEY,
	api              TEXT    NOT NULL CHECK (api IN ('PG', 'GC', 'COL')),
	dedupe_key       TEXT    NOT NULL UNIQUE,
	refund_id        TEXT    REFERENCES refunds(id), -- NULL: unknown refund, kept for review
	event_ref        TEXT    NOT NULL DEFAULT '',    -- the id the event carried
	event_status     TEXT    NOT NULL DEFAULT '',
	received_at      TEXT    NOT NULL,
	last_received_at TEXT    NOT NULL,
	deliveries       INTEGER NOT NULL DEFAULT 1,
	verified         INTEGER NOT NULL DEFAULT 0 CHECK (verified IN (0, 1)),
	applied          TEXT    NOT NULL CHECK (applied IN ('applied', 'duplicate', 'stale', 'unknown_refund',
		'suspicious', 'contradicts')),
	reason           TEXT    NOT NULL DEFAULT '',
	raw_body         TEXT    NOT NULL DEFAULT '', -- bank account numbers masked
	-- A GC event no refund matched yet, as verified (JSON): applied once
	-- NeoX's answer gives the desk the refundRequestId it names.
	event            TEXT    NOT NULL DEFAULT ''
);
INSERT INTO webhook_events_new (id, api, dedupe_key, refund_id, event_ref, event_status, received_at,
	last_received_at, deliveries, verified, applied, raw_body)
	SELECT id, api, dedupe_key, refund_id, event_ref, event_status, received_at,
	last_received_at, deliveries, verified, applied, raw_body FROM webhook_events;
DROP TABLE webhook_events;
ALTER TABLE webhook_events_new RENAME TO webhook_events;
CREATE INDEX webhook_events_refund ON webhook_events(refund_id, received_at);
CREATE INDEX webhook_events_unmatched ON webhook_events(received_at) WHERE refund_id IS NULL;
CREATE INDEX webhook_events_held ON webhook_events(api, event_ref) WHERE applied = 'unknown_refund';
CREATE INDEX webhook_events_review ON webhook_events(received_at) WHERE applied IN ('suspicious', 'contradicts');
