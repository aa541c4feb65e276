-- A receiver's full bank account number is kept only while NeoX may still
-- need it: until the refund is final (NeoX's outcome, a rejection or a
-- cancellation). Then only the last four characters stay, behind '•', and
-- bank_account_hash (HMAC-SHA-256 with a key of this desk, taken when the
-- refund is requested) lets the desk still tell whether two refunds went
-- to the same account. The trigger does it in the transaction that makes
-- the refund final, whichever code path does that.
ALTER TABLE refunds ADD COLUMN bank_account_hash TEXT NOT NULL DEFAULT '';

CREATE TRIGGER refunds_forget_account AFTER UPDATE OF final_at ON refunds
WHEN NEW.final_at <> '' AND length(NEW.bank_account_number) > 4 AND NEW.bank_account_number NOT LIKE '•%'
BEGIN
	UPDATE refunds SET bank_account_number =
		replace(hex(zeroblob(length(NEW.bank_account_number) - 4)), '00', '•') || substr(NEW.bank_account_number, -4)
	WHERE id = NEW.id;
END;

-- Refunds that were final before this migration.
UPDATE refunds SET bank_account_number =
	replace(hex(zeroblob(length(bank_account_number) - 4)), '00', '•') || substr(bank_account_number, -4)
	WHERE final_at <> '' AND length(bank_account_number) > 4 AND bank_account_number NOT LIKE '•%';
