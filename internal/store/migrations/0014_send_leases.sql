-- A worker's claim of a refund it is sending (submission SENDING) carries
-- its owner (the worker's id) and a lease expiry. At start, a worker takes
-- over only claims whose owner is gone: the lease has expired, or the
-- server holds the database's single-server lock, so no other worker is
-- alive. Rows claimed before this migration have no lease and count as
-- expired.
ALTER TABLE refunds ADD COLUMN lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE refunds ADD COLUMN lease_until TEXT NOT NULL DEFAULT '';
