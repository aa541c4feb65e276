package crashtest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/pgtest"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// dbDownPhrase is what the 503 page says while the database is away.
const dbDownPhrase = "The database is not answering"

// TestPostgresRestartUnderLoad runs two server instances on a PostgreSQL
// cluster of the test's own (pgtest: the shared one of TEST_DATABASE_URL
// serves other tests and must not restart) and the sandbox, answering
// refund calls after 300 ms so that sends are in flight. Refunds are
// requested through one instance and approved through the other, without
// pause, while the cluster is stopped ("fast", then "immediate": a crash
// to PostgreSQL), left down for two seconds, and started again.
//
// While it is down every page answers at once with the 503 "database is
// not answering" page and the instances stay up. After it is back the
// same instances serve again, both wake-up listeners are connected again
// (pg_stat_activity), every refund whose approval was answered OK, and any
// other approved one, is SUCCEEDED, sent to NeoX exactly once under its own
// request id, a refund whose approval failed is not approved (or, if the
// commit made it before the connection went, is approved and sent like the
// others), no refund nobody approved reached NeoX, and the audit chain
// verifies.
func TestPostgresRestartUnderLoad(t *testing.T) {
	if storetest.DialectOf(t) != storetest.Postgres {
		t.Skip("runs with STORE_TEST_DIALECT=postgres (.ci/run does)")
	}
	pg := pgtest.Start(t) // skips (fails under CI=true) without initdb and pg_ctl
	started := time.Now()
	c := newClusterOn(t, pg.URL())
	c.start()
	nodes := []*cluster{c, c.second()}
	c.sb.AddPGTransaction(sandbox.PGTransaction{ID: "PGRESTART0001", Payments: []sandbox.PGPayment{
		{ID: "9900016", Status: "SUCCESS", Method: "ATM", Amount: 90_000_000}}})
	c.sb.SetLatency(300 * time.Millisecond)
	c.sb.InjectFault(sandbox.OpPGRefund, sandbox.FaultLatency, 1<<30)

	l := &load{}
	drivers := make([]*driver, len(nodes))
	for i, n := range nodes {
		other := nodes[(i+1)%len(nodes)]
		drivers[i] = &driver{l: l, reqNode: n, apprNode: other, staff: n.client("staff"), manager: other.client("manager"),
			amount: int64(10_000 + 1000*i)}
	}
	ctx, stopLoad := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range drivers {
		wg.Go(func() { d.run(ctx) })
	}
	defer func() { stopLoad(); wg.Wait() }()

	c.waitFor(10*time.Second, "both wake-up listeners", func() bool { return c.listeners() == len(nodes) })
	var windows [][2]time.Time
	inFlight := 0
	for _, mode := range []string{"fast", "immediate"} {
		base := l.approvedOK()
		c.waitFor(20*time.Second, "approvals before the stop", func() bool { return l.approvedOK() >= base+3 })
		// Stop while a refund is at NeoX: its answer comes back to a
		// worker whose database is gone.
		c.waitFor(10*time.Second, "a refund being sent", func() bool { return c.sendingNow() > 0 })
		inFlight += c.sendingNow()
		pg.Stop(mode)
		down := time.Now()
		c.waitFor(15*time.Second, "pages answered while the database is down", func() bool {
			return time.Since(down) >= 2*time.Second && l.answeredWithin(down, time.Now()) >= 10
		})
		for _, n := range nodes {
			if resp, err := http.Get(n.base + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("instance %s while the database is %s-stopped: %v %v", n.base, mode, resp, err)
			} else {
				resp.Body.Close()
			}
		}
		windows = append(windows, [2]time.Time{down, time.Now()})
		pg.Start()
		after := l.approvedOK()
		c.waitFor(20*time.Second, "approvals through both instances after the restart", func() bool {
			return l.approvedOK() >= after+4
		})
		c.waitFor(15*time.Second, "both wake-up listeners back", func() bool { return c.listeners() == len(nodes) })
	}
	stopLoad()
	wg.Wait()

	// Every response: fast, and either what was asked (a redirect to the
	// refund) or the 503 page; inside the windows the database was down,
	// the 503 page.
	downAnswers, slowest := 0, time.Duration(0)
	for _, r := range l.results {
		slowest = max(slowest, r.took())
		inWindow := false
		for _, w := range windows {
			inWindow = inWindow || r.start.After(w[0]) && r.end.Before(w[1])
		}
		switch {
		case r.err != nil:
			t.Errorf("%s via %s: %v", r.op, r.node, r.err)
		case r.took() > 5*time.Second:
			t.Errorf("%s via %s took %s: it must fail fast", r.op, r.node, r.took())
		case r.status == http.StatusServiceUnavailable && r.dbDown:
			if inWindow {
				downAnswers++
			}
		case inWindow:
			t.Errorf("%s via %s while the database was down: %d %q, want 503 %q", r.op, r.node, r.status, r.location, dbDownPhrase)
		case r.status != http.StatusSeeOther || !r.ok:
			t.Errorf("%s via %s: %d %q (the 503 page: %v), want a redirect to the refund or the 503 page\n%s",
				r.op, r.node, r.status, r.location, r.dbDown, r.body)
		}
	}
	if downAnswers < 2*10 {
		t.Errorf("%d answers while the database was down, want at least 20", downAnswers)
	}

	// Every refund in the database: approved ones final and sent once,
	// the others untouched. Approvals answered OK are among the approved.
	all := c.allRefunds()
	var approved []string
	for id, st := range all {
		if st.approval == "APPROVED" {
			approved = append(approved, id)
		}
	}
	for id, a := range l.approvals() {
		st, ok := all[id]
		switch {
		case !ok:
			t.Errorf("refund %s (approval answered %d) is not in the database", id, a)
		case a == http.StatusSeeOther && st.approval != "APPROVED":
			t.Errorf("refund %s: approval answered OK, but it is %s", id, st.approval)
		}
	}
	c.waitFor(30*time.Second, "every approved refund final", func() bool {
		for _, id := range approved {
			if _, sub, _, err := c.tryRow(id); err != nil || sub != "SUCCEEDED" && sub != "FAILED" {
				return false
			}
		}
		return true
	})
	// NeoX's answer to each send is on record: the worker that made the
	// call wrote it down once the database was back (NeoX's webhook may
	// have settled the refund first; the attempt still needs its answer).
	c.waitFor(20*time.Second, "every attempt's answer recorded", func() bool {
		for _, id := range approved {
			if n, open, err := c.attempts(id); err != nil || n != 1 || open {
				return false
			}
		}
		return true
	})
	for _, id := range approved {
		if n := c.auditCount(`action = 'neox.call' AND target_id = ? AND details LIKE '%"op":"refund"%'`, id); n != 1 {
			t.Errorf("refund %s: %d refund calls in the audit trail, want 1", id, n)
		}
	}
	for id, st := range c.allRefunds() {
		calls := c.sb.RefundCalls(id)
		switch {
		case st.approval == "APPROVED" && (st.submission != "SUCCEEDED" || calls != 1):
			t.Errorf("approved refund %s ended %s after %d calls to NeoX, want SUCCEEDED after 1", id, st.submission, calls)
		case st.approval != "APPROVED" && (st.approval != "PENDING" || st.submission != "NOT_SENT" || calls != 0):
			t.Errorf("refund %s never approved is %s/%s with %d calls to NeoX, want PENDING/NOT_SENT and none", id, st.approval, st.submission, calls)
		}
	}
	assertOnce(t, c.sb, approved)
	c.verifyAudit()
	failedApprovals := 0
	for _, a := range l.approvals() {
		if a != http.StatusSeeOther {
			failedApprovals++
		}
	}
	t.Logf("2 restarts (fast, immediate) under load: %d refunds, %d approved and sent once, %d approvals refused while down, %d sends in flight at the stops, %d answers of the 503 page while down, slowest answer %s, chain verified, in %s",
		len(all), len(approved), failedApprovals, inFlight, downAnswers, slowest.Round(time.Millisecond), time.Since(started).Round(time.Second))
}

// load is what the drivers did.
type load struct {
	mu      sync.Mutex
	results []result
	approve map[string]int // refund id → status of its approval POST
}

type result struct {
	op, node   string
	start, end time.Time
	status     int
	location   string
	ok, dbDown bool // redirected where asked; the 503 page's words
	err        error
	body       string // the start of an unexpected answer
}

func (r result) took() time.Duration { return r.end.Sub(r.start) }

func (l *load) add(r result, approvalOf string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.results = append(l.results, r)
	if approvalOf != "" {
		if l.approve == nil {
			l.approve = map[string]int{}
		}
		l.approve[approvalOf] = r.status
	}
}

func (l *load) approvedOK() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.approve {
		if s == http.StatusSeeOther {
			n++
		}
	}
	return n
}

func (l *load) approvals() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := make(map[string]int, len(l.approve))
	for k, v := range l.approve {
		m[k] = v
	}
	return m
}

// answeredWithin counts responses asked for and answered between from and to.
func (l *load) answeredWithin(from, to time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, r := range l.results {
		if r.start.After(from) && r.end.Before(to) {
			n++
		}
	}
	return n
}

// driver requests refunds through one instance and approves each through
// another, one after the other, until its context ends.
type driver struct {
	l                 *load
	reqNode, apprNode *cluster
	staff, manager    *http.Client
	amount            int64
}

func (d *driver) run(ctx context.Context) {
	for ctx.Err() == nil {
		d.amount++
		r := d.post(d.staff, d.reqNode, "request", "/refunds", url.Values{"api": {"PG"}, "ref": {"PGRESTART0001"},
			"payment": {"9900016"}, "amount": {fmt.Sprint(d.amount)}, "reason_code": {"customer_request"},
			"reason_text": {"restart test"}, "token": {uuid.NewString()}}, "")
		m := refundPath.FindStringSubmatch(r.location)
		r.ok = r.status == http.StatusSeeOther && m != nil && r.location == "/refunds/"+m[1]
		d.l.add(r, "")
		if !r.ok {
			pause(ctx) // the database is away: do not spin
			continue
		}
		a := d.post(d.manager, d.apprNode, "approve", "/refunds/"+m[1]+"/approve", url.Values{}, m[1])
		d.l.add(a, m[1])
		if !a.ok {
			pause(ctx)
		}
	}
}

func pause(ctx context.Context) {
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// post sends a form as the browser would and records how it was answered;
// id, for an approval, is where the redirect must lead.
func (d *driver) post(hc *http.Client, n *cluster, op, path string, v url.Values, id string) result {
	r := result{op: op, node: n.base, start: time.Now()}
	req, _ := http.NewRequest(http.MethodPost, n.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", n.base)
	resp, err := hc.Do(req)
	if err != nil {
		r.end, r.err = time.Now(), err
		return r
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	r.end, r.err = time.Now(), err
	r.status, r.location = resp.StatusCode, resp.Header.Get("Location")
	r.dbDown = strings.Contains(string(body), dbDownPhrase)
	if r.status != http.StatusSeeOther && !r.dbDown {
		b := string(body)
		if i := strings.Index(b, `<main`); i >= 0 {
			b = b[i:] // what went wrong, not the page's head
		}
		r.body = b[:min(len(b), 1500)]
	}
	if id != "" {
		r.ok = r.status == http.StatusSeeOther && strings.HasPrefix(r.location, "/refunds/"+id)
	}
	return r
}

// waitFor polls cond until it holds, failing the test after within.
func (c *cluster) waitFor(within time.Duration, what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			c.t.Fatalf("waited %s for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// tryRow is row that reports a failed read (the database restarting)
// instead of failing the test.
func (c *cluster) tryRow(id string) (approval, submission string, attempts int, err error) {
	err = c.readDB().QueryRow(`SELECT approval, submission, attempts FROM refunds WHERE id = ?`, id).
		Scan(&approval, &submission, &attempts)
	return
}

// sendingNow counts refunds claimed by a worker (at NeoX); 0 when the
// database cannot be read.
func (c *cluster) sendingNow() int {
	var n int
	if err := c.readDB().QueryRow(`SELECT count(*) FROM refunds WHERE submission = 'SENDING'`).Scan(&n); err != nil {
		return 0
	}
	return n
}

// listeners counts the sessions listening for wake-ups: each instance
// keeps one, on a connection of its own (store.ListenWake).
func (c *cluster) listeners() int {
	var n int
	if err := c.readDB().QueryRow(`SELECT count(*) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN %' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
		return -1
	}
	return n
}

// attempts counts refund id's attempts and says whether one is still
// open (no answer recorded).
func (c *cluster) attempts(id string) (n int, open bool, err error) {
	var opened int
	err = c.readDB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE finished_at = '') FROM refund_attempts WHERE refund_id = ?`, id).
		Scan(&n, &opened)
	return n, opened > 0, err
}

type refundState struct{ approval, submission string }

// allRefunds reads every refund's states.
func (c *cluster) allRefunds() map[string]refundState {
	c.t.Helper()
	var rows map[string]refundState
	c.waitFor(10*time.Second, "a read of every refund", func() bool {
		rs, err := c.readDB().Query(`SELECT id, approval, submission FROM refunds`)
		if err != nil {
			return false
		}
		defer rs.Close()
		rows = map[string]refundState{}
		for rs.Next() {
			var id string
			var st refundState
			if err := rs.Scan(&id, &st.approval, &st.submission); err != nil {
				return false
			}
			rows[id] = st
		}
		return rs.Err() == nil
	})
	return rows
}
