-- PostgreSQL version of ../0013_account_minimisation.sql: the same rule as
-- a BEFORE trigger that masks the number in the row being written (SQLite
-- updates the row again after the write).
ALTER TABLE refunds ADD COLUMN bank_account_hash TEXT NOT NULL DEFAULT '';

CREATE FUNCTION refunds_forget_account() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW.final_at <> '' AND length(NEW.bank_account_number) > 4 AND NEW.bank_account_number NOT LIKE '•%' THEN
		NEW.bank_account_number := repeat('•', length(NEW.bank_account_number) - 4) || right(NEW.bank_account_number, 4);
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER refunds_forget_account BEFORE UPDATE OF final_at ON refunds
	FOR EACH ROW EXECUTE FUNCTION refunds_forget_account();

UPDATE refunds SET bank_account_number =
	repeat('•', length(bank_account_number) - 4) || right(bank_account_number, 4)
	WHERE final_at <> '' AND length(bank_account_number) > 4 AND bank_account_number NOT LIKE '•%';
