-- The language of the maker's session when the refund was asked for. The
-- worker sends it as Accept-Language on the refund's NeoX calls, so the
-- messages NeoX returns (stored verbatim, shown to staff) are in the
-- maker's language. '' on older rows: NeoX's default, Vietnamese.
ALTER TABLE refunds ADD COLUMN lang TEXT NOT NULL DEFAULT '';
