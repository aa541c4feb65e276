-- Indexes behind the home dashboard (internal/refunds/stats.go). Each one
-- covers its query, so the dashboard reads index pages only, whatever the
-- size of the refunds table.
-- NeoX outcomes by time: refunded amounts today and this month, success and
-- failure counts, failure reasons, approval-to-final durations.
CREATE INDEX refunds_final ON refunds(submission, final_at, api, currency, amount, decided_at)
	WHERE final_at <> '';
-- Manager decisions by time: request-to-approval durations.
CREATE INDEX refunds_decided ON refunds(approval, decided_at, requested_at)
	WHERE decided_at <> '';
-- A maker's own requests by state (the staff dashboard and "my requests").
CREATE INDEX refunds_requester ON refunds(requested_by, approval, submission, requested_at);
-- Refunds stuck in UNKNOWN or PROCESSING: their count and the oldest
-- decision, without touching the table (a few rows, so a tiny index).
CREATE INDEX refunds_stuck ON refunds(submission, decided_at)
	WHERE submission IN ('UNKNOWN', 'PROCESSING');
