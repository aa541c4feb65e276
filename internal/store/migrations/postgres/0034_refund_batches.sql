-- PostgreSQL version of ../0034_refund_batches.sql (BIGINT integers).
-- Bulk refunds from a file (issue 18): one row per uploaded file, owned by
-- its uploader, and one row per line of the file with what the preview
-- found and, once submitted, the refund it became or why it did not.
-- Times are store.TimeFormat; '' means "not set". status of a row:
-- OK / ERROR after the preview, CREATED / FAILED after the submit.
-- The receiver's account number is kept only until the batch is submitted
-- (the refund keeps it from then on), then blanked here.
CREATE TABLE refund_batches (
	id               TEXT    PRIMARY KEY, -- UUID
	uploaded_by      BIGINT  NOT NULL,
	uploaded_by_name TEXT    NOT NULL DEFAULT '',
	file_name        TEXT    NOT NULL DEFAULT '',
	lang             TEXT    NOT NULL DEFAULT 'vi',
	state            TEXT    NOT NULL DEFAULT 'PREVIEW', -- PREVIEW | SUBMITTED
	created_at       TEXT    NOT NULL,
	submitted_at     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX refund_batches_by_uploader ON refund_batches (uploaded_by, created_at);

CREATE TABLE refund_batch_rows (
	batch_id            TEXT    NOT NULL REFERENCES refund_batches (id),
	row_no              BIGINT  NOT NULL, -- the file's line number (the header is line 1)
	api                 TEXT    NOT NULL DEFAULT '',
	transaction_ref     TEXT    NOT NULL DEFAULT '',
	payment_id          TEXT    NOT NULL DEFAULT '',
	amount_text         TEXT    NOT NULL DEFAULT '', -- as written in the file
	amount              BIGINT  NOT NULL DEFAULT 0,  -- minor units, what the refund will be
	currency            TEXT    NOT NULL DEFAULT '',
	reason_code         TEXT    NOT NULL DEFAULT '',
	reason_text         TEXT    NOT NULL DEFAULT '',
	fee_charge_way      TEXT    NOT NULL DEFAULT '',
	sub_merchant_id     TEXT    NOT NULL DEFAULT '',
	bank_swift          TEXT    NOT NULL DEFAULT '',
	bank_account_number TEXT    NOT NULL DEFAULT '',
	bank_account_name   TEXT    NOT NULL DEFAULT '',
	bank_branch         TEXT    NOT NULL DEFAULT '',
	status              TEXT    NOT NULL, -- OK | ERROR | CREATED | FAILED
	message             TEXT    NOT NULL DEFAULT '', -- in the uploader's language
	refund_id           TEXT    NOT NULL DEFAULT '',
	PRIMARY KEY (batch_id, row_no)
);
