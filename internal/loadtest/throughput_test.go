package loadtest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

var (
	pipelineFlag = flag.Bool("loadtest.pipeline", false, "measure the worker's throughput (issue 18): a batch of refunds approved at once, NeoX answering each refund call after a delay, and approvals one by one meanwhile")
	pipelineN    = flag.Int("loadtest.pipeline.refunds", 10_000, "refunds in the batch")
	pipelineC    = flag.Int("loadtest.pipeline.concurrency", 8, "NEOX_CONCURRENCY: refunds sent at once")
	pipelineL    = flag.Duration("loadtest.pipeline.latency", 100*time.Millisecond, "how long NeoX takes to answer a refund call")
)

// TestPipelineThroughput measures how close the worker comes to its
// ceiling C/L (C refunds in flight, NeoX answering each after L): a batch
// of refunds is approved (the queue's bulk approve, 100 at a time), then
// the worker starts on it while refunds are approved one by one, one
// every 200 ms. It reports the batch's sustained rate (first send to last
// answer) against the ceiling, approval → send (NeoX receiving the call)
// for the single approvals, and checks that NeoX got each refund exactly
// once.
//
//	go test ./internal/loadtest/ -run TestPipelineThroughput -loadtest.pipeline -timeout 30m -v
func TestPipelineThroughput(t *testing.T) {
	if !*pipelineFlag {
		t.Skip("runs with -loadtest.pipeline (minutes: see BENCHMARKS.md)")
	}
	n, c, l := *pipelineN, *pipelineC, *pipelineL
	const singles = 100
	// The app without its worker (Serve would start it): the batch is
	// approved first, then the worker starts on the whole backlog, so the
	// measure is the worker's and not the approval's pace.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ADDR": ln.Addr().String(), "BASE_URL": "http://" + ln.Addr().String(),
		"DB_PATH": filepath.Join(t.TempDir(), "throughput.db"), "NEOX_CONCURRENCY": fmt.Sprint(c),
		"SANDBOX_SETTLE_DELAY": "1s", "LOG_LEVEL": "warn"}
	cfg, err := app.ParseConfig("throughput", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.Open(ctx, cfg, app.NewLogger(io.Discard, cfg.Level()), app.Options{Argon: &apptest.FastArgon})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.StartNeoX(refunds.Options{}); err != nil {
		t.Fatal(err)
	}
	h, _, err := a.Prepare(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h} // NeoX's webhooks land here
	go srv.Serve(ln)
	workerDone := make(chan error, 1)
	t.Cleanup(func() {
		cancel()
		srv.Close()
		<-workerDone
		a.Close()
	})
	sb := a.Sandbox
	staff, err := a.Auth.CreateUser(ctx, "staff", "Staff", auth.RoleStaff, "throughput passphrase", false)
	if err != nil {
		t.Fatal(err)
	}
	mgr, err := a.Auth.CreateUser(ctx, "manager", "Manager", auth.RoleManager, "throughput passphrase", false)
	if err != nil {
		t.Fatal(err)
	}
	asStaff := refunds.Actor{ID: staff.ID, Name: staff.Username, Role: policy.Staff, Lang: "en"}
	asMgr := refunds.Actor{ID: mgr.ID, Name: mgr.Username, Role: policy.Manager, Lang: "en"}

	// n + singles refunds, each of its own PG payment (refunds of one
	// payment are sent one after the other), requested in parallel.
	ids := make([]string, n+singles)
	t0 := time.Now()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < len(ids); i += 4 {
				ref, pay := fmt.Sprintf("TPUT%08d", i), fmt.Sprint(70_000_000+i)
				sb.AddPGTransaction(sandbox.PGTransaction{ID: ref, Payments: []sandbox.PGPayment{
					{ID: pay, Status: "SUCCESS", Method: "ATM", Amount: 1_000_000}}})
				rf, err := a.Refunds.Create(ctx, asStaff, refunds.NewRequest{API: refunds.APIPG, TransactionRef: ref,
					PaymentID: pay, Amount: 10_000, ReasonCode: "customer_request", Lang: "en"})
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				ids[i] = rf.ID
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d refunds requested in %s", len(ids), time.Since(t0).Round(time.Millisecond))
	batch, single := ids[:n], ids[n:]

	t0 = time.Now()
	for chunk := range slices.Chunk(batch, 100) {
		for _, res := range a.Refunds.ApproveEach(ctx, asMgr, chunk) {
			if res.Err != nil {
				t.Fatalf("bulk approve %s: %v", res.ID, res.Err)
			}
		}
	}
	t.Logf("batch of %d approved in %s (no worker running)", n, time.Since(t0).Round(time.Millisecond))

	sb.SetLatency(l)
	sb.InjectFault(sandbox.OpPGRefund, sandbox.FaultLatency, len(ids)+1_000)
	go func() { workerDone <- a.Refunds.Run(ctx) }()
	wg.Go(func() {
		time.Sleep(time.Second) // the worker is into the backlog
		for _, id := range single {
			if _, err := a.Refunds.Approve(ctx, asMgr, id, ""); err != nil {
				t.Errorf("approve %s: %v", id, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	wg.Wait()

	// Wait until NeoX answered every refund's first attempt.
	db := a.DB.Read
	deadline := time.Now().Add(time.Duration(len(ids))*l/time.Duration(c)*3 + time.Minute)
	for {
		var open int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM refunds WHERE submission IN ('QUEUED', 'SENDING', 'UNKNOWN')`).
			Scan(&open); err != nil {
			t.Fatal(err)
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refunds still not answered by NeoX", open)
		}
		time.Sleep(200 * time.Millisecond)
	}

	timeOf := func(query, id string) time.Time {
		var v string
		if err := db.QueryRowContext(ctx, query, id).Scan(&v); err != nil {
			t.Fatalf("refund %s: %v", id, err)
		}
		at, err := store.ParseTime(v)
		if err != nil {
			t.Fatalf("refund %s: %v", id, err)
		}
		return at
	}
	answered := func(id string) time.Time {
		return timeOf(`SELECT finished_at FROM refund_attempts WHERE refund_id = ? AND n = 1`, id)
	}
	decided := func(id string) time.Time { return timeOf(`SELECT decided_at FROM refunds WHERE id = ?`, id) }
	// A send is when NeoX got the refund call (the sandbox's clock, the
	// same as ours): the claim before it, and any wait for a call slot,
	// count against the desk.
	var first, last time.Time
	for _, id := range batch {
		s, f := sb.FirstRefundCall(id), answered(id)
		if first.IsZero() || s.Before(first) {
			first = s
		}
		if f.After(last) {
			last = f
		}
	}
	var toSend, toAnswer []time.Duration
	for _, id := range single {
		d := decided(id)
		toSend, toAnswer = append(toSend, sb.FirstRefundCall(id).Sub(d)), append(toAnswer, answered(id).Sub(d))
	}
	dups := 0
	for _, id := range ids {
		if calls := sb.RefundCalls(id); calls != 1 {
			dups++
			t.Errorf("refund %s: %d refund calls at NeoX, want 1", id, calls)
		}
	}
	span := last.Sub(first)
	rate := float64(n) / span.Seconds()
	ceiling := float64(c) / l.Seconds()
	send, answer := summarize("", toSend, 0), summarize("", toAnswer, 0)
	t.Logf("batch of %d: first send → last answer %s = %.1f refunds/s; ceiling C/L = %d/%s = %.1f/s: %.0f %%",
		n, span.Round(time.Millisecond), rate, c, l, ceiling, 100*rate/ceiling)
	t.Logf("%d approvals one by one during the batch: approval → send p50 %.1f ms, p95 %.1f ms, p99 %.1f ms; → NeoX answered p95 %.1f ms",
		len(single), send.P50ms, send.P95ms, send.P99ms, answer.P95ms)
	t.Logf("refunds sent more than once or never: %d", dups)
}
