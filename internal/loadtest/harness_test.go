package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

const userPassword = "load test passphrase, long enough"

// recorder collects latencies per route and every unexpected answer.
type recorder struct {
	mu       sync.Mutex
	lat      map[string][]time.Duration
	fivexx   int
	errs     int
	problems []string // first few unexpected answers, for the failure message
}

func newRecorder() *recorder { return &recorder{lat: map[string][]time.Duration{}} }

func (r *recorder) add(route string, d time.Duration) {
	r.mu.Lock()
	r.lat[route] = append(r.lat[route], d)
	r.mu.Unlock()
}

func (r *recorder) problem(route string, status int, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs++
	if status >= 500 {
		r.fivexx++
	}
	if len(r.problems) < 10 {
		r.problems = append(r.problems, fmt.Sprintf("%s: status %d %s", route, status, msg))
	}
}

// RouteStats is the latency summary of one route at one concurrency.
type RouteStats struct {
	Route     string  `json:"route"`
	Count     int     `json:"count"`
	PerSecond float64 `json:"per_second"`
	P50ms     float64 `json:"p50_ms"`
	P95ms     float64 `json:"p95_ms"`
	P99ms     float64 `json:"p99_ms"`
	Maxms     float64 `json:"max_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// summarize sorts ds and reads its percentiles (nearest rank).
func summarize(route string, ds []time.Duration, elapsed time.Duration) RouteStats {
	slices.Sort(ds)
	pct := func(p float64) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		i := int(p*float64(len(ds))+0.5) - 1
		return ds[min(max(i, 0), len(ds)-1)]
	}
	s := RouteStats{Route: route, Count: len(ds), P50ms: ms(pct(0.50)), P95ms: ms(pct(0.95)), P99ms: ms(pct(0.99))}
	if len(ds) > 0 {
		s.Maxms = ms(ds[len(ds)-1])
	}
	if elapsed > 0 {
		s.PerSecond = float64(len(ds)) / elapsed.Seconds()
	}
	return s
}

func (r *recorder) stats(elapsed time.Duration) (routes []RouteStats, all RouteStats) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var every []time.Duration
	for route, ds := range r.lat {
		routes = append(routes, summarize(route, ds, elapsed))
		every = append(every, ds...)
	}
	sort.Slice(routes, func(i, j int) bool { return routes[i].Route < routes[j].Route })
	return routes, summarize("all requests", every, elapsed)
}

// newClient is one virtual user's browser: its own cookie jar, redirects
// not followed, connections kept alive on the shared transport.
func newClient(tr http.RoundTripper) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func newTransport() *http.Transport {
	return &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512, IdleConnTimeout: time.Minute}
}

// world is the started application with its users, clients and the NeoX
// transactions the virtual users refund.
type world struct {
	run       *apptest.Running   // the first instance: its config, database and audit log
	runs      []*apptest.Running // every instance; requests go to each in turn
	next      atomic.Uint64
	sb        *sandbox.Sandbox // the NeoX every instance talks to
	rec       *recorder
	tr        *http.Transport
	staff     []*http.Client // staff[i] is signed in as staffName(i)
	managers  []*http.Client // managers[i] as managerName(i)
	txns      []sandbox.PGTransaction
	fxRefunds int64

	mu          sync.Mutex
	approved    []string // refunds approved during the current level
	allApproved []string // refunds approved during the whole run
}

// newWorld starts the app on a copy of the fixture (dbPath "" means an
// empty database of fxRefunds = 0), creates the fixture's users in the
// order the fixture assumes, signs in users staff and managers, and gives
// the sandbox one PG transaction per virtual user with plenty to refund.
func newWorld(t testing.TB, dbPath string, fxRefunds int64, users int, extra ...apptest.Option) *world {
	t.Helper()
	opts := worldOptions()
	if dbPath != "" {
		opts = append(opts, apptest.WithEnv("DB_PATH", dbPath))
	}
	run := apptest.Start(t, append(opts, extra...)...)
	return setUpWorld(t, []*apptest.Running{run}, run.App.Sandbox, fxRefunds, users)
}

// worldOptions are the settings every instance of a load run shares.
func worldOptions() []apptest.Option {
	return []apptest.Option{apptest.WithEnv("SANDBOX_SETTLE_DELAY", "20ms"), apptest.WithEnv("LOG_LEVEL", "warn"),
		apptest.WithRefundOptions(refunds.Options{Workers: 4, RetryBase: 200 * time.Millisecond, PollInterval: time.Second})}
}

// setUpWorld creates the fixture's users through the first instance, signs
// the virtual users in and gives sb their transactions.
func setUpWorld(t testing.TB, runs []*apptest.Running, sb *sandbox.Sandbox, fxRefunds int64, users int) *world {
	t.Helper()
	run := runs[0]
	w := &world{run: run, runs: runs, sb: sb, rec: newRecorder(), tr: newTransport(), fxRefunds: fxRefunds}
	t.Cleanup(w.tr.CloseIdleConnections)
	// Ids 2..fxStaff+1 are staff, then managers: what the fixture's
	// requested_by and decided_by columns point at.
	for i := range fxStaff {
		run.CreateUser(t, staffName(i), auth.RoleStaff, userPassword)
	}
	for i := range fxManagers {
		run.CreateUser(t, managerName(i), auth.RoleManager, userPassword)
	}
	for i := range users {
		w.staff = append(w.staff, w.login(t, staffName(i%fxStaff)))
		w.managers = append(w.managers, w.login(t, managerName(i%fxManagers)))
		txn := sandbox.PGTransaction{ID: fmt.Sprintf("LT%04dLOADTEST", i), OrderID: fmt.Sprintf("LOAD-%04d", i),
			Payments: []sandbox.PGPayment{{ID: strconv.Itoa(8_000_000 + i), Status: "SUCCESS", Method: "ATM", Amount: 1_000_000_000_000}}}
		sb.AddPGTransaction(txn)
		w.txns = append(w.txns, txn)
	}
	return w
}

func (w *world) login(t testing.TB, name string) *http.Client {
	t.Helper()
	c := newClient(w.tr)
	status, _, err := w.do(c, http.MethodPost, "/login", url.Values{"username": {name}, "password": {userPassword}}, nil)
	if err != nil || status != http.StatusSeeOther {
		t.Fatalf("login %s: status %d, %v", name, status, err)
	}
	return c
}

// awaitChainChecks asks every instance for its audit chain badge until
// none is still verifying, and returns how long each took as a probe.
func (w *world) awaitChainChecks(t testing.TB) []Probe {
	t.Helper()
	var out []Probe
	start := time.Now()
	for i, run := range w.runs {
		for {
			body, err := w.get(w.managers[0], run.URL, "/audit/chain")
			if err != nil {
				t.Fatalf("instance %d: chain badge: %v", i+1, err)
			}
			if !strings.Contains(body, `aria-busy="true"`) {
				break
			}
			if time.Since(start) > 10*time.Minute {
				t.Fatalf("instance %d: the chain check did not end in 10 minutes", i+1)
			}
			time.Sleep(250 * time.Millisecond)
		}
		out = append(out, Probe{Name: fmt.Sprintf("first full chain check, instance %d (background)", i+1),
			Path: "/audit/chain", Status: http.StatusOK, Ms: ms(time.Since(start))})
	}
	return out
}

// get fetches path from the instance at base and returns the body.
func (w *world) get(c *http.Client, base, path string) (string, error) {
	req, err := http.NewRequest(http.MethodGet, base+path, nil)
	if err != nil {
		return "", err
	}
	req.Host = strings.TrimPrefix(w.run.URL, "http://")
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), err
}

// do sends one request and returns status, Location and any transport error.
func (w *world) do(c *http.Client, method, path string, form url.Values, body []byte) (int, string, error) {
	var rd io.Reader
	switch {
	case form != nil:
		rd = strings.NewReader(form.Encode())
	case body != nil:
		rd = strings.NewReader(string(body))
	}
	// In turn over the instances, as a load balancer would; every instance
	// is told the first one's URL as its public one (BASE_URL), so the
	// request names that host, as a proxy passes it on.
	base := w.runs[int(w.next.Add(1)%uint64(len(w.runs)))].URL
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, "", err
	}
	req.Host = strings.TrimPrefix(w.run.URL, "http://")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method == http.MethodPost && body == nil {
		req.Header.Set("Origin", w.run.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", err
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Location"), err
}

// hit is do, timed and recorded under route; it reports whether the
// status was the expected one.
func (w *world) hit(c *http.Client, route string, want int, method, path string, form url.Values, body []byte) (string, bool) {
	start := time.Now()
	status, loc, err := w.do(c, method, path, form, body)
	d := time.Since(start)
	if err != nil || status != want {
		msg := ""
		if err != nil {
			msg = err.Error()
		}
		w.rec.problem(route, status, msg)
		return loc, false
	}
	w.rec.add(route, d)
	return loc, true
}

// pgIPN is a signed PG refund IPN for fixture refund i, which must be a
// PG refund that succeeded (i a multiple of 300: see the fixture's mix):
// what NeoX sends when it repeats a notification.
func (w *world) pgIPN(i int64) []byte {
	cfg := w.run.App.Cfg
	fields := map[string]string{"neo_MerchantCode": cfg.PGMerchantCode, "neo_Command": "REFUND",
		"neo_OrderID": "FX-ORDER", "neo_PaymentID": strconv.FormatInt(3_000_000+i/5, 10), "neo_RequestID": fixtureRefundID(i),
		"neo_TransactionID": fmt.Sprintf("RF%010d", i), "neo_Amount": strconv.FormatInt(fixtureAmount(i), 10), "neo_Fee": "0",
		"neo_Version": "1", "neo_ResponseCode": "0", "neo_ResponseMsg": "Successful"}
	ipn := map[string]any{}
	for k, v := range fields {
		ipn[k] = v
	}
	ipn["neo_Amount"], ipn["neo_Fee"], ipn["neo_ResponseCode"] = fixtureAmount(i), 0, 0
	ipn["neo_SecureHash"] = strings.ToUpper(neox.PGHash(fields, cfg.PGSecretKey))
	b, _ := json.Marshal(ipn)
	return b
}

// user is one virtual user's loop: a staff member looks a transaction up,
// opens the refund form, requests a refund and checks it; a manager opens
// the approvals queue, approves it, reviews the audit trail and old
// refunds; NeoX repeats a webhook. It runs until ctx ends.
func (w *world) user(ctx context.Context, i int) {
	staff, mgr, txn := w.staff[i], w.managers[i], w.txns[i]
	rng := rand.New(rand.NewPCG(uint64(i), 42))
	payment := txn.Payments[0].ID
	fixtureID := func() int64 { return rng.Int64N(max(w.fxRefunds, 1)) }
	for ctx.Err() == nil {
		w.hit(staff, "GET /transactions?api&ref (lookup)", 200, "GET", "/transactions?api=PG&ref="+txn.ID, nil, nil)
		q := url.Values{"api": {"PG"}, "ref": {txn.ID}, "payment": {payment}}
		w.hit(staff, "GET /refunds/new", 200, "GET", "/refunds/new?"+q.Encode(), nil, nil)
		q.Set("token", uuid.NewString())
		q.Set("amount", "10000")
		q.Set("reason_code", "customer_request")
		q.Set("reason_text", "load test")
		loc, ok := w.hit(staff, "POST /refunds", 303, "POST", "/refunds", q, nil)
		id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/refunds/"), "?")
		if !ok || uuid.Validate(id) != nil {
			continue
		}
		w.hit(staff, "GET /refunds/{id}", 200, "GET", "/refunds/"+id, nil, nil)
		w.hit(staff, "GET /refunds (own list)", 200, "GET", "/refunds", nil, nil)
		w.hit(mgr, "GET /approvals", 200, "GET", "/approvals", nil, nil)
		if _, ok := w.hit(mgr, "POST /refunds/{id}/approve", 303, "POST", "/refunds/"+id+"/approve", url.Values{}, nil); ok {
			w.mu.Lock()
			w.approved = append(w.approved, id)
			w.allApproved = append(w.allApproved, id)
			w.mu.Unlock()
		}
		w.hit(staff, "GET /refunds/{id}/status", 200, "GET", "/refunds/"+id+"/status", nil, nil)
		w.hit(mgr, "GET /audit", 200, "GET", "/audit", nil, nil)
		w.hit(mgr, "GET /audit?actor", 200, "GET", "/audit?actor="+staffName(rng.IntN(fxStaff)), nil, nil)
		if w.fxRefunds > 0 {
			w.hit(mgr, "GET /refunds/{id} (old)", 200, "GET", "/refunds/"+fixtureRefundID(fixtureID()), nil, nil)
			w.hit(w.staff[i], "POST /webhooks/neox/pg (repeat)", 200, "POST", "/webhooks/neox/pg", nil, w.pgIPN(fixtureID()/300*300))
		}
		w.hit(mgr, "GET /refunds (all)", 200, "GET", "/refunds", nil, nil)
		w.hit(staff, "GET / (home)", 200, "GET", "/", nil, nil)
	}
}

// drive runs users virtual users for d and returns how long they ran.
func (w *world) drive(users int, d time.Duration) time.Duration {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range users {
		wg.Go(func() { w.user(ctx, i) })
	}
	wg.Wait()
	return time.Since(start)
}

// Probe is one heavy request measured alone, outside the user loop.
type Probe struct {
	Name   string  `json:"name"`
	Path   string  `json:"path"`
	Status int     `json:"status"`
	Ms     float64 `json:"ms"`
}

// probe times GET path as a manager with a long timeout, reps times, or
// POST (an empty form) when path starts with "POST ".
func (w *world) probe(name, path string, reps int) []Probe {
	method, form := http.MethodGet, url.Values(nil)
	if p, ok := strings.CutPrefix(path, "POST "); ok {
		method, form, path = http.MethodPost, url.Values{}, p
	}
	c := *w.managers[0]
	c.Timeout = 10 * time.Minute
	var out []Probe
	for range reps {
		start := time.Now()
		status, _, err := w.do(&c, method, path, form, nil)
		if err != nil {
			status = 0
		}
		out = append(out, Probe{Name: name, Path: path, Status: status, Ms: ms(time.Since(start))})
	}
	return out
}
