package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"
)

func refusedHook(ip string, i int) Event {
	return Event{ActorName: "neox", Action: ActionWebhookReceived, Outcome: OutcomeDenied, TargetType: "webhook",
		TargetID: "PG", ClientIP: ip, Details: map[string]any{"api": "PG", "reason": fmt.Sprintf("bad signature %d", i)}}
}

// aggregates returns the aggregate events, oldest first.
func aggregates(t *testing.T, l *Log) []Entry {
	t.Helper()
	var out []Entry
	for seq := int64(1); seq <= int64(countEvents(t, l.db)); seq++ {
		e, err := l.Get(context.Background(), seq)
		if err != nil {
			t.Fatal(err)
		}
		if e.Details["aggregate"] == true {
			out = append(out, e)
		}
	}
	return out
}

func count(t *testing.T, e Entry) int {
	t.Helper()
	n, ok := e.Details["count"].(json.Number)
	if ok {
		v, _ := n.Int64()
		return int(v)
	}
	f, ok := e.Details["count"].(float64)
	if !ok {
		t.Fatalf("aggregate without a count: %+v", e.Details)
	}
	return int(f)
}

// One source flooding one action: PerSource rows in the window, then one
// aggregate carrying the count once the window has ended.
func TestLimiterBoundsRowsPerSourceAndAggregates(t *testing.T) {
	db := openDB(t)
	clock := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	l := New(db, clock.Now)
	lim := NewLimiter(l, LimiterOptions{})
	ctx := context.Background()
	for i := range 1000 {
		clock.Set(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * 50 * time.Millisecond))
		if err := lim.RecordNow(ctx, refusedHook("198.51.100.9", i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := countEvents(t, db); n != 5 {
		t.Fatalf("%d rows during the window, want 5 (PerSource)", n)
	}
	// Another source still gets its own rows; a legit event is not the
	// limiter's business.
	if err := lim.RecordNow(ctx, refusedHook("203.0.113.1", 0)); err != nil {
		t.Fatal(err)
	}
	if n := countEvents(t, db); n != 6 {
		t.Fatalf("another source's first refusal was not recorded (%d rows)", n)
	}
	// The window ends: Flush writes one aggregate for the suppressed 995.
	clock.Set(time.Date(2026, 12, 1, 10, 1, 0, 0, time.UTC))
	if err := lim.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	aggs := aggregates(t, l)
	if len(aggs) != 1 {
		t.Fatalf("%d aggregates, want 1", len(aggs))
	}
	a := aggs[0]
	if count(t, a) != 995 || a.Action != ActionWebhookReceived || a.Outcome != OutcomeDenied ||
		a.ClientIP != "198.51.100.9" || a.Details["source"] != "198.51.100.9" || a.Details["window_start"] != "2026-12-01T10:00:00Z" {
		t.Fatalf("aggregate = %+v %v", a.Event, a.Details)
	}
	if n := countEvents(t, db); n != 7 {
		t.Fatalf("%d rows after the flush, want 7", n)
	}
	// Nothing more to flush; the next window starts a fresh budget.
	if err := lim.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 6 {
		lim.RecordNow(ctx, refusedHook("198.51.100.9", i))
	}
	if n := countEvents(t, db); n != 12 {
		t.Fatalf("%d rows in the next window, want 12", n)
	}
	mustVerify(t, l, 12)
}

// Many sources: the rows per window stay under Global + Sources + actions,
// and every suppressed event is counted in some aggregate.
func TestLimiterBoundsRowsAcrossSources(t *testing.T) {
	db := openDB(t)
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	clock := clock.NewFake(start)
	l := New(db, clock.Now)
	opts := LimiterOptions{PerSource: 3, Global: 40, Sources: 20}
	lim := NewLimiter(l, opts)
	ctx := context.Background()
	const sources, each = 500, 7
	for i := range sources * each {
		e := refusedHook(fmt.Sprintf("2001:db8:%x::%d", i%sources, i), i) // one /64 per source
		if i%2 == 1 {
			e.Action, e.TargetType = ActionLoginThrottled, "user"
		}
		if err := lim.RecordNow(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	clock.Set(start.Add(time.Minute))
	if err := lim.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	rows := countEvents(t, db)
	bound := opts.Global + opts.Sources + 2
	if rows > bound {
		t.Fatalf("%d rows for one window, want at most %d", rows, bound)
	}
	counted := 0
	for _, a := range aggregates(t, l) {
		counted += count(t, a)
	}
	if individual := rows - len(aggregates(t, l)); individual+counted != sources*each {
		t.Fatalf("%d rows + %d counted = %d, want every one of %d events", individual, counted, individual+counted, sources*each)
	}
	t.Logf("%d refusals from %d sources in one window: %d rows (bound %d)", sources*each, sources, rows, bound)
	mustVerify(t, l, int64(rows))
}

// Admit never writes, so it can be asked inside the caller's transaction.
func TestLimiterAdmitInsideATransaction(t *testing.T) {
	db := openDB(t)
	l := New(db, nil)
	lim := NewLimiter(l, LimiterOptions{PerSource: 1})
	ctx := WithOrigin(context.Background(), Origin{ClientIP: "192.0.2.4"})
	e := Event{Action: ActionLoginThrottled, Outcome: OutcomeDenied}
	if !lim.Admit(ctx, e) || lim.Admit(ctx, e) {
		t.Fatal("want the first admitted and the second counted")
	}
	if n := countEvents(t, db); n != 0 {
		t.Fatalf("Admit wrote %d rows", n)
	}
}

// Run writes the counts of the current window when it stops.
func TestLimiterRunFlushesOnStop(t *testing.T) {
	db := openDB(t)
	l := New(db, nil)
	lim := NewLimiter(l, LimiterOptions{PerSource: 1, Window: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); lim.Run(ctx, time.Hour, func(err error) { t.Error(err) }) }()
	for i := range 4 {
		if err := lim.RecordNow(context.Background(), refusedHook("192.0.2.8", i)); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	<-done
	aggs := aggregates(t, l)
	if len(aggs) != 1 || count(t, aggs[0]) != 3 {
		t.Fatalf("aggregates after stop: %+v", aggs)
	}
}

// Signed-in users are counted each on their own, whatever address they
// share; anonymous refusals by address.
func TestLimiterCountsSignedInUsersApart(t *testing.T) {
	l := New(openDB(t), nil)
	lim := NewLimiter(l, LimiterOptions{PerSource: 1})
	office := WithOrigin(context.Background(), Origin{ClientIP: "192.0.2.4"})
	for id := int64(1); id <= 3; id++ {
		if !lim.Admit(office, Event{ActorID: id, Action: ActionAccessDenied, Outcome: OutcomeDenied}) {
			t.Fatalf("user %d's first refusal was not admitted", id)
		}
	}
	anon := Event{Action: ActionAccessDenied, Outcome: OutcomeDenied}
	if !lim.Admit(office, anon) || lim.Admit(office, anon) {
		t.Fatal("anonymous refusals from one address: want one admitted, then counted")
	}
}
