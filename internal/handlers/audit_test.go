package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// The chain badge never makes a page wait for a full pass: the first look
// starts one in the background; later looks check only what was appended,
// and a row edited after that is reported.
func TestChainBadge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for range 20 {
		if err := e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	var c chainCache
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if b := c.badge(ctx, e.audit, now); !strings.Contains(b.Text, "being verified") {
		t.Fatalf("first look: %q", b.Text)
	}
	waitBadge := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			now = now.Add(chainRecheck)
			b := c.badge(ctx, e.audit, now)
			if strings.Contains(b.Text, want) {
				return b.Text
			}
			if time.Now().After(deadline) {
				t.Fatalf("badge %q, want %q", b.Text, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitBadge("verified up to event 20 ")
	e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess})
	waitBadge("verified up to event 21 ")
	// Within chainRecheck of the last check, a look reuses its answer.
	e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess})
	if b := c.badge(ctx, e.audit, now.Add(chainRecheck-time.Millisecond)); !strings.Contains(b.Text, "verified up to event 21 ") {
		t.Errorf("rechecked within %v: %q", chainRecheck, b.Text)
	}
	waitBadge("verified up to event 22 ")
	// Tamper with the newest rows behind the triggers' back: appended after
	// the verified head, so the incremental check sees it.
	e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess})
	drop := `DROP TRIGGER audit_events_no_update`
	if e.db.Postgres() {
		drop += ` ON audit_events`
	}
	for _, q := range []string{drop, `UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 23`} {
		if _, err := e.db.Write.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if got := waitBadge("BROKEN"); !strings.Contains(got, "event 23") {
		t.Errorf("broken badge names the wrong event: %q", got)
	}
}

// A full pass a page started ends when the server's background work
// stops, and none starts after: it must not read a database being closed
// (on PostgreSQL a pass still reading while a test dropped its schema
// deadlocked the drop).
func TestChainPassEndsWithTheServer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	c := chainCache{hold: make(chan struct{})} // never closed: the pass would wait forever
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if b := c.badge(ctx, e.audit, now); !b.Running {
		t.Fatalf("first look: %+v, want a pass running", b)
	}
	stopped := make(chan struct{})
	go func() { c.stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("stop did not end the pass")
	}
	c.badge(ctx, e.audit, now)
	if c.running {
		t.Errorf("a look started a pass after stop")
	}
	c.restart(e.audit)
	if c.running {
		t.Errorf("restart started a pass after stop")
	}
}

// The audit filter's actor list is reused for auditActorsTTL, then
// follows the trail.
func TestAuditActorsAreReusedBriefly(t *testing.T) {
	e := newEnv(t)
	e.user("manager1", auth.RoleManager)
	mgr := e.login("manager1")
	offers := func(name string) bool {
		t.Helper()
		r := e.get(mgr, "/audit")
		if r.status != http.StatusOK {
			t.Fatalf("audit: %d", r.status)
		}
		return strings.Contains(r.body, `<option value="`+name+`"`)
	}
	if !offers("manager1") || offers("zed") {
		t.Fatal("first look: want manager1 and not zed in the actor list")
	}
	if err := e.audit.RecordNow(context.Background(), audit.Event{ActorName: "zed", Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if offers("zed") {
		t.Error("actor list re-read within its TTL")
	}
	e.clock.Advance(auditActorsTTL)
	if !offers("zed") {
		t.Error("actor list not re-read after its TTL")
	}
}

// exportRequest posts the export form as the browser does.
func (e *env) exportRequest(c *http.Client, form url.Values, site string) (*http.Response, []byte, error) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.url+"/audit/export.csv", strings.NewReader(form.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.url)
	req.Header.Set("Sec-Fetch-Site", site)
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("export: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

// The export is a POST form that records one event and streams the
// filtered view ending with the chain head; GET export and GET verify,
// which changed something, are gone and change nothing.
func TestAuditExportAndVerifyArePosts(t *testing.T) {
	e := newEnv(t)
	e.user("manager1", auth.RoleManager)
	mgr := e.login("manager1")
	ctx := context.Background()
	for i := range 5 {
		name := []string{"minh", "lan"}[i%2]
		if err := e.audit.RecordNow(ctx, audit.Event{ActorName: name, Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}

	// The page offers a form carrying the applied filters, and no GET link.
	page := e.get(mgr, "/audit?actor=minh")
	for _, want := range []string{`<form id="audit-export" method="post" action="/audit/export.csv"`, `<input type="hidden" name="actor" value="minh">`,
		`<form class="inline" method="post" action="/audit/verify"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("audit page lacks %s", want)
		}
	}
	if strings.Contains(page.body, `href="/audit/export.csv`) || strings.Contains(page.body, `href="/audit/verify"`) {
		t.Error("audit page still links to a GET export or verify")
	}

	before := e.auditCount(audit.ActionAuditExport)
	for _, p := range []string{"/audit/export.csv", "/audit/export.csv?actor=minh", "/audit/verify"} {
		if r := e.get(mgr, p); r.status == http.StatusOK || r.status == http.StatusSeeOther || strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
			t.Errorf("GET %s: status %d, %s: still served", p, r.status, r.header.Get("Content-Type"))
		}
	}
	// A cross-site POST is refused before anything is recorded.
	if resp, _, _ := e.exportRequest(mgr, url.Values{}, "cross-site"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site export: %d, want 403", resp.StatusCode)
	}
	if n := e.auditCount(audit.ActionAuditExport); n != before {
		t.Fatalf("GET or cross-site requests recorded %d exports", n-before)
	}

	resp, body, err := e.exportRequest(mgr, url.Values{"actor": {"minh"}}, "same-origin")
	if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("export: %d %s, %v", resp.StatusCode, resp.Header.Get("Content-Type"), err)
	}
	if n := e.auditCount(audit.ActionAuditExport); n != before+1 {
		t.Fatalf("export recorded %d events, want 1", n-before)
	}
	recs, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v", err)
	}
	if len(recs) != 1+3+1 { // header, minh's three events, trailer
		t.Fatalf("%d records, want 5: %q", len(recs), recs)
	}
	for _, r := range recs[1:4] {
		if r[3] != "minh" {
			t.Errorf("filter not applied: %q", r)
		}
	}
	head, err := e.audit.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	exp, err := e.audit.Get(ctx, head.Seq)
	if err != nil || exp.Action != audit.ActionAuditExport {
		t.Fatalf("the head should be the export's own event: %+v, %v", exp, err)
	}
	got, err := audit.ReadExportHead(bytes.NewReader(body))
	if err != nil || got != head {
		t.Fatalf("trailer head %+v, %v; want %+v", got, err, head)
	}

	// Verify is a POST that goes back to the page.
	if r := e.post(mgr, "/audit/verify", url.Values{}); r.status != http.StatusSeeOther || r.header.Get("Location") != "/audit" {
		t.Errorf("POST /audit/verify: %d %q", r.status, r.header.Get("Location"))
	}
}

// A database error in the middle of an export does not end as a clean
// 200: the file so far ends with the error record, and the connection is
// aborted so the client's read fails. The error is deterministic: a row
// whose actor_id is not a number cannot be scanned, as a corrupt page
// could not be read; it comes after ~150 KB of good rows, well past the
// first flush to the client.
func TestAuditExportCutShortIsNotClean(t *testing.T) {
	e := newEnv(t)
	if e.db.Postgres() {
		t.Skip("PostgreSQL's column types refuse the unreadable row this test plants")
	}
	e.user("manager1", auth.RoleManager)
	mgr := e.login("manager1")
	for _, q := range []string{
		`WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 1000)
		 INSERT INTO audit_events (seq, at, actor_name, action, outcome, details, prev_hash, hash)
		 SELECT (SELECT max(seq) FROM audit_events) + i, '2026-11-25T09:00:00.000000Z', 'bulk', 'auth.login', 'success',
		        '{"pad":"` + strings.Repeat("x", 100) + `"}', printf('%064d', i - 1), printf('%064d', i) FROM c`,
		`INSERT INTO audit_events (seq, at, actor_id, action, outcome, prev_hash, hash)
		 SELECT max(seq) + 1, '2026-11-25T09:00:00.000000Z', 'not a number', 'auth.login', 'success', printf('%064d', 0), printf('%064d', 0) FROM audit_events`,
	} {
		if _, err := e.db.Write.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The rows went in behind the store's back: move the chain's head row
	// to them, or the export's own audit event could not be appended.
	if err := e.db.Tx(context.Background(), func(tx *store.Tx) error { _, err := tx.AuditAdoptImported(context.Background()); return err }); err != nil {
		t.Fatal(err)
	}
	before := e.auditCount(audit.ActionAuditExport)
	resp, body, err := e.exportRequest(mgr, url.Values{}, "same-origin")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if err == nil {
		t.Error("the transfer ended cleanly: the connection should have been aborted")
	}
	if len(body) < 100_000 {
		t.Fatalf("only %d bytes arrived: the error should come mid-stream", len(body))
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, audit.TrailerError) {
		t.Errorf("last line %q, want the error record", last)
	}
	if bytes.Contains(body, []byte(audit.TrailerHead)) {
		t.Error("an incomplete export carries the chain head")
	}
	if _, err := audit.ReadExportHead(bytes.NewReader(body)); err == nil {
		t.Error("the cut file reads as a complete export")
	}
	var outcome string
	if err := e.db.Read.QueryRow(`SELECT outcome FROM audit_events WHERE action = ? ORDER BY seq DESC LIMIT 1`, audit.ActionAuditExport).Scan(&outcome); err != nil || outcome != audit.OutcomeFailure {
		t.Errorf("last export event outcome %q, %v; want failure", outcome, err)
	}
	if n := e.auditCount(audit.ActionAuditExport); n != before+2 {
		t.Errorf("%d export events, want 2 (started, incomplete)", n-before)
	}
}
