-- PostgreSQL only: the audit chain is linked inside the database, at the
-- commit. Every appender needs the head row's lock and holds it until its
-- commit ends. Linked in Go, the holder made three round trips under it
-- (read the head, insert, commit), each a wait for a client process that,
-- on a busy machine, may not be running. Now a transaction inserts its
-- events, unlinked, into audit_pending; at its COMMIT a deferred trigger
-- locks the head, links them into audit_events and moves the head, and the
-- lock is held for that work and the commit's WAL flush alone, with no
-- client in between. The rules are those of store.auditLink and the
-- encoding that of store.AuditHasher (the audit package's "Canonical
-- encoding"); TestAuditLinkConformance compares them. SQLite has one writer
-- and links in Go.

-- audit_field is one length-prefixed field of the canonical encoding: the
-- UTF-8 byte length as a 4-byte big-endian integer, then the bytes.
CREATE FUNCTION audit_field(s text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT int4send(octet_length(convert_to(s, 'UTF8'))) || convert_to(s, 'UTF8') $$;

-- audit_pending holds a transaction's events until its commit moves them
-- into audit_events. A row never outlives its transaction (inserted and
-- deleted by it, so no other transaction ever sees one), hence UNLOGGED:
-- no WAL for it, and nothing to lose when a crash empties it.
CREATE UNLOGGED TABLE audit_pending (
	id          BIGSERIAL PRIMARY KEY,
	at          TEXT   NOT NULL,
	actor_id    BIGINT NOT NULL,
	actor_name  TEXT   NOT NULL,
	actor_role  TEXT   NOT NULL,
	action      TEXT   NOT NULL,
	outcome     TEXT   NOT NULL,
	target_type TEXT   NOT NULL,
	target_id   TEXT   NOT NULL,
	client_ip   TEXT   NOT NULL,
	user_agent  TEXT   NOT NULL,
	request_id  TEXT   NOT NULL,
	details     TEXT   NOT NULL
);

-- audit_link appends the transaction's pending events in the order it
-- inserted them after the head, which it locks, moves the head row to the
-- last one and returns it (NULLs when nothing was pending). Each event gets
-- the next seq, the previous hash (the genesis hash first), a time no
-- earlier than the previous event's, and its hash.
CREATE FUNCTION audit_link(OUT head_seq bigint, OUT head_hash text, OUT head_at text)
LANGUAGE plpgsql AS $$
DECLARE
	r audit_pending;
	prev text;
	locked boolean := false;
BEGIN
	FOR r IN SELECT * FROM audit_pending ORDER BY id LOOP
		IF NOT locked THEN
			SELECT seq, hash, at INTO head_seq, head_hash, head_at FROM audit_head WHERE id = 1 FOR UPDATE;
			IF NOT FOUND THEN
				RAISE EXCEPTION 'the audit chain head row is missing' USING ERRCODE = 'no_data_found';
			END IF;
			locked := true;
		END IF;
		prev := CASE WHEN head_seq = 0 THEN repeat('0', 64) ELSE head_hash END;
		IF r.at COLLATE "C" > head_at COLLATE "C" THEN
			head_at := r.at;
		END IF;
		head_seq := head_seq + 1;
		head_hash := encode(sha256(
			audit_field(prev) || audit_field('refunddesk.audit.v1') ||
			audit_field(head_seq::text) || audit_field(head_at) || audit_field(r.actor_id::text) ||
			audit_field(r.actor_name) || audit_field(r.actor_role) ||
			audit_field(r.action) || audit_field(r.outcome) ||
			audit_field(r.target_type) || audit_field(r.target_id) ||
			audit_field(r.client_ip) || audit_field(r.user_agent) ||
			audit_field(r.request_id) || audit_field(r.details)), 'hex');
		INSERT INTO audit_events (seq, at, actor_id, actor_name, actor_role, action, outcome, target_type,
			target_id, client_ip, user_agent, request_id, details, prev_hash, hash)
		VALUES (head_seq, head_at, r.actor_id, r.actor_name, r.actor_role, r.action, r.outcome,
			r.target_type, r.target_id, r.client_ip, r.user_agent, r.request_id, r.details, prev, head_hash);
	END LOOP;
	IF locked THEN
		DELETE FROM audit_pending;
		UPDATE audit_head SET seq = head_seq, hash = head_hash, at = head_at WHERE id = 1;
	END IF;
END
$$;

-- At the commit, the first pending row's trigger links them all; the
-- others find their row gone.
CREATE FUNCTION audit_pending_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (SELECT 1 FROM audit_pending WHERE id = NEW.id) THEN
		PERFORM audit_link();
	END IF;
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_pending_commit AFTER INSERT ON audit_pending
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_pending_commit();
