-- The sweep is a product capability (product.Sweeper): a finding names the
-- product whose NeoX refund list showed it, so that a sweep clears only the
-- findings of the products it read in full. The findings before this one
-- came from COL's list, the only one swept then.
ALTER TABLE col_sweep_findings ADD COLUMN api TEXT NOT NULL DEFAULT '';
UPDATE col_sweep_findings SET api = 'COL';
