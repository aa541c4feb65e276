// Package audit is the append-only, hash-chained audit trail: recording
// events inside the caller's transaction, querying, exporting and verifying.
//
// # Storage
//
// Events live in the audit_events table (migration 0003_audit.sql); the
// SQL is the store's (internal/store/audit.go, audit_query.go), this
// package has the rules. SQLite triggers abort every UPDATE and DELETE, and
// any INSERT whose seq is not past the current end (which also stops INSERT
// OR REPLACE from silently deleting a row). Record runs inside the caller's
// write transaction: the event commits if and only if the change it
// describes commits. The store's AppendAudit reads the chain's head from
// the audit_head row (migration 0015) locked inside that transaction, and
// moves it in the same transaction, so two writers can never append after
// the same head and fork the chain (on SQLite the immediate transaction on
// the single writer connection serialises them; a database with row locks
// would lock that row). seq is the previous seq + 1 (the first is 1); the
// time is the Log's clock, clamped so it never decreases along seq, which
// lets Query turn a time range into a seq range.
//
// Details are JSON. Before encoding, values under keys containing secret,
// password, passwd, token, key, hash, authorization, signature, cookie or
// cvv (case-insensitive) become "[redacted]", and values under keys
// containing account_number, accountNumber, account_no, bank_account,
// card_number or iban are masked to "****" plus their last four digits.
//
// # Canonical encoding
//
// Every row carries prev_hash (the previous row's hash; for the first row
// 64 "0" characters) and
//
//	hash = lowercase hex( SHA-256( F(prev_hash) ‖ F("refunddesk.audit.v1") ‖
//	         F(seq) ‖ F(at) ‖ F(actor_id) ‖ F(actor_name) ‖ F(actor_role) ‖
//	         F(action) ‖ F(outcome) ‖ F(target_type) ‖ F(target_id) ‖
//	         F(client_ip) ‖ F(user_agent) ‖ F(request_id) ‖ F(details) ) )
//
// where F(s) is the byte length of s as a 4-byte big-endian unsigned integer
// followed by the bytes of s, and every s is exactly the text stored in
// that column: prev_hash as 64 lowercase hex characters; seq and actor_id
// as base-10 integers without sign or leading zeros (actor_id 0 is "0");
// at as UTC in the layout 2006-01-02T15:04:05.000000Z (store.TimeFormat);
// the other columns as their UTF-8 text, details being the JSON text as
// stored (it is never re-encoded). The length prefixes make the encoding
// unambiguous, so an external tool needs only SQL and SHA-256 to re-verify:
// read rows ordered by seq and check that seq increases by exactly one,
// that prev_hash equals the previous row's hash, and that hash matches.
//
// Verify does that and reports the first row that fails: an edited row
// fails its own hash, a deleted row leaves a seq gap, and swapped or
// reordered rows break the prev_hash link. It then checks that the
// audit_head row names the last event and its hash, which catches rows cut
// off the end by someone who did not also rewind that row. Cutting rows
// off the end and rewinding the head row leaves a valid shorter chain; to
// detect it, the head is kept outside the database: WriteCheckpoint (`audit checkpoint`) signs it with a key that is
// not in the database, ExportCSV ends every export with it (TrailerHead),
// and CheckHead (`audit verify -checkpoint FILE`) requires the trail to
// still reach that seq with that hash.
//
// # Retention and archiving
//
// Events are kept forever by default. To move old events out of the live
// database without losing verifiability, an operator:
//
//  1. runs `audit verify` and keeps its output;
//  2. picks a cut point N (events 1..N-1 leave) and writes down the anchor
//     (N, prev_hash of row N) – the hash of row N-1;
//  3. exports rows 1..N-1 (`audit export` with a time filter, or
//     `sqlite3 db ".mode csv" "SELECT * FROM audit_events WHERE seq < N"`),
//     and stores that file, its SHA-256 and the anchor on write-once media;
//     the file re-verifies on its own from genesis with the encoding above,
//     and its last hash must equal the anchor's prev_hash;
//  4. in one transaction, drops the audit_events_no_delete trigger, deletes
//     WHERE seq < N, and recreates the trigger exactly as in 0003_audit.sql;
//  5. from then on verifies the live table with Verify(ctx, Anchor{Seq: N,
//     PrevHash: <anchor>}) (the zero Anchor would report event 1 missing).
//
// Archiving leaves the audit_head row alone: Record continues the chain
// from it. Never archive the newest row all the same, so the live table
// still shows where the chain ends.
package audit
