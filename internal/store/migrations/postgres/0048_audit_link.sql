-- PostgreSQL only: the audit chain is linked inside the database, at the
-- commit. Every appender needs the head row's lock and holds it until its
-- commit ends. Linked in Go, the holder made three round trips under it
-- (read the head, insert and move it, commit), each a wait for a client
-- process that, on a busy machine, may not be running. Now a transaction
-- inserts its events, unlinked, into audit_pending; at its COMMIT a
-- deferred trigger per event locks the head, links the event into
-- audit_events and moves the head, and the lock is held for that work and
-- the commit's WAL flush alone, with no client in between. The rules are
-- those of store.auditLink and the encoding that of store.AuditHasher (the
-- audit package's "Canonical encoding"); TestAuditLinkConformance compares
-- them. SQLite has one writer and links in Go.

-- audit_hash is the hash of the canonical encoding of fields: each one's
-- UTF-8 byte length as a 4-byte big-endian integer, then its bytes; the
-- SHA-256 of them all in lowercase hex.
CREATE FUNCTION audit_hash(fields text[]) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
	f text;
	b bytea;
	buf bytea := '';
BEGIN
	FOREACH f IN ARRAY fields LOOP
		b := convert_to(f, 'UTF8');
		buf := buf || int4send(length(b)) || b;
	END LOOP;
	RETURN encode(sha256(buf), 'hex');
END
$$;

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

-- audit_link_one links pending event r after the head, which it locks:
-- the next seq, the previous hash (the genesis hash first), a time no
-- earlier than the previous event's, and its hash; it moves the head row
-- to it and returns the new head. A row linked already (by audit_link,
-- before the commit) is not linked again: the head's fields are NULL.
CREATE FUNCTION audit_link_one(r audit_pending, OUT head_seq bigint, OUT head_hash text, OUT head_at text)
LANGUAGE plpgsql AS $$
DECLARE
	prev text;
BEGIN
	DELETE FROM audit_pending WHERE id = r.id;
	IF NOT FOUND THEN
		RETURN;
	END IF;
	SELECT seq, hash, at INTO head_seq, head_hash, head_at FROM audit_head WHERE id = 1 FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'the audit chain head row is missing' USING ERRCODE = 'no_data_found';
	END IF;
	prev := CASE WHEN head_seq = 0 THEN repeat('0', 64) ELSE head_hash END;
	IF r.at COLLATE "C" > head_at COLLATE "C" THEN
		head_at := r.at;
	END IF;
	head_seq := head_seq + 1;
	head_hash := audit_hash(ARRAY[prev, 'refunddesk.audit.v1', head_seq::text, head_at, r.actor_id::text,
		r.actor_name, r.actor_role, r.action, r.outcome, r.target_type, r.target_id,
		r.client_ip, r.user_agent, r.request_id, r.details]);
	INSERT INTO audit_events (seq, at, actor_id, actor_name, actor_role, action, outcome, target_type,
		target_id, client_ip, user_agent, request_id, details, prev_hash, hash)
	VALUES (head_seq, head_at, r.actor_id, r.actor_name, r.actor_role, r.action, r.outcome,
		r.target_type, r.target_id, r.client_ip, r.user_agent, r.request_id, r.details, prev, head_hash);
	UPDATE audit_head SET seq = head_seq, hash = head_hash, at = head_at WHERE id = 1;
END
$$;

-- audit_link links the transaction's pending events now, in the order it
-- inserted them (no other transaction's row is ever visible), and returns
-- the new head: for a transaction that reads the trail back before its
-- commit.
CREATE FUNCTION audit_link(OUT head_seq bigint, OUT head_hash text, OUT head_at text)
LANGUAGE plpgsql AS $$
DECLARE
	r audit_pending;
BEGIN
	FOR r IN SELECT * FROM audit_pending ORDER BY id LOOP
		SELECT l.head_seq, l.head_hash, l.head_at INTO head_seq, head_hash, head_at FROM audit_link_one(r) AS l;
	END LOOP;
END
$$;

-- At the commit, each pending row's trigger links it, in the order they
-- were inserted: the head row's lock is taken inside the COMMIT.
CREATE FUNCTION audit_pending_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM audit_link_one(NEW);
	RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER audit_pending_commit AFTER INSERT ON audit_pending
	DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION audit_pending_commit();
