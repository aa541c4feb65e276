package loadtest

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

var (
	loadFlag   = flag.Bool("loadtest", false, "run the full load test (1M refunds, 5M audit events; builds a cached fixture on first run)")
	loadLevels = flag.String("loadtest.levels", "1,10,50", "concurrent users per level")
	loadFor    = flag.Duration("loadtest.duration", 20*time.Second, "how long each level runs")
	loadOut    = flag.String("loadtest.out", "../../docs/loadtest.json", "where to write the results")
	loadSVG    = flag.String("loadtest.svg", "../../docs/latency.svg", "where to write the latency chart")
)

// Level is one concurrency level's measurements.
type Level struct {
	Users    int           `json:"users"`
	Seconds  float64       `json:"seconds"`
	All      RouteStats    `json:"all"`
	Routes   []RouteStats  `json:"routes"`
	Bare     RouteStats    `json:"bare"`
	Pipeline PipelineStats `json:"pipeline"`
	Errors   int           `json:"errors"`
	Fivexx   int           `json:"5xx"`
}

// Results is a whole run, as written to docs/loadtest.json.
type Results struct {
	When       string      `json:"when"`
	GoVersion  string      `json:"go"`
	CPUs       int         `json:"cpus"`
	Database   string      `json:"database"`  // "sqlite" or "postgres"
	Instances  int         `json:"instances"` // app instances sharing the database
	Refunds    int64       `json:"fixture_refunds"`
	Events     int64       `json:"fixture_events"`
	FixtureMiB int64       `json:"fixture_mib"`
	Levels     []Level     `json:"levels"`
	Inserts    InsertRates `json:"inserts"`
	Probes     []Probe     `json:"probes"`
	ChainOK    bool        `json:"chain_verifies"`
	VerifySecs float64     `json:"verify_seconds"`
}

// runLoad starts the app on the fixture and drives every level, checking
// the invariants that hold whatever the timings: no 5xx, no unexpected
// answer, every approved refund final and sent to NeoX exactly once.
func runLoad(t *testing.T, refunds, events int64, levels []int, d, drain time.Duration, bareSize int) Results {
	res := Results{When: time.Now().UTC().Format(time.RFC3339), GoVersion: runtime.Version(), CPUs: runtime.NumCPU(),
		Refunds: refunds, Events: events}
	var w *world
	if onPostgres() {
		res.Database, res.Instances = storetest.Postgres, pgInstances
		dsn := pgFixture(t, refunds, events)
		w = newPGWorld(t, dsn, refunds, levels[len(levels)-1], pgInstances)
		var size int64
		if err := w.run.App.DB.Read.QueryRow(`SELECT pg_database_size(current_database())`).Scan(&size); err == nil {
			res.FixtureMiB = size >> 20
		}
	} else {
		res.Database, res.Instances = storetest.SQLite, 1
		src := fixturePath(t, refunds, events)
		if fi, err := os.Stat(src); err == nil {
			res.FixtureMiB = fi.Size() >> 20
		}
		w = newWorld(t, copyFixture(t, src, t.TempDir()), refunds, levels[len(levels)-1])
	}
	// The audit page shows whether the chain verifies; the first check is a
	// full pass over the trail, done here before the clock starts.
	res.Probes = append(res.Probes, w.probe("first chain check (POST /audit/verify)", "POST /audit/verify", 1)...)
	// Each instance verifies the whole chain once, in the background, on
	// its first audit page: wait for it, so the levels measure the pages
	// and not that pass.
	res.Probes = append(res.Probes, w.awaitChainChecks(t)...)
	for _, users := range levels {
		w.rec = newRecorder()
		w.mu.Lock()
		w.approved = nil
		w.mu.Unlock()
		el := w.drive(users, d)
		w.mu.Lock()
		ids := w.approved
		w.mu.Unlock()
		routes, all := w.rec.stats(el)
		lv := Level{Users: users, Seconds: el.Seconds(), All: all, Routes: routes,
			Pipeline: w.pipeline(t, ids, el, drain), Errors: w.rec.errs, Fivexx: w.rec.fivexx}
		lv.Bare = bareHandler(t, users, bareSize, min(d, 5*time.Second))
		res.Levels = append(res.Levels, lv)
		t.Logf("%d users: %.0f req/s, p50 %.1f ms, p95 %.1f ms, p99 %.1f ms; pipeline %+v; bare p95 %.2f ms",
			users, all.PerSecond, all.P50ms, all.P95ms, all.P99ms, lv.Pipeline, lv.Bare.P95ms)
		for _, r := range routes {
			t.Logf("  %-36s n=%6d %7.1f/s p50 %7.2f p95 %7.2f p99 %7.2f ms", r.Route, r.Count, r.PerSecond, r.P50ms, r.P95ms, r.P99ms)
		}
		if w.rec.errs > 0 {
			t.Errorf("%d users: %d unexpected answers (%d 5xx), first: %v", users, w.rec.errs, w.rec.fivexx, w.rec.problems)
		}
		if p := lv.Pipeline; p.Lost > 0 || p.Duplicates > 0 || p.Approved == 0 {
			t.Errorf("%d users: pipeline %+v: want approvals, zero lost and zero duplicates", users, p)
		}
	}
	// Heavy queries, each alone, after the levels.
	for _, p := range []struct{ name, path string }{
		{"refunds filtered by status and API", "/refunds?status=SUCCEEDED&api=PG"},
		{"refunds filtered by status (rare)", "/refunds?status=PENDING"},
		{"refunds sorted by amount", "/refunds?sort=amount&currency=VND"},
		{"audit filtered by action", "/audit?action=refund.approved"},
		{"audit filtered by target", "/audit?target=" + fixtureRefundID(refunds/2)},
		{"audit free-text search (rare)", "/audit?q=fixture+event+4999999"},
		{"audit incremental chain check", "/audit"},
	} {
		res.Probes = append(res.Probes, w.probe(p.name, p.path, 3)...)
	}
	for _, p := range res.Probes {
		t.Logf("probe %-40s %4d %10.1f ms", p.Name, p.Status, p.Ms)
		if p.Status >= 500 || p.Status == 0 {
			t.Errorf("probe %s: status %d", p.Name, p.Status)
		}
	}
	res.Inserts = insertRates(t, min(d, 3*time.Second), w.run.App.Audit)
	start := time.Now()
	st, err := w.run.App.Audit.Verify(context.Background(), audit.Anchor{})
	res.VerifySecs = time.Since(start).Seconds()
	if err != nil {
		t.Fatal(err)
	}
	res.ChainOK = st.OK
	if !st.OK {
		t.Errorf("audit chain does not verify after the load: %+v", st)
	}
	return res
}

// TestLoadCI is the short variant that runs in every `go test ./...`: a
// small fixture, a second per level, and only the invariants asserted.
func TestLoadCI(t *testing.T) {
	if *loadFlag {
		t.Skip("the full load test runs instead")
	}
	res := runLoad(t, 3_000, 15_000, []int{1, 4}, time.Second, 30*time.Second, 8<<10)
	if res.Inserts.AuditPerSecond <= 0 || res.Inserts.BarePerSecond <= 0 {
		t.Errorf("insert rates not measured: %+v", res.Inserts)
	}
}

// TestLoad is the full run behind -loadtest: 1M refunds and 5M audit
// events (override with LOADTEST_REFUNDS / LOADTEST_EVENTS), levels of
// 1, 10 and 50 users. It writes docs/loadtest.json and docs/latency.svg.
func TestLoad(t *testing.T) {
	if !*loadFlag {
		t.Skip("full load test: run with -loadtest (see package doc)")
	}
	refunds, events := envInt("LOADTEST_REFUNDS", 1_000_000), envInt("LOADTEST_EVENTS", 5_000_000)
	var levels []int
	for _, s := range splitComma(*loadLevels) {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("-loadtest.levels: %q", s)
		}
		levels = append(levels, n)
	}
	res := runLoad(t, refunds, events, levels, *loadFor, 2*time.Minute, 8<<10)
	out, svg := *loadOut, *loadSVG
	if onPostgres() { // beside the SQLite run's files, unless told otherwise
		out, svg = pgVariant("loadtest.out", out), pgVariant("loadtest.svg", svg)
	}
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(out, append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(svg, latencySVG(res), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("inserts: %+v; verify %.1fs", res.Inserts, res.VerifySecs)
}

// pgVariant is the flag's value, or when it is the default, the default
// with "-postgres" before the extension (docs/loadtest-postgres.json).
func pgVariant(name, v string) string {
	if f := flag.Lookup(name); f == nil || v != f.DefValue {
		return v
	}
	ext := filepath.Ext(v)
	return strings.TrimSuffix(v, ext) + "-postgres" + ext
}

func envInt(k string, def int64) int64 {
	if v, err := strconv.ParseInt(os.Getenv(k), 10, 64); err == nil && v > 0 {
		return v
	}
	return def
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}
