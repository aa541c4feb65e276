package metrics

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// lines scrapes the handler and returns its sample lines.
func lines(t *testing.T, h http.Handler) []string {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if l := sc.Text(); !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// waitFor scrapes until a line equals want.
func waitFor(t *testing.T, h http.Handler, want string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		for _, l := range lines(t, h) {
			if l == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q after 15 s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The audit chain metric follows the chain: 1 while it verifies, growing
// with new events, and 0 once a row is edited; it then stays 0 (a later
// pass from the broken point cannot make it good again). A database that
// cannot be read makes the scrape say so instead of failing.
func TestAuditChainAndDatabaseFailure(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	l := audit.New(db, time.Now)
	record := func(n int) {
		for range n {
			if err := l.RecordNow(ctx, audit.Event{ActorName: "test", Action: audit.ActionConfigStartup, Outcome: audit.OutcomeSuccess, TargetType: "config"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	record(3)
	m := New(Sources{DB: db, Audit: l, ChainEvery: time.Millisecond, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := m.Handler()
	waitFor(t, h, "refunddesk_audit_chain_verified_events 3")
	waitFor(t, h, "refunddesk_audit_chain_ok 1")
	record(2)
	waitFor(t, h, "refunddesk_audit_chain_verified_events 5")
	if _, err := db.Write.Exec(`DROP TRIGGER audit_events_no_update`); err != nil {
		t.Fatal(err)
	}
	record(1) // seq 6, edited below
	if _, err := db.Write.Exec(`UPDATE audit_events SET outcome = 'failure' WHERE seq = 6`); err != nil {
		t.Fatal(err)
	}
	record(1)
	waitFor(t, h, "refunddesk_audit_chain_ok 0")
	time.Sleep(10 * time.Millisecond)
	waitFor(t, h, "refunddesk_audit_chain_ok 0")
	waitFor(t, h, "refunddesk_database_scrape_ok 1")
	db.Close()
	waitFor(t, h, "refunddesk_database_scrape_ok 0")
	for _, l := range lines(t, h) {
		if strings.HasPrefix(l, "refunddesk_send_queue_depth") {
			t.Errorf("a figure reported though the database could not be read: %s", l)
		}
	}
}
