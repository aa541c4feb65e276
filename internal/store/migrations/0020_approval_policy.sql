-- Approval policy (issue 17): rules per currency (optionally per product)
-- and per-approver limits, versioned. Each change is a new row holding the
-- whole policy as JSON (store.ApprovalPolicyRecord); the highest version is
-- in force. Rows are never updated or deleted, so what applied when is
-- always readable.
CREATE TABLE approval_policy_versions (
	version         BIGINT NOT NULL PRIMARY KEY,
	body            TEXT   NOT NULL,
	created_at      TEXT   NOT NULL,
	created_by      BIGINT NOT NULL,
	created_by_name TEXT   NOT NULL
);

-- The rule that applied to a refund, snapshotted when it was requested: a
-- policy change never touches refunds already requested. 0/1/'' on refunds
-- from before: one approver, no policy.
ALTER TABLE refunds ADD COLUMN policy_version     BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refunds ADD COLUMN approvals_required BIGINT NOT NULL DEFAULT 1;
ALTER TABLE refunds ADD COLUMN policy_rule        TEXT   NOT NULL DEFAULT '';

-- Each approval given to a refund, in order. A refund that needs two gets
-- two rows from two people: the primary key lets one writer take a step,
-- the unique key keeps one person from taking both, whatever the database
-- lets run concurrently.
CREATE TABLE refund_approvals (
	refund_id     TEXT   NOT NULL,
	step          BIGINT NOT NULL,
	approver_id   BIGINT NOT NULL,
	approver_name TEXT   NOT NULL,
	approver_role TEXT   NOT NULL,
	note          TEXT   NOT NULL DEFAULT '',
	approved_at   TEXT   NOT NULL,
	PRIMARY KEY (refund_id, step),
	UNIQUE (refund_id, approver_id)
);
