-- PostgreSQL only: the audit chain is linked inside the database. Every
-- appender needs the head row's lock, and holds it until its commit ends.
-- Linked in Go, the holder made three round trips under it (read the head,
-- insert, commit); with audit_link it makes two (this call, the commit),
-- and the next appender waits that much less. The rules are those of
-- store.auditLink and the encoding that of store.AuditHasher (the audit
-- package's "Canonical encoding"); TestAuditLinkConformance compares them.
-- SQLite has one writer and links in Go.

-- audit_field is one length-prefixed field of the canonical encoding: the
-- UTF-8 byte length as a 4-byte big-endian integer, then the bytes.
CREATE FUNCTION audit_field(s text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT int4send(octet_length(convert_to(s, 'UTF8'))) || convert_to(s, 'UTF8') $$;

-- audit_link appends the given events (one array element per event, every
-- array as long as the first) after the head, which it locks, and moves the
-- head row to the last one, which it returns. Each event gets the next
-- seq, the previous hash (the genesis hash first), a time no earlier than
-- the previous event's, and its hash.
CREATE FUNCTION audit_link(
	p_at text[], p_actor_id bigint[], p_actor_name text[], p_actor_role text[],
	p_action text[], p_outcome text[], p_target_type text[], p_target_id text[],
	p_client_ip text[], p_user_agent text[], p_request_id text[], p_details text[],
	OUT head_seq bigint, OUT head_hash text, OUT head_at text)
LANGUAGE plpgsql AS $$
DECLARE
	n int := coalesce(array_length(p_at, 1), 0);
	seqs bigint[] := '{}';
	ats text[] := '{}';
	prevs text[] := '{}';
	hashes text[] := '{}';
	prev text;
	a text;
BEGIN
	SELECT seq, hash, at INTO head_seq, head_hash, head_at FROM audit_head WHERE id = 1 FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'the audit chain head row is missing' USING ERRCODE = 'no_data_found';
	END IF;
	FOR i IN 1 .. n LOOP
		prev := CASE WHEN head_seq = 0 THEN repeat('0', 64) ELSE head_hash END;
		a := CASE WHEN p_at[i] COLLATE "C" < head_at COLLATE "C" THEN head_at ELSE p_at[i] END;
		head_seq := head_seq + 1;
		head_at := a;
		head_hash := encode(sha256(
			audit_field(prev) || audit_field('refunddesk.audit.v1') ||
			audit_field(head_seq::text) || audit_field(a) || audit_field(p_actor_id[i]::text) ||
			audit_field(p_actor_name[i]) || audit_field(p_actor_role[i]) ||
			audit_field(p_action[i]) || audit_field(p_outcome[i]) ||
			audit_field(p_target_type[i]) || audit_field(p_target_id[i]) ||
			audit_field(p_client_ip[i]) || audit_field(p_user_agent[i]) ||
			audit_field(p_request_id[i]) || audit_field(p_details[i])), 'hex');
		seqs := seqs || head_seq;
		ats := ats || a;
		prevs := prevs || prev;
		hashes := hashes || head_hash;
	END LOOP;
	IF n = 0 THEN
		RETURN;
	END IF;
	INSERT INTO audit_events (seq, at, actor_id, actor_name, actor_role, action, outcome, target_type,
		target_id, client_ip, user_agent, request_id, details, prev_hash, hash)
	SELECT * FROM unnest(seqs, ats, p_actor_id, p_actor_name, p_actor_role, p_action, p_outcome,
		p_target_type, p_target_id, p_client_ip, p_user_agent, p_request_id, p_details, prevs, hashes);
	UPDATE audit_head SET seq = head_seq, hash = head_hash, at = head_at WHERE id = 1;
END
$$;
