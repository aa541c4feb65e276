-- A staff member's own refund list shows totals per currency over up to
-- 10,000 of their refunds: with this index they are read from the index
-- alone instead of one table row each (154 ms at 1M refunds, load run 10).
CREATE INDEX refunds_requester_totals ON refunds(requested_by, currency, amount);
