package bulk

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/clock"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// countingTransport counts the calls it passes on to NeoX (the sandbox).
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// fixture is a desk's database with a PG sandbox, its refund domain, and
// a file of n refunds of distinct PG payments the sandbox knows.
type fixture struct {
	db    *store.DB
	sb    *sandbox.Sandbox
	rs    *refunds.Service
	log   *audit.Log
	clock *clock.Fake
	calls *countingTransport
	file  []byte
	actor refunds.Actor
}

func newFixture(t *testing.T, n int) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenURL(ctx, storetest.URL(t, ""), store.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sb := sandbox.New(sandbox.Config{MerchantCode: "TEST01", PGSecretKey: "pg-secret"})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	f := &fixture{db: db, sb: sb, clock: clock.NewFake(time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)), calls: &countingTransport{}}
	f.log = audit.New(db, f.clock.Now)
	f.rs = refunds.New(db, f.log, refunds.Gateways{PG: neox.NewPG(neox.PGConfig{BaseURL: sb.URL(), MerchantCode: "TEST01",
		SecretKey: "pg-secret"}, &http.Client{Transport: f.calls})}, refunds.Options{Now: f.clock.Now, Logger: quiet()})
	var buf bytes.Buffer
	buf.WriteString(header)
	for i := range n {
		ref, pay := fmt.Sprintf("2412%08dCHK", i), fmt.Sprintf("8%06d", i)
		sb.AddPGTransaction(sandbox.PGTransaction{ID: ref, OrderID: "C-" + ref,
			Payments: []sandbox.PGPayment{{ID: pay, Status: "SUCCESS", Method: "ATM", Amount: 500_000}}})
		fmt.Fprintf(&buf, "PG,%s,%s,1000,VND,customer_request,check %d\n", ref, pay, i)
	}
	f.file = buf.Bytes()
	svc := auth.NewService(db, f.log, auth.Options{Now: f.clock.Now, Argon: auth.Params{Memory: 64, Time: 1, Threads: 1}})
	u, err := svc.CreateUser(ctx, "lan", "", auth.RoleStaff, "correct horse battery staple", false)
	if err != nil {
		t.Fatal(err)
	}
	id := u.ID
	f.actor = refunds.Actor{ID: id, Name: "lan", Role: policy.Staff, Lang: "en"}
	return f
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// checker is a bulk service as one server instance runs it.
func (f *fixture) checker(owner string, opt CheckOptions) *Service {
	opt.Owner, opt.Logger = owner, quiet()
	return New(f.db, f.rs, f.log, f.rs.Policy(), f.clock.Now, opt)
}

// run runs s's checker until the test ends or stop is called.
func run(t *testing.T, s *Service) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = s.Run(ctx) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func (f *fixture) state(t *testing.T, id string) (state string, p store.BatchProgress) {
	t.Helper()
	b, err := f.db.Batch(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p, err = f.db.BatchProgress(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return b.State, p
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestTwoCheckersCheckEachRowOnce: two instances (neither the sole
// checker, as on PostgreSQL) run on one database; an upload woken on one
// is checked by exactly one of them: every row asked at NeoX once.
func TestTwoCheckersCheckEachRowOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		const rows = 60
		f := newFixture(t, rows)
		f.sb.SetLatency(20 * time.Millisecond)
		f.sb.InjectFault(sandbox.OpPGQuery, sandbox.FaultLatency, 1000)
		a := f.checker("a", CheckOptions{Lookups: 4, Poll: 10 * time.Millisecond})
		b := f.checker("b", CheckOptions{Lookups: 4, Poll: 10 * time.Millisecond})
		run(t, a)
		run(t, b)
		batch, err := a.Upload(context.Background(), f.actor, "x.csv", bytes.NewReader(f.file), func(err error) string { return err.Error() })
		if err != nil {
			t.Fatal(err)
		}
		b.Wake()
		waitUntil(t, "the batch checked", func() bool { st, _ := f.state(t, batch.ID); return st != StateChecking })
		st, p := f.state(t, batch.ID)
		if st != StatePreview || p.Pending != 0 || p.Rows != rows {
			t.Fatalf("state %s, progress %+v", st, p)
		}
		if n := f.calls.n.Load(); n != rows {
			t.Errorf("%d NeoX lookups for %d rows: a row was checked twice", n, rows)
		}
		got, err := a.Get(context.Background(), f.actor, batch.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Totals) != 1 || got.Totals[0].Count != rows || got.Totals[0].Amount != rows*1000 {
			t.Errorf("totals %+v, errors %d", got.Totals, got.Errors)
		}
	})
}

// TestCheckerTakesOverAnExpiredLease: a checker that died mid-check
// (its lease still held) is taken over by another instance only once the
// lease has run out; the new owner checks only the rows left.
func TestCheckerTakesOverAnExpiredLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		const rows = 30
		f := newFixture(t, rows)
		a := f.checker("a", CheckOptions{Lookups: 2, Lease: time.Minute, FlushRows: 1})
		f.sb.SetLatency(50 * time.Millisecond)
		f.sb.InjectFault(sandbox.OpPGQuery, sandbox.FaultLatency, 1000)
		stopA := run(t, a)
		batch, err := a.Upload(context.Background(), f.actor, "x.csv", bytes.NewReader(f.file), func(err error) string { return err.Error() })
		if err != nil {
			t.Fatal(err)
		}
		waitUntil(t, "a few rows checked", func() bool { _, p := f.state(t, batch.ID); return p.Pending < rows-2 })
		f.sb.SetLatency(time.Hour) // the rows not asked yet stay unchecked
		stopA()
		// As a killed process leaves it: its lease held for a minute more.
		if _, err := f.db.Write.Exec(`UPDATE refund_batches SET lease_owner = 'a', lease_until = ? WHERE id = ?`,
			store.FormatTime(f.clock.Now().Add(time.Minute)), batch.ID); err != nil {
			t.Fatal(err)
		}
		_, left := f.state(t, batch.ID)
		f.sb.SetLatency(time.Millisecond)
		before := f.calls.n.Load()

		b := f.checker("b", CheckOptions{Lookups: 2, Lease: time.Minute, Poll: 10 * time.Millisecond})
		var claimed sync.WaitGroup
		claimed.Add(1)
		go func() {
			defer claimed.Done()
			// b polls while the lease runs: it must not take the batch over.
			ctx := context.Background()
			err := b.claim(ctx, &sync.WaitGroup{})
			if err != nil {
				t.Error(err)
			}
			b.mu.Lock()
			defer b.mu.Unlock()
			if len(b.running) != 0 {
				t.Error("a live lease was taken over")
			}
		}()
		claimed.Wait()
		f.clock.Advance(time.Minute)
		run(t, b)
		waitUntil(t, "the batch resumed and checked", func() bool { st, _ := f.state(t, batch.ID); return st != StateChecking })
		st, p := f.state(t, batch.ID)
		if st != StatePreview || p.Pending != 0 {
			t.Fatalf("state %s, progress %+v", st, p)
		}
		if n := f.calls.n.Load() - before; n != int64(left.Pending) {
			t.Errorf("the new owner asked NeoX %d times for %d unchecked rows", n, left.Pending)
		}
	})
}
