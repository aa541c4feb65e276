package main

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// insertRefund commits one refund and its audit event in one
// transaction, as the domain does.
func insertRefund(ctx context.Context, a *app.App, n int) (string, error) {
	id := fmt.Sprintf("0b5c7a52-3f43-4a47-9f37-%012d", n)
	err := a.DB.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Raw().ExecContext(ctx, `INSERT INTO refunds (id, api, transaction_ref, amount, requested_by, requested_at,
			updated_at, approval, submission) VALUES (?, 'PG', ?, 125000, 1, '2026-01-02T03:04:05.000000Z',
			'2026-01-02T03:04:05.000000Z', 'PENDING', 'NOT_SENT')`, id, fmt.Sprintf("TXN-%d", n)); err != nil {
			return err
		}
		return a.Audit.Record(ctx, tx, audit.Event{ActorName: "test", Action: audit.ActionConfigStartup, Outcome: audit.OutcomeSuccess,
			TargetType: "refund", TargetID: id})
	})
	return id, err
}

// A backup taken while another connection keeps committing refunds holds
// every refund committed before it began, only whole commits after (a
// prefix of the commit order, each refund with its audit event), and a
// chain that verifies; the file is put in place only after its checks.
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	c := newCLI(t)
	c.run("a long staff passphrase\n", "user", "add", "-username", "hoa", "-role", "staff")
	cfg, err := app.ParseConfig("test", nil, func(k string) string { return c.env[k] }, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, app.NewLogger(os.Stderr, cfg.Level()), app.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()

	var mu sync.Mutex
	var committed []string
	for i := range 50 {
		id, err := insertRefund(ctx, a, i)
		if err != nil {
			t.Fatal(err)
		}
		committed = append(committed, id)
	}
	stop := make(chan struct{})
	writerDone := make(chan error, 1)
	go func() {
		for i := 50; ; i++ {
			select {
			case <-stop:
				writerDone <- nil
				return
			default:
			}
			id, err := insertRefund(ctx, a, i)
			if err != nil {
				writerDone <- err
				return
			}
			mu.Lock()
			committed = append(committed, id)
			mu.Unlock()
		}
	}()
	// Wait until the writer is under way, so the copy races real commits.
	for {
		mu.Lock()
		n := len(committed)
		mu.Unlock()
		if n >= 60 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	mu.Lock()
	before := len(committed)
	mu.Unlock()

	dest := filepath.Join(t.TempDir(), "backup.db")
	out, errOut, code := c.run("", "backup", "-to", dest)
	close(stop)
	if err := <-writerDone; err != nil {
		t.Fatal(err)
	}
	if code != 0 || !strings.Contains(out, "audit chain ok") || !strings.Contains(out, "integrity ok") {
		t.Fatalf("backup: exit %d\n%s\n%s", code, out, errOut)
	}

	cp, err := store.OpenCopy(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	st, err := audit.New(cp, time.Now).Verify(ctx, audit.Anchor{})
	if err != nil || !st.OK {
		t.Fatalf("the copy's chain: %v %v", st, err)
	}
	rows, err := cp.Read.QueryContext(ctx, `SELECT id FROM refunds ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		got = append(got, id)
	}
	rows.Close()
	if len(got) < before {
		t.Fatalf("the copy has %d refunds; %d were committed before the backup began", len(got), before)
	}
	for i, id := range got {
		if committed[i] != id {
			t.Fatalf("refund %d of the copy is %s, the %dth commit was %s: not a prefix of the commits", i, id, i, committed[i])
		}
	}
	t.Logf("refunds: %d committed before the backup, %d in the copy, %d committed in all", before, len(got), len(committed))
	var events int
	if err := cp.Read.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE target_type = 'refund'`).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != len(got) {
		t.Errorf("the copy has %d refunds but %d refund audit events: a torn transaction", len(got), events)
	}
	if want := fmt.Sprintf("%d refunds", len(got)); !strings.Contains(out, want) {
		t.Errorf("summary %q lacks %q", out, want)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm()&0o077 != 0 {
		t.Errorf("backup file mode: %v %v; want no access for group and others", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(dest), ".backup.db.partial-*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	// The copy is a working desk: the server's own commands accept it.
	restored := newCLI(t)
	restored.env["DB_PATH"] = dest
	if out, errOut, code := restored.run("", "audit", "verify"); code != 0 || !strings.Contains(out, "audit chain OK") {
		t.Errorf("audit verify on the restored copy: %d %s %s", code, out, errOut)
	}
}

// backup refuses to overwrite any file (and changes nothing in it),
// refuses PostgreSQL with a pointer to pg_dump and without connecting,
// and wants -to.
func TestBackupRefusals(t *testing.T) {
	c := newCLI(t)
	// No database yet: refused, and none is created by asking.
	if _, errOut, code := c.run("", "backup", "-to", filepath.Join(t.TempDir(), "b.db")); code != 2 || !strings.Contains(errOut, "no database at") {
		t.Errorf("backup without a database: exit %d %q", code, errOut)
	}
	if _, err := os.Stat(c.env["DB_PATH"]); err == nil {
		t.Error("backup created the database it was to copy")
	}
	c.run("", "migrate")
	existing := filepath.Join(t.TempDir(), "old.db")
	if err := os.WriteFile(existing, []byte("yesterday's backup"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := c.run("", "backup", "-to", existing)
	if code != 2 || !strings.Contains(errOut, "already exists") {
		t.Errorf("backup over a file: exit %d %q", code, errOut)
	}
	if b, _ := os.ReadFile(existing); string(b) != "yesterday's backup" {
		t.Errorf("the existing file was changed: %q", b)
	}
	if _, errOut, code := c.run("", "backup"); code != 2 || !strings.Contains(errOut, "-to FILE") {
		t.Errorf("backup without -to: exit %d %q", code, errOut)
	}
	if _, errOut, code := c.run("", "backup", "-to", c.env["DB_PATH"]); code != 2 || !strings.Contains(errOut, "already exists") {
		t.Errorf("backup onto the database: exit %d %q", code, errOut)
	}
	if _, errOut, code := c.run("", "backup", "-to", filepath.Join(t.TempDir(), "missing-dir", "b.db")); code != 2 {
		t.Errorf("backup into a missing directory: exit %d %q", code, errOut)
	}
	// 192.0.2.1 (TEST-NET) would hang if it were dialled: the refusal
	// comes before any connection.
	c.env["DATABASE_URL"] = "postgres://desk:s3cret@192.0.2.1:5432/desk"
	_, errOut, code = c.run("", "backup", "-to", filepath.Join(t.TempDir(), "pg.db"))
	if code != 2 || !strings.Contains(errOut, "pg_dump") || strings.Contains(errOut, "s3cret") {
		t.Errorf("backup on PostgreSQL: exit %d %q; want 2, pg_dump, no password", code, errOut)
	}
}

// healthcheck exits 0 on a 200 from /healthz at ADDR (a wildcard address
// reached on loopback), 1 on anything else or nothing listening, 2 on a
// bad address.
func TestHealthcheckCommand(t *testing.T) {
	status := http.StatusOK
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
		fmt.Fprintln(w, "ok")
	})}
	go srv.Serve(ln)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c := newCLI(t)
	c.env["ADDR"] = "0.0.0.0:" + port
	if out, errOut, code := c.run("", "healthcheck"); code != 0 || !strings.Contains(out, "ok") {
		t.Errorf("healthy: exit %d %q %q", code, out, errOut)
	}
	mu.Lock()
	status = http.StatusServiceUnavailable
	mu.Unlock()
	if _, errOut, code := c.run("", "healthcheck"); code != 1 || !strings.Contains(errOut, "503") {
		t.Errorf("unhealthy: exit %d %q", code, errOut)
	}
	srv.Close()
	if _, errOut, code := c.run("", "healthcheck", "-timeout", "2s"); code != 1 {
		t.Errorf("nothing listening: exit %d %q", code, errOut)
	}
	if _, errOut, code := c.run("", "healthcheck", "-addr", "nonsense"); code != 2 {
		t.Errorf("bad address: exit %d %q", code, errOut)
	}
}

// A database whose audit chain does not verify gives no backup: the copy
// is checked, found broken, deleted, and the command exits 1 naming the
// broken event; nothing is left under the name or beside it.
func TestBackupOfABrokenChainFails(t *testing.T) {
	c := newCLI(t)
	for _, u := range []string{"hoa", "lan", "minh"} {
		if _, errOut, code := c.run("a long staff passphrase\n", "user", "add", "-username", u, "-role", "staff"); code != 0 {
			t.Fatalf("user add: %s", errOut)
		}
	}
	c.rawSQL(`DROP TRIGGER audit_events_no_update`, `UPDATE audit_events SET outcome = 'failure' WHERE seq = 2`)
	dir := t.TempDir()
	dest := filepath.Join(dir, "b.db")
	_, errOut, code := c.run("", "backup", "-to", dest)
	if code != 1 || !strings.Contains(errOut, "FAILED its checks") || !strings.Contains(errOut, "BROKEN at event 2") {
		t.Fatalf("backup of a broken chain: exit %d %q", code, errOut)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("files left after a failed backup: %v", left)
	}
}

// backup opens the database only to read it: no migration is applied to
// it (a newer binary backing up a running older server must not change
// its schema under it) and no row is written.
func TestBackupChangesNothingInTheSource(t *testing.T) {
	c := newCLI(t)
	c.run("", "migrate")
	c.rawSQL(`DELETE FROM schema_migrations WHERE name = (SELECT max(name) FROM schema_migrations)`)
	count := func(q string) int {
		db, err := sql.Open("sqlite", c.env["DB_PATH"])
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	migrations, events := count(`SELECT count(*) FROM schema_migrations`), count(`SELECT count(*) FROM audit_events`)
	if _, errOut, code := c.run("", "backup", "-to", filepath.Join(t.TempDir(), "b.db")); code != 0 {
		t.Fatalf("backup: %d %s", code, errOut)
	}
	if m, e := count(`SELECT count(*) FROM schema_migrations`), count(`SELECT count(*) FROM audit_events`); m != migrations || e != events {
		t.Errorf("the source changed: %d migrations (was %d), %d audit events (was %d)", m, migrations, e, events)
	}
}
