package main

import (
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// migrate-to-postgres copies a SQLite desk with users, a refund with its
// attempt and webhook, settings and the audit chain into an empty
// PostgreSQL database, verifies the chain there, refuses to copy into it a
// second time, and leaves a target the server's commands use as is (new
// ids do not collide with copied ones).
func TestMigrateToPostgres(t *testing.T) {
	target := storetest.URL(t, storetest.Postgres)
	c := newCLI(t)
	for _, u := range []string{"hoa", "minh"} {
		if _, errOut, code := c.run("a long staff passphrase\n", "user", "add", "-username", u, "-role", "staff"); code != 0 {
			t.Fatalf("user add %s: %d %s", u, code, errOut)
		}
	}
	c.run("", "user", "disable", "-username", "minh")
	c.rawSQL(
		`INSERT INTO refunds (id, api, transaction_ref, amount, requested_by, requested_at, updated_at, approval, submission,
			decided_at, final_at, bank_account_number)
		 VALUES ('0b5c7a52-3f43-4a47-9f37-3d1c5a0c0a01', 'PG', 'TXN-1', 125000, 1, '2026-01-02T03:04:05.000000Z',
			'2026-01-02T03:04:05.000000Z', 'APPROVED', 'SUCCEEDED', '2026-01-02T03:05:00.000000Z', '2026-01-02T03:06:00.000000Z', '••••1234')`,
		`INSERT INTO refund_attempts (refund_id, n, started_at, outcome) VALUES ('0b5c7a52-3f43-4a47-9f37-3d1c5a0c0a01', 1, '2026-01-02T03:05:01.000000Z', 'success')`,
		`INSERT INTO webhook_events (api, dedupe_key, refund_id, received_at, last_received_at, applied)
		 VALUES ('PG', 'k1', '0b5c7a52-3f43-4a47-9f37-3d1c5a0c0a01', '2026-01-02T03:06:00.000000Z', '2026-01-02T03:06:00.000000Z', 'applied')`,
		`INSERT INTO settings (key, value) VALUES ('text_setting', 'stored as text'), ('blob_setting', x'00ff10')`,
		// An API key and its idempotency record (which must follow it).
		`INSERT INTO api_keys (id, name, prefix, secret_hash, scopes, created_by, created_at, expires_at)
		 VALUES (1, 'erp', 'abcdefghij', 'h', 'read create', 1, '2026-01-02T03:04:05.000000Z', '2027-01-02T03:04:05.000000Z')`,
		`INSERT INTO api_idempotency (key_id, idempotency_key, request_hash, status, response, refund_id, created_at)
		 VALUES (1, 'k', 'h', 201, '{}', '0b5c7a52-3f43-4a47-9f37-3d1c5a0c0a01', '2026-01-02T03:04:05.000000Z')`,
	)

	out, errOut, code := c.run("", "migrate-to-postgres", "-to", target)
	if code != 0 || !strings.Contains(out, "audit chain on the target OK") {
		t.Fatalf("migrate-to-postgres: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"users                    2 rows", "refunds                  1 rows", "refund_attempts          1 rows",
		"webhook_events           1 rows", "settings                 2 rows", "api_keys                 1 rows", "api_idempotency          1 rows"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out+errOut, "password=") {
		t.Errorf("output names a password:\n%s%s", out, errOut)
	}

	if _, errOut, code := c.run("", "migrate-to-postgres", "-to", target); code != 2 || !strings.Contains(errOut, "not empty") {
		t.Fatalf("second copy into the same target: exit %d, %q; want 2 and not empty", code, errOut)
	}

	// The server's commands on the target: the copied chain verifies and
	// grows, and a new user gets a new id.
	c.env["DATABASE_URL"] = target
	if _, errOut, code := c.run("a long staff passphrase\n", "user", "add", "-username", "lan", "-role", "manager"); code != 0 {
		t.Fatalf("user add on the target: %d %s", code, errOut)
	}
	if _, errOut, code := c.run("a long staff passphrase\n", "user", "add", "-username", "HOA", "-role", "staff"); code != 2 || !strings.Contains(errOut, "already taken") {
		t.Errorf("user add HOA on the target (hoa exists, names are case-insensitive): exit %d %s", code, errOut)
	}
	out, errOut, code = c.run("", "audit", "verify")
	if code != 0 || !strings.Contains(out, "audit chain OK") {
		t.Fatalf("audit verify on the target: %d %q %q", code, out, errOut)
	}
}

// The operator's progress lines: a big table announced, under way with
// its share and rate, done with its time, and each index rebuilt; an
// empty table says nothing.
func TestCopyProgressLines(t *testing.T) {
	var b strings.Builder
	p := copyProgress(&b)
	p(store.CopyProgress{Note: "slower"})
	p(store.CopyProgress{Table: "audit_events", Total: 5000000})
	p(store.CopyProgress{Table: "audit_events", Rows: 1000000, Total: 5000000, Elapsed: 10 * time.Second})
	p(store.CopyProgress{Table: "audit_events", Rows: 5000000, Total: 5000000, Elapsed: 50 * time.Second, Done: true})
	p(store.CopyProgress{Table: "sessions", Done: true})
	p(store.CopyProgress{Table: "audit_events", Index: "audit_events_at", Total: 5000000})
	p(store.CopyProgress{Table: "audit_events", Index: "audit_events_at", Total: 5000000, Elapsed: 12 * time.Second, Done: true})
	p(store.CopyProgress{Table: "users", Index: "users_small", Total: 3})
	p(store.CopyProgress{Table: "users", Index: "users_small", Total: 3, Elapsed: 10 * time.Millisecond, Done: true})
	want := `note: slower
audit_events             copying 5000000 rows
audit_events             1000000 of 5000000 rows (20%), 100000 rows/s
audit_events             5000000 rows copied in 50s (100000 rows/s)
index audit_events_at on audit_events: building
index audit_events_at on audit_events: built in 12s
index users_small on users: built in 0s
`
	if b.String() != want {
		t.Errorf("progress lines:\n%s\nwant:\n%s", b.String(), want)
	}
}
