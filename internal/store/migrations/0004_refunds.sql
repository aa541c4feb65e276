-- Refund domain (internal/refunds): refunds with their two status axes
-- (in-house approval, submission to NeoX), one row per submission attempt,
-- every webhook delivery (deduplicated), and cached transaction lookups.
-- Times are store.TimeFormat (fixed-width UTC text); '' means "not set".
-- requested_by / decided_by are user ids with a name snapshot beside them;
-- there is deliberately no foreign key to users: a refund outlives its users.
CREATE TABLE refunds (
	id                   TEXT    PRIMARY KEY, -- UUID, also the NeoX requestId / neo_RequestID
	api                  TEXT    NOT NULL CHECK (api IN ('PG', 'GC', 'COL')),
	transaction_ref      TEXT    NOT NULL,    -- PG transaction id, GC collectionOrderId, COL collectionTransId
	payment_id           TEXT    NOT NULL DEFAULT '', -- PG payment id
	amount               INTEGER NOT NULL CHECK (amount > 0), -- minor units of currency (VND has none)
	currency             TEXT    NOT NULL DEFAULT 'VND',
	payment_method       TEXT    NOT NULL DEFAULT '',
	reason_code          TEXT    NOT NULL DEFAULT '',
	reason_text          TEXT    NOT NULL DEFAULT '',
	fee_charge_way       TEXT    NOT NULL DEFAULT '',
	sub_merchant_id      TEXT    NOT NULL DEFAULT '',
	bank_swift           TEXT    NOT NULL DEFAULT '',
	bank_account_number  TEXT    NOT NULL DEFAULT '', -- full: NeoX needs it; masked whenever displayed
	bank_account_name    TEXT    NOT NULL DEFAULT '',
	bank_branch          TEXT    NOT NULL DEFAULT '',
	requested_by         INTEGER NOT NULL,
	requested_by_name    TEXT    NOT NULL DEFAULT '',
	requested_at         TEXT    NOT NULL,
	idempotency_key      TEXT    UNIQUE,      -- form token; NULL when none was given
	approval             TEXT    NOT NULL DEFAULT 'PENDING'
		CHECK (approval IN ('PENDING', 'APPROVED', 'REJECTED', 'CANCELLED')),
	decided_by           INTEGER NOT NULL DEFAULT 0,
	decided_by_name      TEXT    NOT NULL DEFAULT '',
	decided_at           TEXT    NOT NULL DEFAULT '',
	decision_note        TEXT    NOT NULL DEFAULT '',
	submission           TEXT    NOT NULL DEFAULT 'NOT_SENT'
		CHECK (submission IN ('NOT_SENT', 'QUEUED', 'SENDING', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'UNKNOWN')),
	neox_refund_id       TEXT    NOT NULL DEFAULT '', -- PG transId, GC refundRequestId, COL refundTransId
	neox_approval_status TEXT    NOT NULL DEFAULT '', -- COL approvalStatus
	neox_status          TEXT    NOT NULL DEFAULT '',
	neox_code            TEXT    NOT NULL DEFAULT '',
	neox_message         TEXT    NOT NULL DEFAULT '',
	neox_response_id     TEXT    NOT NULL DEFAULT '',
	failed_reason        TEXT    NOT NULL DEFAULT '', -- verbatim from NeoX
	-- PG only: the payment's refundedAmount seen just before the first send
	-- (-1 unknown) and when, for settling by QUERY_PT when no IPN arrives.
	neox_refunded_base   INTEGER NOT NULL DEFAULT -1,
	neox_base_at         TEXT    NOT NULL DEFAULT '',
	attempts             INTEGER NOT NULL DEFAULT 0,
	last_error           TEXT    NOT NULL DEFAULT '',
	next_attempt_at      TEXT    NOT NULL DEFAULT '', -- next send (QUEUED/UNKNOWN) or poll (PROCESSING)
	updated_at           TEXT    NOT NULL,
	final_at             TEXT    NOT NULL DEFAULT '',
	CHECK (approval = 'APPROVED' OR submission = 'NOT_SENT')
);
CREATE INDEX refunds_requested ON refunds(requested_at, id);
CREATE INDEX refunds_amount ON refunds(amount, id);
CREATE INDEX refunds_approval ON refunds(approval, requested_at);
CREATE INDEX refunds_submission ON refunds(submission, next_attempt_at);
CREATE INDEX refunds_ref ON refunds(api, transaction_ref);
CREATE INDEX refunds_neox_id ON refunds(api, neox_refund_id) WHERE neox_refund_id <> '';

-- One row per claim of a refund by the submission worker.
CREATE TABLE refund_attempts (
	refund_id        TEXT    NOT NULL REFERENCES refunds(id),
	n                INTEGER NOT NULL,
	started_at       TEXT    NOT NULL,
	finished_at      TEXT    NOT NULL DEFAULT '',
	outcome          TEXT    NOT NULL DEFAULT '', -- success | rejected | unknown | reconciled | interrupted
	neox_code        TEXT    NOT NULL DEFAULT '',
	neox_message     TEXT    NOT NULL DEFAULT '',
	neox_response_id TEXT    NOT NULL DEFAULT '',
	latency_ms       INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (refund_id, n)
);

-- Every distinct webhook event; repeated deliveries bump deliveries.
CREATE TABLE webhook_events (
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
	applied          TEXT    NOT NULL CHECK (applied IN ('applied', 'duplicate', 'stale', 'unknown_refund')),
	raw_body         TEXT    NOT NULL DEFAULT '' -- bank account numbers masked
);
CREATE INDEX webhook_events_refund ON webhook_events(refund_id, received_at);
CREATE INDEX webhook_events_unmatched ON webhook_events(received_at) WHERE refund_id IS NULL;

-- Last live answer per looked-up transaction ("recent lookups").
CREATE TABLE transactions_cache (
	api        TEXT NOT NULL CHECK (api IN ('PG', 'GC', 'COL')),
	ref        TEXT NOT NULL,
	payload    TEXT NOT NULL, -- JSON
	fetched_at TEXT NOT NULL,
	PRIMARY KEY (api, ref)
);
CREATE INDEX transactions_cache_fetched ON transactions_cache(fetched_at);
