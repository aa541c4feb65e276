-- Notifications (issue 18): an outbox. A notify_events row is written in
-- the same transaction as the change that causes it, with one
-- notify_deliveries row per recipient and channel (an email to a user, a
-- POST to a webhook endpoint), so a crash loses nothing. A dispatcher
-- claims a due delivery with a lease (owner, expiry) in a committed
-- transaction before sending it, records the outcome conditionally on its
-- lease, and retries with backoff until it gives up (FAILED, error kept).
CREATE TABLE notify_events (
	id         TEXT PRIMARY KEY,          -- UUID: the webhook's event id, for the receiver's de-duplication
	kind       TEXT NOT NULL,             -- refund.requested, refund.decided, refund.outcome, refund.needs_attention, refund.reminder, neox.outage
	refund_id  TEXT NOT NULL DEFAULT '',
	payload    TEXT NOT NULL,             -- JSON: what the message says
	dedupe     TEXT NOT NULL DEFAULT '',  -- non-empty: at most one event with it (a reminder per refund)
	created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX notify_events_dedupe ON notify_events(dedupe) WHERE dedupe <> '';
CREATE INDEX notify_events_refund ON notify_events(refund_id, kind);

CREATE TABLE notify_deliveries (
	id              INTEGER PRIMARY KEY,
	event_id        TEXT    NOT NULL REFERENCES notify_events(id),
	channel         TEXT    NOT NULL CHECK (channel IN ('email', 'webhook')),
	user_id         INTEGER NOT NULL DEFAULT 0, -- email: the recipient
	endpoint_id     INTEGER NOT NULL DEFAULT 0, -- webhook: the endpoint
	address         TEXT    NOT NULL,           -- the email address or URL, as it was when the event was written
	lang            TEXT    NOT NULL DEFAULT '',
	state           TEXT    NOT NULL DEFAULT 'PENDING' CHECK (state IN ('PENDING', 'SENDING', 'SENT', 'FAILED')),
	attempts        INTEGER NOT NULL DEFAULT 0,
	next_attempt_at TEXT    NOT NULL,
	lease_owner     TEXT    NOT NULL DEFAULT '',
	lease_until     TEXT    NOT NULL DEFAULT '',
	last_error      TEXT    NOT NULL DEFAULT '',
	last_status     INTEGER NOT NULL DEFAULT 0, -- webhook: the last HTTP status
	created_at      TEXT    NOT NULL,
	updated_at      TEXT    NOT NULL,
	sent_at         TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX notify_deliveries_due ON notify_deliveries(state, next_attempt_at);
CREATE INDEX notify_deliveries_lease ON notify_deliveries(state, lease_until);
CREATE INDEX notify_deliveries_recent ON notify_deliveries(updated_at, id);

-- A user's email address for notifications and the kinds they turned off
-- (comma-separated): no row, or a kind not listed, means on.
CREATE TABLE notify_prefs (
	user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
	email      TEXT NOT NULL DEFAULT '',
	muted      TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL
);

-- Outbound webhook endpoints admins register. The secret signs each POST;
-- it is shown once, when the endpoint is added.
CREATE TABLE notify_endpoints (
	id              INTEGER PRIMARY KEY,
	url             TEXT    NOT NULL,
	secret          TEXT    NOT NULL,
	events          TEXT    NOT NULL DEFAULT '', -- comma-separated kinds; '' = all
	created_by      INTEGER NOT NULL,
	created_by_name TEXT    NOT NULL,
	created_at      TEXT    NOT NULL,
	removed_at      TEXT    NOT NULL DEFAULT ''  -- non-empty: no new deliveries
);
