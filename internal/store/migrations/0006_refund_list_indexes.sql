-- The refunds list filters by one column and pages by (requested_at, id):
-- each index below lets SQLite walk the filter in page order and stop after
-- one page, instead of sorting every match (measured by internal/loadtest:
-- a staff member's own list took ~200 ms at 1M refunds without the first).
CREATE INDEX refunds_list_requester  ON refunds(requested_by, requested_at, id);
CREATE INDEX refunds_list_submission ON refunds(submission, requested_at, id);
CREATE INDEX refunds_list_approval   ON refunds(approval, requested_at, id);
CREATE INDEX refunds_list_api        ON refunds(api, requested_at, id);
