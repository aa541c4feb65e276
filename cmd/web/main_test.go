package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

type cli struct {
	t   *testing.T
	env map[string]string
}

func newCLI(t *testing.T) *cli {
	return &cli{t: t, env: map[string]string{"DB_PATH": filepath.Join(t.TempDir(), "cli.db")}}
}

// run executes the command and returns its output and exit code.
func (c *cli) run(stdin string, args ...string) (string, string, int) {
	c.t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return c.env[k] }, strings.NewReader(stdin), &out, &errOut)
	code := 0
	if err != nil {
		code = exitCode(err)
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), code
}

func TestUserCommands(t *testing.T) {
	c := newCLI(t)
	if out, errOut, code := c.run("a long staff passphrase\n", "user", "add", "-username", "hoa", "-role", "manager", "-name", "Lê Hoa"); code != 0 || !strings.Contains(out, "added hoa (manager)") {
		t.Fatalf("user add: %d %q %q", code, out, errOut)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"duplicate", "another passphrase!!\n", []string{"user", "add", "-username", "hoa", "-role", "staff"}, 1, "taken"},
		{"bad role", "another passphrase!!\n", []string{"user", "add", "-username", "lan", "-role", "boss"}, 2, "role"},
		{"no password", "", []string{"user", "add", "-username", "lan"}, 2, "no password on stdin"},
		{"short password", "short\n", []string{"user", "add", "-username", "lan"}, 1, "12"},
		{"disable", "", []string{"user", "disable", "-username", "hoa"}, 0, "disabled hoa"},
		{"unknown user", "", []string{"user", "disable", "-username", "nobody"}, 1, "nobody"},
		{"reset", "a fresh passphrase here\n", []string{"user", "reset-password", "-username", "hoa"}, 0, "password reset for hoa"},
		{"missing username", "", []string{"user", "disable"}, 2, "-username is required"},
		{"unknown command", "", []string{"frobnicate"}, 2, "unknown command"},
		{"migrate", "", []string{"migrate"}, 0, "applied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := c.run(tt.stdin, tt.args...)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Fatalf("exit %d (want %d), output %q %q, want %q", code, tt.code, out, errOut, tt.want)
			}
		})
	}
}

func TestAuditCommands(t *testing.T) {
	c := newCLI(t)
	c.run("a long staff passphrase\n", "user", "add", "-username", "hoa", "-role", "staff")
	c.run("", "user", "disable", "-username", "hoa")
	out, errOut, code := c.run("", "audit", "verify")
	if code != 0 || !strings.Contains(out, "audit chain OK") {
		t.Fatalf("verify on a clean chain: %d %q %q", code, out, errOut)
	}
	out, _, code = c.run("", "audit", "export")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(rows) < 3 {
		t.Fatalf("export: code %d, %d rows, err %v", code, len(rows), err)
	}
	if _, _, code := c.run("", "audit", "export", "-from", "yesterday"); code != 2 {
		t.Errorf("bad -from: exit %d, want 2", code)
	}
	// Tamper with a row behind the triggers' back: verify must name it and exit 1.
	db, err := sql.Open("sqlite", c.env["DB_PATH"])
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP TRIGGER IF EXISTS audit_events_no_update`,
		`UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 2`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	out, errOut, code = c.run("", "audit", "verify")
	if code != 1 || !strings.Contains(errOut, "event 2") {
		t.Fatalf("verify on a tampered chain: exit %d, %q %q", code, out, errOut)
	}
}

func TestExitCodes(t *testing.T) {
	if exitCode(&exitError{2, errors.New("x")}) != 2 || exitCode(errors.New("x")) != 1 {
		t.Fatal("exit codes")
	}
}
