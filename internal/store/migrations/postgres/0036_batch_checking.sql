-- PostgreSQL version of ../0036_batch_checking.sql (the same statements).
-- Bulk refund previews checked in the background (issue 18, progress). An
-- upload keeps the batch at once in state CHECKING with its rows CHECKING
-- (rows the file itself refuses are ERROR from the start); a checker claims
-- the batch with a lease (its owner id and an expiry, renewed as it writes,
-- like the refund worker's claims), writes each row's verdict as it goes,
-- and moves the batch to PREVIEW when no row is left CHECKING. A checker
-- that stops mid-way (crash, restart) leaves its checked rows written; the
-- next one takes the lease over and checks only the rows still CHECKING.
-- CANCELLED: the uploader stopped the check (nothing can be submitted).
-- checked_at is when the check finished or was cancelled ('' until then).
ALTER TABLE refund_batches ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE refund_batches ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';
ALTER TABLE refund_batches ADD COLUMN checked_at  TEXT NOT NULL DEFAULT '';
CREATE INDEX refund_batches_checking ON refund_batches (created_at) WHERE state = 'CHECKING';
