package handlers

import (
	"bytes"
	"context"
	"database/sql"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// /readyz says 503 while the database refuses writes (here: the writer
// connection made read-only, then another process holding the write
// lock) though it still answers reads; /healthz stays 200 throughout; and
// the probe's write is never kept.
func TestReadyzFailsOnAnUnwritableDatabase(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("makes a SQLite connection read-only and locks a SQLite file")
	}
	e := newEnv(t)
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusOK {
		t.Fatalf("healthy: %d %q", res.status, res.body)
	}
	// The writer pool has one connection: query_only makes every write on
	// it fail as on a read-only file.
	if _, err := e.db.Write.Exec(`PRAGMA query_only = 1`); err != nil {
		t.Fatal(err)
	}
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "not writable") {
		t.Errorf("read-only: %d %q", res.status, res.body)
	}
	if res := e.get(e.client(), "/healthz"); res.status != http.StatusOK {
		t.Errorf("healthz while read-only: %d", res.status)
	}
	if _, err := e.db.Write.Exec(`PRAGMA query_only = 0`); err != nil {
		t.Fatal(err)
	}
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusOK {
		t.Fatalf("writable again: %d %q", res.status, res.body)
	}

	other, err := sql.Open("sqlite", "file:"+e.db.Path+"?_pragma=busy_timeout(100)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "not writable") {
		t.Errorf("write lock held elsewhere: %d %q", res.status, res.body)
	}
	if _, err := conn.ExecContext(context.Background(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	conn.Close()
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusOK {
		t.Errorf("lock released: %d %q", res.status, res.body)
	}
	if n := e.count(`SELECT count(*) FROM settings WHERE key = 'readyz_probe'`); n != 0 {
		t.Errorf("the write probe kept %d rows", n)
	}
}

// /readyz has quick_check run at most once a minute, in the background:
// damage written to the file is not seen by the next probe (the last
// check is recent), and is reported from the probe after a minute has
// passed, once the check has run.
func TestReadyzChecksIntegrityAtMostEveryMinute(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("damages a SQLite file's pages; PostgreSQL checks its own pages")
	}
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	var root, pageSize int64
	if err := e.db.Read.QueryRow(`SELECT rootpage FROM sqlite_master WHERE name = 'users'`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Read.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(e.db.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, int(pageSize)), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	e.clock.Advance(59 * time.Second)
	for range 3 {
		if res := e.get(e.client(), "/readyz"); res.status != http.StatusOK {
			t.Fatalf("within the minute: %d %q (no check due yet)", res.status, res.body)
		}
	}
	e.clock.Advance(2 * time.Second)
	deadline := time.Now().Add(15 * time.Second)
	for {
		res := e.get(e.client(), "/readyz")
		if res.status == http.StatusServiceUnavailable && strings.Contains(res.body, "damaged") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute later: still %d %q", res.status, res.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res := e.get(e.client(), "/healthz"); res.status != http.StatusOK {
		t.Errorf("healthz on a damaged database: %d", res.status)
	}
}
