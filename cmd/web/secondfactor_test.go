package main

import (
	"database/sql"
	"strings"
	"testing"
)

// The documented recovery when every factor is lost: user reset-2fa
// removes the authenticator and recovery codes, ends the sessions and
// prints a single-use enrolment link; audited as done from the CLI.
func TestUserResetSecondFactor(t *testing.T) {
	c := newCLI(t)
	if _, errOut, code := c.run("a long admin passphrase\n", "user", "add", "-username", "boss", "-role", "admin"); code != 0 {
		t.Fatalf("user add: %d %s", code, errOut)
	}
	c.rawSQL(
		`INSERT INTO mfa_totp (user_id, secret, confirmed_at, last_step, created_at) SELECT id, 'v1.sealed', '2026-12-01T00:00:00Z', 5, '2026-12-01T00:00:00Z' FROM users WHERE username = 'boss'`,
		`INSERT INTO mfa_recovery_codes (user_id, code_hash) SELECT id, 'h1' FROM users WHERE username = 'boss'`,
		`INSERT INTO sessions (id, user_id, created_at, last_seen_at) SELECT 's1', id, '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z' FROM users WHERE username = 'boss'`,
	)
	out, errOut, code := c.run("", "user", "reset-2fa", "-username", "boss")
	if code != 0 || !strings.Contains(out, "second factor reset for boss") || !strings.Contains(out, "/account/2fa/link?t=") {
		t.Fatalf("reset-2fa: %d %q %q", code, out, errOut)
	}
	db, err := sql.Open("sqlite", c.env["DB_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{`SELECT count(*) FROM mfa_totp`, `SELECT count(*) FROM mfa_recovery_codes`, `SELECT count(*) FROM sessions`} {
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s = %d, %v; want 0", q, n, err)
		}
	}
	var links int
	if err := db.QueryRow(`SELECT count(*) FROM mfa_enrol_links WHERE used_at = ''`).Scan(&links); err != nil || links != 1 {
		t.Errorf("enrolment links = %d, %v; want 1", links, err)
	}
	if n := c.countAudit("mfa.reset"); n != 1 {
		t.Errorf("%d mfa.reset events, want 1", n)
	}
	if n := c.countAudit("mfa.enrol_link_issued"); n != 1 {
		t.Errorf("%d mfa.enrol_link_issued events, want 1", n)
	}
	// The token is printed once, never stored or audited.
	token := out[strings.Index(out, "t=")+2:]
	token = strings.TrimSpace(token)
	var hits int
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE details LIKE ?`, "%"+token+"%").Scan(&hits); err != nil || hits != 0 {
		t.Errorf("token in the audit trail: %d %v", hits, err)
	}
	if _, _, code := c.run("", "user", "reset-2fa", "-username", "nobody"); code != 2 {
		t.Errorf("unknown user: exit %d, want 2", code)
	}
}
