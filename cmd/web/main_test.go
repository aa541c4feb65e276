package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"os"
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
	out, errOut, code := c.run("a long staff passphrase\n", "user", "add", "-username", "hoa", "-role", "manager", "-name", "Lê Hoa")
	if code != 0 || !strings.Contains(out, "added hoa (manager)") {
		t.Fatalf("user add: %d %q %q", code, out, errOut)
	}
	// Before the first start: the app will not create admin, and nobody
	// could manage users; both are said.
	if !strings.Contains(errOut, `will not create the "admin" user`) || !strings.Contains(errOut, "no administrator exists") {
		t.Errorf("first user added without a word about admin: %q", errOut)
	}
	if _, errOut, _ := c.run("a long admin passphrase\n", "user", "add", "-username", "boss", "-role", "admin"); strings.Contains(errOut, "admin") {
		t.Errorf("second user: unexpected note %q", errOut)
	}
	tests := []struct {
		name  string
		stdin string
		args  []string
		code  int
		want  string
	}{
		// 2: the input cannot be used, whatever part of it (exit status
		// convention in main.go); 1: the work failed.
		{"duplicate", "another passphrase!!\n", []string{"user", "add", "-username", "hoa", "-role", "staff"}, 2, "taken"},
		{"bad role", "another passphrase!!\n", []string{"user", "add", "-username", "lan", "-role", "boss"}, 2, "role"},
		{"no password", "", []string{"user", "add", "-username", "lan"}, 2, "no password on stdin"},
		{"short password", "short\n", []string{"user", "add", "-username", "lan"}, 2, "12"},
		{"disable", "", []string{"user", "disable", "-username", "hoa"}, 0, "disabled hoa"},
		{"unknown user", "", []string{"user", "disable", "-username", "nobody"}, 2, "nobody"},
		{"last admin", "", []string{"user", "disable", "-username", "boss"}, 2, "last enabled admin"},
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

// countAudit counts the audit events with action in the CLI's database.
func (c *cli) countAudit(action string) int {
	c.t.Helper()
	db, err := sql.Open("sqlite", c.env["DB_PATH"])
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE action = ?`, action).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// rawSQL runs statements on the CLI's database behind the app's back.
func (c *cli) rawSQL(qs ...string) {
	c.t.Helper()
	db, err := sql.Open("sqlite", c.env["DB_PATH"])
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	for _, q := range qs {
		if _, err := db.Exec(q); err != nil {
			c.t.Fatalf("%s: %v", q, err)
		}
	}
}

// audit checkpoint writes a signed head; audit verify -checkpoint accepts
// it while the trail grows, and exits 1 once the last events are deleted
// (with the trigger dropped), which plain audit verify cannot see. The same
// holds for an export's trailer. Bad keys, files and flags change nothing.
func TestAuditCheckpointCommands(t *testing.T) {
	c := newCLI(t)
	dir := t.TempDir()
	c.run("a long staff passphrase\n", "user", "add", "-username", "hoa", "-role", "staff")
	c.run("", "user", "disable", "-username", "hoa")
	const key = "0123456789abcdef0123456789abcdef-operator-key"
	cpFile := filepath.Join(dir, "cp.json")

	refusals := []struct {
		name string
		env  string
		args []string
		want string
	}{
		{"no key", "", []string{"audit", "checkpoint", "-out", cpFile}, "no checkpoint key: set AUDIT_CHECKPOINT_KEY or give -key-file FILE"},
		{"short key", "too short", []string{"audit", "checkpoint", "-out", cpFile}, "AUDIT_CHECKPOINT_KEY is 9 bytes; it must be at least 32"},
		{"missing key file", key, []string{"audit", "checkpoint", "-key-file", filepath.Join(dir, "nokey"), "-out", cpFile}, "-key-file: open " + filepath.Join(dir, "nokey")},
		{"out in a missing directory", key, []string{"audit", "checkpoint", "-out", filepath.Join(dir, "no", "cp.json")}, "-out " + filepath.Join(dir, "no", "cp.json")},
		{"out is a directory", key, []string{"audit", "checkpoint", "-out", dir}, "is a directory"},
		{"unknown flag", key, []string{"audit", "checkpoint", "-outt", cpFile}, "flag provided but not defined: -outt"},
		{"unknown action", key, []string{"audit", "chekpoint"}, `unknown action "chekpoint"`},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			c.env["AUDIT_CHECKPOINT_KEY"] = tt.env
			_, errOut, code := c.run("", tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) {
				t.Fatalf("exit %d, %q; want 2 and %q", code, errOut, tt.want)
			}
			if n := c.countAudit("audit.checkpoint"); n != 0 {
				t.Fatalf("a refused checkpoint recorded %d events", n)
			}
			if _, err := os.Stat(cpFile); err == nil {
				t.Fatal("a refused checkpoint wrote the file")
			}
		})
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*")); len(leftovers) != 0 {
		t.Fatalf("temporary files left: %v", leftovers)
	}

	c.env["AUDIT_CHECKPOINT_KEY"] = key
	_, errOut, code := c.run("", "audit", "checkpoint", "-out", cpFile)
	if code != 0 || !strings.Contains(errOut, "written to "+cpFile) {
		t.Fatalf("checkpoint: exit %d, %q", code, errOut)
	}
	var cp struct {
		Seq  int64
		Hash string
	}
	b, err := os.ReadFile(cpFile)
	if err != nil || json.Unmarshal(b, &cp) != nil || cp.Seq < 3 || strings.Contains(string(b), key) {
		t.Fatalf("checkpoint file %s: %v", b, err)
	}
	if n := c.countAudit("audit.checkpoint"); n != 1 {
		t.Fatalf("%d checkpoint events, want 1", n)
	}
	// To stdout, as well.
	out, _, code := c.run("", "audit", "checkpoint")
	if code != 0 || !strings.Contains(out, `"sig": "`) {
		t.Fatalf("checkpoint to stdout: %d %q", code, out)
	}
	exportOut, _, code := c.run("", "audit", "export")
	exportFile := filepath.Join(dir, "export.csv")
	if code != 0 || os.WriteFile(exportFile, []byte(exportOut), 0o600) != nil {
		t.Fatalf("export: %d", code)
	}
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte(key+"\n"), 0o600)

	// The trail keeps growing: both still match.
	c.run("", "user", "enable", "-username", "hoa")
	for _, args := range [][]string{
		{"audit", "verify", "-checkpoint", cpFile},
		{"audit", "verify", "-checkpoint", cpFile, "-key-file", keyFile},
		{"audit", "verify", "-checkpoint", exportFile},
	} {
		out, errOut, code := c.run("", args...)
		if code != 0 || !strings.Contains(out, "audit chain OK") || !strings.Contains(out, "matches: event ") {
			t.Fatalf("%v: exit %d, %q %q", args, code, out, errOut)
		}
	}

	// Bad or forged checkpoint files.
	forged := strings.Replace(string(b), fmt.Sprintf(`"seq": %d`, cp.Seq), `"seq": 1`, 1)
	badFiles := []struct {
		name, content string
		keyEnv        string
		code          int
		want          string
	}{
		{"forged seq", forged, key, 1, "altered or forged"},
		{"another key", string(b), "another operator's key, 32 bytes or more", 1, "signed with key"},
		{"no key", string(b), "", 2, "no checkpoint key"},
		{"not a checkpoint", `{"seq": 3}`, key, 2, "not a valid checkpoint"},
		{"cut export", exportOut[:len(exportOut)/2], key, 2, "neither a checkpoint (JSON) nor a complete export"},
		{"empty", "", key, 2, "empty file"},
	}
	for _, tt := range badFiles {
		t.Run(tt.name, func(t *testing.T) {
			f := filepath.Join(dir, "bad-"+strings.ReplaceAll(tt.name, " ", "-"))
			os.WriteFile(f, []byte(tt.content), 0o600)
			c.env["AUDIT_CHECKPOINT_KEY"] = tt.keyEnv
			_, errOut, code := c.run("", "audit", "verify", "-checkpoint", f)
			if code != tt.code || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, f) && tt.want != "no checkpoint key" {
				t.Fatalf("exit %d, %q; want %d and %q naming the file", code, errOut, tt.code, tt.want)
			}
		})
	}
	c.env["AUDIT_CHECKPOINT_KEY"] = key
	if _, errOut, code := c.run("", "audit", "verify", "-checkpoint", filepath.Join(dir, "missing.json")); code != 2 || !strings.Contains(errOut, "missing.json") {
		t.Fatalf("missing file: %d %q", code, errOut)
	}

	// Delete the last events behind the triggers' back, down to before
	// both heads, and rewind the chain's head row: a valid, shorter chain.
	keep := cp.Seq - 2
	c.rawSQL(`DROP TRIGGER audit_events_no_delete`, fmt.Sprintf(`DELETE FROM audit_events WHERE seq > %d`, keep),
		`UPDATE audit_head SET (seq, hash, at) = (SELECT seq, hash, at FROM audit_events ORDER BY seq DESC LIMIT 1)`)
	if out, errOut, code := c.run("", "audit", "verify"); code != 0 {
		t.Fatalf("plain verify of the cut chain: %d %q %q (it cannot see a cut end)", code, out, errOut)
	}
	for file, what := range map[string]string{cpFile: "checkpoint", exportFile: "export"} {
		out, errOut, code := c.run("", "audit", "verify", "-checkpoint", file)
		want := fmt.Sprintf("the audit trail ends at seq %d but %s %s saw seq ", keep, what, file)
		if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "events were deleted") || strings.Contains(out, "OK") {
			t.Errorf("verify -checkpoint %s after truncation: exit %d, %q; want 1 and %q", what, code, errOut, want)
		}
	}
}
