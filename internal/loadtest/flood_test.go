package loadtest

import (
	"context"
	"flag"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

var (
	floodFlag    = flag.Bool("loadtest.flood", false, "run the refusal flood measurement (issue 12): legit users with and without a flood of refused webhooks and throttled logins")
	floodFor     = flag.Duration("loadtest.flood.duration", time.Minute, "how long the baseline and the flood each run")
	floodThreads = flag.Int("loadtest.flood.threads", 32, "flooding connections")
	floodUsers   = flag.Int("loadtest.flood.users", 4, "legitimate virtual users during both phases")
)

// refusedActions are what the flood can make the app record (with outcome
// denied or failure; the legitimate users' repeated IPNs are successes).
const refusedActions = `'webhook.received', 'auth.login_throttled', 'auth.login_failed', 'access.denied'`

// TestRefusalFlood is issue 12's measurement, opt-in:
//
//	go test ./internal/loadtest/ -run TestRefusalFlood -loadtest.flood -timeout 20m -v
//
// On the small fixture (3,000 refunds, 15,000 audit events), legitimate
// users run the normal loop for the duration alone (the baseline, same
// run), then again while 32 connections post, as fast as they are
// answered, anonymous refused webhooks (a PG IPN with a wrong hash) and
// logins with wrong passwords at an existing account (throttled once its
// budget is spent), then alone again (a second baseline). It reports the
// rows the flood added to the audit trail against the limiter's bound, and
// the legitimate p95 in the three phases, and fails when the rows exceed
// the bound or the p95 under the flood is 2× the lower baseline's or more. Numbers go in BENCHMARKS.md.
func TestRefusalFlood(t *testing.T) {
	if !*floodFlag {
		t.Skip("refusal flood measurement: run with -loadtest.flood (see the doc comment)")
	}
	const fxRefunds, fxEvents = 3_000, 15_000
	db := copyFixture(t, fixturePath(t, fxRefunds, fxEvents), t.TempDir())
	w := newWorld(t, db, fxRefunds, *floodUsers, apptest.WithRefusalDelay(0)) // production pacing
	w.run.CreateUser(t, "floodvictim", auth.RoleStaff, userPassword)
	count := func(q string) int {
		var n int
		if err := w.run.App.DB.Read.QueryRow(q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	phase := func(name string, flood bool) (RouteStats, RouteStats, int64, time.Duration) {
		w.rec = newRecorder()
		ctx, cancel := context.WithCancel(context.Background())
		var sent atomic.Int64
		var wg sync.WaitGroup
		if flood {
			bad := []byte(`{"neo_MerchantCode":"` + w.run.App.Cfg.PGMerchantCode + `","neo_Command":"REFUND","neo_OrderID":"X","neo_PaymentID":"1","neo_RequestID":"00000000-0000-4000-8000-000000000000","neo_TransactionID":"RF1","neo_Amount":1,"neo_Fee":0,"neo_Version":"1","neo_ResponseCode":0,"neo_ResponseMsg":"Successful","neo_SecureHash":"0000"}`)
			for i := range *floodThreads {
				wg.Go(func() {
					c := &http.Client{Transport: newTransport(), Timeout: 30 * time.Second}
					defer c.Transport.(*http.Transport).CloseIdleConnections()
					for j := 0; ctx.Err() == nil; j++ {
						var req *http.Request
						if (i+j)%2 == 0 {
							req, _ = http.NewRequestWithContext(ctx, http.MethodPost, w.run.URL+"/webhooks/neox/pg", strings.NewReader(string(bad)))
							req.Header.Set("Content-Type", "application/json")
						} else {
							req, _ = http.NewRequestWithContext(ctx, http.MethodPost, w.run.URL+"/login",
								strings.NewReader(url.Values{"username": {"floodvictim"}, "password": {"guess"}}.Encode()))
							req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						}
						resp, err := c.Do(req)
						if err != nil {
							continue
						}
						resp.Body.Close()
						sent.Add(1)
					}
				})
			}
		}
		el := w.drive(*floodUsers, *floodFor)
		cancel()
		wg.Wait()
		routes, all := w.rec.stats(el)
		var create RouteStats
		for _, r := range routes {
			if r.Route == "POST /refunds" {
				create = r
			}
		}
		t.Logf("%s: %d legit requests, %.0f/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms; POST /refunds p95 %.1f ms; flood requests %d (%.0f/s); unexpected answers %d",
			name, all.Count, all.PerSecond, all.P50ms, all.P95ms, all.P99ms, create.P95ms, sent.Load(), float64(sent.Load())/el.Seconds(), w.rec.errs)
		return all, create, sent.Load(), el
	}

	base, baseCreate, _, _ := phase("baseline (no flood)", false)
	before := count(`SELECT coalesce(max(seq), 0) FROM audit_events`)
	start := time.Now()
	flooded, floodCreate, sent, el := phase("flood", true)
	end := time.Now()
	// The limiter writes a window's aggregates once it has ended; wait
	// for that (the app flushes every 5 s), not for a fixed time.
	lim := audit.LimiterOptions{}.WithDefaults()
	// The baseline once more, after the flood: the machine is shared, and
	// two baselines show how much of a difference is the machine's.
	after, afterCreate, _, _ := phase("baseline again (no flood)", false)
	windowsEnd := end.Truncate(lim.Window).Add(lim.Window)
	deadline := windowsEnd.Add(30 * time.Second)
	for time.Now().Before(windowsEnd) || count(`SELECT count(*) FROM audit_events WHERE seq > `+itoa(before)+` AND json_extract(details, '$.aggregate') AND at >= '`+windowsEnd.UTC().Format("2006-01-02T15:04:05")+`'`) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the flood's last aggregate events were never written")
		}
		_ = w.run.App.Refusals.Flush(context.Background())
		time.Sleep(200 * time.Millisecond) // polling the database for the condition above
	}
	added := count(`SELECT count(*) FROM audit_events WHERE seq > ` + itoa(before) + ` AND action IN (` + refusedActions + `) AND outcome IN ('denied', 'failure')`)
	aggs := count(`SELECT count(*) FROM audit_events WHERE seq > ` + itoa(before) + ` AND json_extract(details, '$.aggregate')`)
	counted := count(`SELECT coalesce(sum(json_extract(details, '$.count')), 0) FROM audit_events WHERE seq > ` + itoa(before) + ` AND json_extract(details, '$.aggregate')`)
	windows := int(end.Truncate(lim.Window).Sub(start.Truncate(lim.Window))/lim.Window) + 1
	bound := auth.DefaultThrottlePolicy().AccountGuesses + windows*2*(lim.PerSource+1)
	t.Logf("flood: %d refused requests in %.0f s added %d audit rows (%d aggregates counting %d refusals); bound %d (%d windows)",
		sent, el.Seconds(), added, aggs, counted, bound, windows)
	low := min(base.P95ms, after.P95ms)
	t.Logf("legit p95: %.1f ms and %.1f ms without the flood (before, after), %.1f ms with it (%.2f× the lower); POST /refunds p95 %.1f / %.1f → %.1f ms",
		base.P95ms, after.P95ms, flooded.P95ms, flooded.P95ms/low, baseCreate.P95ms, afterCreate.P95ms, floodCreate.P95ms)
	if added > bound {
		t.Errorf("the flood added %d audit rows, want at most %d", added, bound)
	}
	if flooded.P95ms >= 2*low {
		t.Errorf("legit p95 under the flood %.1f ms is 2× or more the lower baseline's %.1f ms", flooded.P95ms, low)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
