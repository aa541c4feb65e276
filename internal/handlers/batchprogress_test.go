package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// bulkFileStatus is each line's verdict on bulkFile with a refund of line
// 7's order already pending (inFlightGC), as the synchronous preview gave.
var bulkFileStatus = map[string]string{"2": "OK", "3": "OK", "4": "ERROR", "5": "ERROR", "6": "OK", "7": "ERROR",
	"8": "ERROR", "9": "OK", "10": "ERROR", "11": "ERROR", "12": "ERROR"}

// bulkFileAsked is how many NeoX lookups checking bulkFile takes: one per
// line but the duplicate (4) and the bad amount (8), which the file itself
// refuses, and lines 3 and 11, two payments of one PG transaction, share
// its QUERY_PT answer.
const bulkFileAsked = 8

// inFlightGC requests a refund of the GC order of bulkFile's line 7, so
// that line is refused as in flight.
func (e *env) inFlightGC(u auth.User) {
	e.t.Helper()
	if _, err := e.refunds.Create(context.Background(), refunds.Actor{ID: u.ID, Name: u.Username, Role: u.Role}, refunds.NewRequest{
		API: refunds.APIGC, TransactionRef: "CO-20240504-000200003", FeeChargeWay: "OUR", ReasonCode: "customer_request"}); err != nil {
		e.t.Fatal(err)
	}
}

// slowNeoX makes the sandbox answer every lookup after d.
func (e *env) slowNeoX(d time.Duration) {
	e.sandbox.SetLatency(d)
	e.sandbox.InjectFault(sandbox.OpPGQuery, sandbox.FaultLatency, 1000)
	e.sandbox.InjectFault(sandbox.OpGCOrder, sandbox.FaultLatency, 1000)
}

var progressAttrs = regexp.MustCompile(`data-testid="batch-progress" data-state="(\w+)" data-checked="(\d+)" data-rows="(\d+)"`)

type progress struct {
	state         string
	checked, rows int
	res           result
}

// progressOf reads GET /batches/{id}/progress as c.
func (e *env) progressOf(c *http.Client, id string, hdr map[string]string) progress {
	e.t.Helper()
	res := e.do(c, http.MethodGet, "/batches/"+id+"/progress", nil, hdr)
	if res.status != http.StatusOK {
		e.t.Fatalf("progress: %d %.300s", res.status, res.body)
	}
	m := progressAttrs.FindStringSubmatch(res.body)
	if m == nil {
		e.t.Fatalf("progress fragment without its figures: %.500s", res.body)
	}
	checked, _ := strconv.Atoi(m[2])
	rows, _ := strconv.Atoi(m[3])
	return progress{state: m[1], checked: checked, rows: rows, res: res}
}

// assertBulkFileResult checks a checked bulkFile's page: each line's
// verdict and the totals per currency, as the synchronous preview gave them.
func (e *env) assertBulkFileResult(c *http.Client, id string) {
	e.t.Helper()
	res := e.get(c, "/batches/"+id)
	if res.status != http.StatusOK {
		e.t.Fatalf("batch page: %d", res.status)
	}
	for line, st := range bulkFileStatus {
		if !strings.Contains(res.body, `data-line="`+line+`" data-status="`+st+`"`) {
			e.t.Errorf("line %s: want %s", line, st)
		}
	}
	for _, want := range []string{`data-currency="VND"`, `data-amount="800000"`, `data-currency="EUR"`, `data-amount="8990"`,
		"The same refund as line 2", "already pending or in progress", `data-testid="batch-submit"`} {
		if !strings.Contains(res.body, want) {
			e.t.Errorf("checked page lacks %s", want)
		}
	}
}

// TestBatchProgressWhileChecking: the upload answers at once; while NeoX
// is slow the page shows how many rows are checked (an accessible
// progress bar, polled by htmx, a Refresh link without it) and offers no
// submit; the figure only grows; at the end htmx is told to reload and
// the page shows what the synchronous preview showed, each row asked once.
func TestBatchProgressWhileChecking(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.BulkLookups = 2 })
	alice := e.user("alice", auth.RoleStaff)
	e.inFlightGC(alice)
	a := e.login("alice")
	e.slowNeoX(400 * time.Millisecond)
	e.neoxCalls.api()

	start := time.Now()
	res := e.upload(a, "march.csv", []byte(bulkFile))
	if res.status != http.StatusSeeOther {
		t.Fatalf("upload: %d %.300s", res.status, res.body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the upload took %s: it waited for NeoX", d)
	}
	id := strings.TrimPrefix(res.header.Get("Location"), "/batches/")
	page := e.get(a, "/batches/"+id)
	for _, want := range []string{`data-testid="batch-progress"`, `<progress id="batch-progress-bar" class="chain-progress"`, `aria-describedby="batch-progress-hint"`,
		`<label for="batch-progress-bar"`, `hx-get="/batches/` + id + `/progress"`, `hx-trigger="every 1s"`,
		`data-testid="batch-refresh"`, `action="/batches/` + id + `/cancel"`} {
		if !strings.Contains(page.body, want) {
			t.Errorf("page while checking lacks %s", want)
		}
	}
	if strings.Contains(page.body, `data-testid="batch-submit"`) || strings.Contains(page.body, `data-testid="batch-totals"`) {
		t.Error("submit or totals offered while checking")
	}
	if before := e.countRows(`SELECT count(*) FROM refunds`); e.post(a, "/batches/"+id+"/submit", url.Values{}).status != http.StatusConflict ||
		e.countRows(`SELECT count(*) FROM refunds`) != before {
		t.Error("a batch being checked was submitted")
	}

	// Part of the rows checked, the rest still asked: the figure shows it.
	last := 0
	var mid progress
	e.waitFor(60*time.Second, "a batch part checked", func() bool {
		p := e.progressOf(a, id, nil)
		if p.checked < last {
			t.Fatalf("progress went back from %d to %d", last, p.checked)
		}
		last = p.checked
		mid = p
		return p.state == "CHECKING" && p.checked > 2 && p.checked < p.rows
	})
	if mid.rows != 11 || !strings.Contains(mid.res.body, "Checked "+strconv.Itoa(mid.checked)+" of 11 rows") ||
		!strings.Contains(mid.res.body, `value="`+strconv.Itoa(mid.checked)+`"`) || !strings.Contains(mid.res.body, `max="11"`) {
		t.Errorf("mid-check fragment: %.600s", mid.res.body)
	}
	if mid.res.header.Get("HX-Refresh") != "" {
		t.Error("reload asked for while checking")
	}

	if state := e.waitChecked(id); state != "PREVIEW" {
		t.Fatalf("checked batch is %s", state)
	}
	if p := e.progressOf(a, id, map[string]string{"HX-Request": "true"}); p.checked != 11 || p.res.header.Get("HX-Refresh") != "true" ||
		strings.Contains(p.res.body, "hx-trigger") {
		t.Errorf("final poll: %+v refresh %q", p, p.res.header.Get("HX-Refresh"))
	}
	e.assertBulkFileResult(a, id)
	if n := e.neoxCalls.api(); n != bulkFileAsked {
		t.Errorf("%d NeoX lookups for %d rows to ask", n, bulkFileAsked)
	}
	if n := e.auditCount("batch.checked"); n != 1 {
		t.Errorf("%d batch.checked events", n)
	}
}

// TestBatchResumeAfterStop: the process checking a file stops half-way
// (its lease left held, as a crash leaves it); a new server on the same
// database resumes at start, asks NeoX only for the rows left unchecked,
// and the result is the whole file's, nothing lost.
func TestBatchResumeAfterStop(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.BulkLookups = 2 })
	alice := e.user("alice", auth.RoleStaff)
	e.inFlightGC(alice)
	a := e.login("alice")
	e.slowNeoX(300 * time.Millisecond)
	e.neoxCalls.api()
	res := e.upload(a, "march.csv", []byte(bulkFile))
	id := strings.TrimPrefix(res.header.Get("Location"), "/batches/")
	e.waitFor(60*time.Second, "a batch part checked", func() bool {
		p := e.progressOf(a, id, nil)
		return p.checked > 2
	})
	// From now on NeoX hangs: the rows not asked yet stay unchecked
	// whatever the machine's speed, and the process stops mid-check.
	e.sandbox.SetLatency(time.Hour)
	e.stopBackground()
	checked := e.countRows(`SELECT count(*) FROM refund_batch_rows WHERE batch_id = ? AND status <> 'CHECKING'`, id)
	if checked < 3 || checked > 2+1+2 {
		t.Fatalf("%d rows checked at the stop, want 3 to 5 (the 2 the file refused, 1 seen, 2 in flight)", checked)
	}
	e.sandbox.SetLatency(300 * time.Millisecond)
	first := e.neoxCalls.api()
	// As a killed process leaves it. On SQLite its lease still runs: the
	// one server on the file knows every claim it finds at start is a dead
	// process's. On PostgreSQL another instance may hold it, so a claim is
	// taken over only once its lease has run out (internal/bulk's tests
	// wait that out); here it has.
	leaseUntil := "2099-01-01T00:00:00.000000000Z"
	if e.db.Postgres() {
		leaseUntil = "2000-01-01T00:00:00.000000000Z"
	}
	if _, err := e.db.Write.Exec(`UPDATE refund_batches SET lease_owner = 'dead', lease_until = ? WHERE id = ?`, leaseUntil, id); err != nil {
		t.Fatal(err)
	}

	srv2 := New(Deps{DB: e.db, Auth: e.auth, Audit: e.audit, Refunds: e.refunds, Now: e.clock.Now, BulkLookups: 2,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv2.RunBackground(ctx) }()
	t.Cleanup(func() { stop(); <-done })

	if state := e.waitChecked(id); state != "PREVIEW" {
		t.Fatalf("resumed batch is %s", state)
	}
	second := e.neoxCalls.api()
	if second > 11-checked || second < 11-checked-1 { // lines 3 and 11 may share a lookup
		t.Errorf("resuming asked NeoX %d times for %d unchecked rows", second, 11-checked)
	}
	// Each row asked once, plus at most the lookups cut short by the stop.
	if first+second > bulkFileAsked+1+2 { // +1: lines 3 and 11 on both sides of the stop
		t.Errorf("%d + %d lookups for %d rows", first, second, bulkFileAsked)
	}
	e.assertBulkFileResult(a, id)
	if n := e.auditCount("batch.checked"); n != 1 {
		t.Errorf("%d batch.checked events", n)
	}
}

// TestBatchCancel: the uploader stops a check: nothing more is asked or
// written, nothing can be submitted, the page says so. Someone else can
// neither stop it nor see its progress.
func TestBatchCancel(t *testing.T) {
	e := newEnv(t, func(d *Deps) { d.BulkLookups = 1 })
	e.user("alice", auth.RoleStaff)
	e.user("bob", auth.RoleStaff)
	a, b := e.login("alice"), e.login("bob")
	e.slowNeoX(500 * time.Millisecond)
	res := e.upload(a, "march.csv", []byte(bulkFile))
	id := strings.TrimPrefix(res.header.Get("Location"), "/batches/")
	page := "/batches/" + id

	for _, r := range []result{e.get(b, page+"/progress"), e.post(b, page+"/cancel", url.Values{})} {
		if r.status != http.StatusForbidden || strings.Contains(r.body, "Checked ") {
			t.Errorf("bob: %d %.200s", r.status, r.body)
		}
	}
	if st := e.progressOf(a, id, nil).state; st != "CHECKING" {
		t.Fatalf("after bob's attempts: %s", st)
	}

	res = e.post(a, page+"/cancel", url.Values{})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != page {
		t.Fatalf("cancel: %d %s", res.status, res.header.Get("Location"))
	}
	e.neoxCalls.api()
	left := e.countRows(`SELECT count(*) FROM refund_batch_rows WHERE batch_id = ? AND status = 'CHECKING'`, id)
	e.stopBackground() // waits for the checker to have stopped
	if n := e.countRows(`SELECT count(*) FROM refund_batch_rows WHERE batch_id = ? AND status = 'CHECKING'`, id); n != left {
		t.Errorf("verdicts written after the cancel: %d rows left, then %d", left, n)
	}
	if n := e.neoxCalls.api(); n > 1 {
		t.Errorf("%d lookups after the cancel", n)
	}
	if n := e.countRows(`SELECT count(*) FROM refund_batches WHERE id = ? AND state = 'CANCELLED'`, id); n != 1 {
		t.Fatal("not cancelled")
	}
	if n := e.auditCount("batch.cancelled"); n != 1 {
		t.Errorf("%d batch.cancelled events", n)
	}
	got := e.get(a, page)
	if !strings.Contains(got.body, `data-testid="batch-cancelled"`) || strings.Contains(got.body, "hx-trigger") ||
		strings.Contains(got.body, `data-testid="batch-submit"`) {
		t.Errorf("cancelled page: %.600s", got.body)
	}
	before := e.countRows(`SELECT count(*) FROM refunds`)
	if r := e.post(a, page+"/submit", url.Values{}); r.status != http.StatusConflict {
		t.Errorf("submit of a cancelled batch: %d", r.status)
	}
	if e.countRows(`SELECT count(*) FROM refunds`) != before {
		t.Error("a cancelled batch created refunds")
	}
	// Cancelling again changes nothing.
	if r := e.post(a, page+"/cancel", url.Values{}); r.status != http.StatusSeeOther || e.auditCount("batch.cancelled") != 1 {
		t.Errorf("second cancel: %d, %d events", r.status, e.auditCount("batch.cancelled"))
	}
}

// TestBatchProgressBadIDs: the progress and cancel routes refuse ids that
// name no batch, malformed or not, and change nothing.
func TestBatchProgressBadIDs(t *testing.T) {
	e := newEnv(t)
	e.user("alice", auth.RoleStaff)
	a := e.login("alice")
	seq := e.countRows(`SELECT coalesce(max(seq), 0) FROM audit_events`)
	for _, id := range []string{"nope", uuid.NewString(), "..%2F..%2Fetc", strings.Repeat("9", 300), "%00"} {
		if r := e.get(a, "/batches/"+id+"/progress"); r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
			t.Errorf("progress of %q: %d", id, r.status)
		}
		if r := e.post(a, "/batches/"+id+"/cancel", url.Values{}); r.status != http.StatusNotFound && r.status != http.StatusBadRequest {
			t.Errorf("cancel of %q: %d", id, r.status)
		}
	}
	if n := e.countRows(`SELECT count(*) FROM refund_batches`); n != 0 {
		t.Errorf("%d batches", n)
	}
	if n := e.countRows(`SELECT count(*) FROM audit_events WHERE seq > ? AND action LIKE 'batch.%'`, seq); n != 0 {
		t.Errorf("%d batch events", n)
	}
}
