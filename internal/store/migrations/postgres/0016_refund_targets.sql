-- PostgreSQL version of ../0016_refund_targets.sql (no WITHOUT ROWID). The
-- upsert in store.Tx.LockTarget holds the target's row lock until commit,
-- so two instances checking one target's refundable amount take turns.
CREATE TABLE refund_targets (
	api             TEXT   NOT NULL,
	transaction_ref TEXT   NOT NULL,
	payment_id      TEXT   NOT NULL,
	checks          BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (api, transaction_ref, payment_id)
);
