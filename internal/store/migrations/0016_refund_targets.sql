-- One row per refund target (a PG payment, a GC collection order, a COL
-- collection transaction), written by the refundable-amount check before it
-- sums what other refunds of the target reserve (store.Tx.LockTarget). The
-- write takes the target's row lock until the transaction ends, so two
-- writers checking the same target run one after the other: on SQLite the
-- immediate transaction already serialises them, on a database with
-- several writers (PostgreSQL) the upsert holds the row lock as
-- SELECT ... FOR UPDATE would. checks only counts them.
CREATE TABLE refund_targets (
	api             TEXT    NOT NULL,
	transaction_ref TEXT    NOT NULL,
	payment_id      TEXT    NOT NULL,
	checks          INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (api, transaction_ref, payment_id)
) WITHOUT ROWID;
