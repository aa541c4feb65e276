-- PostgreSQL version of ../0009_refund_maker_counts.sql: the same counts
-- kept by plpgsql triggers in the transaction that changes the refund.
CREATE TABLE refund_maker_counts (
	requested_by BIGINT NOT NULL,
	status       TEXT   NOT NULL,
	n            BIGINT NOT NULL,
	PRIMARY KEY (requested_by, status)
);

INSERT INTO refund_maker_counts (requested_by, status, n)
	SELECT requested_by, CASE approval WHEN 'APPROVED' THEN submission ELSE approval END, count(*)
	FROM refunds GROUP BY 1, 2;

CREATE FUNCTION refunds_maker_counts() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
	old_status TEXT;
	new_status TEXT;
BEGIN
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		old_status := CASE OLD.approval WHEN 'APPROVED' THEN OLD.submission ELSE OLD.approval END;
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') THEN
		new_status := CASE NEW.approval WHEN 'APPROVED' THEN NEW.submission ELSE NEW.approval END;
	END IF;
	IF TG_OP = 'UPDATE' AND OLD.requested_by = NEW.requested_by AND old_status = new_status THEN
		RETURN NULL;
	END IF;
	IF TG_OP IN ('UPDATE', 'DELETE') THEN
		UPDATE refund_maker_counts SET n = n - 1 WHERE requested_by = OLD.requested_by AND status = old_status;
	END IF;
	IF TG_OP IN ('UPDATE', 'INSERT') THEN
		INSERT INTO refund_maker_counts AS c (requested_by, status, n) VALUES (NEW.requested_by, new_status, 1)
			ON CONFLICT (requested_by, status) DO UPDATE SET n = c.n + 1;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER refunds_maker_counts_insert AFTER INSERT ON refunds
	FOR EACH ROW EXECUTE FUNCTION refunds_maker_counts();
CREATE TRIGGER refunds_maker_counts_update AFTER UPDATE OF requested_by, approval, submission ON refunds
	FOR EACH ROW EXECUTE FUNCTION refunds_maker_counts();
CREATE TRIGGER refunds_maker_counts_delete AFTER DELETE ON refunds
	FOR EACH ROW EXECUTE FUNCTION refunds_maker_counts();
