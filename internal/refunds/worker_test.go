package refunds

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// recorder collects the request ids a fake was called with.
type recorder struct {
	mu  sync.Mutex
	ids []string
}

func (r *recorder) add(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, id)
	return len(r.ids)
}

func (r *recorder) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...)
}

func fastOpts() Options {
	return Options{RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond, PollInterval: time.Hour,
		ShutdownGrace: 2 * time.Second}
}

func approved(t *testing.T, s *Service, req NewRequest) Refund {
	t.Helper()
	r := mustCreate(t, s, staff, req)
	r, err := s.Approve(context.Background(), manager, r.ID, "")
	if err != nil {
		t.Fatalf("approve: %v", err)
	}
	return r
}

func TestPGEndToEnd(t *testing.T) {
	db := openDB(t)
	var calls recorder
	sent := make(chan time.Time, 1)
	pg := &fakePG{queryPT: paidPG(2_000_000, 0, "CC"),
		refund: func(_ context.Context, r neox.PGRefundRequest) (neox.PGRefundResult, error) {
			calls.add(r.RequestID)
			if r.PaymentID != "P1" || r.Amount != 300_000 || r.Receiver != nil {
				t.Errorf("refund request = %+v", r)
			}
			sent <- time.Now()
			return neox.PGRefundResult{TransID: "5SYNM1OELUND", ResponseCode: 0, ResponseMsg: "Successful"}, nil
		}}
	s := newService(t, db, Gateways{PG: pg}, fastOpts())
	runWorker(t, s)
	time.Sleep(20 * time.Millisecond) // let the worker settle into its wait

	r := mustCreate(t, s, staff, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 300_000, ReasonCode: "X"})
	approvedAt := time.Now()
	if _, err := s.Approve(context.Background(), manager, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-sent:
		// Without the wake-up the worker would sleep PollInterval (an hour);
		// the bound leaves room for -race on a busy CI machine.
		if d := at.Sub(approvedAt); d > 3*time.Second {
			t.Errorf("approval to submission took %v", d)
		} else {
			t.Logf("approval to submission: %v", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("refund never sent")
	}
	got := waitSubmission(t, s, r.ID, SubProcessing)
	if got.NeoXRefundID != "5SYNM1OELUND" || got.NeoXCode != "0" || got.Attempts != 1 || got.Final() {
		t.Fatalf("processing refund = %+v", got)
	}

	ipn := neox.PGRefundIPN{Command: "REFUND", PaymentID: "P1", RequestID: r.ID, TransactionID: "5SYNM1OELUND",
		Amount: 300_000, ResponseCode: 0, ResponseMsg: "Success"}
	res, err := s.ApplyPG(context.Background(), ipn, []byte(`{"neo_RequestID":"`+r.ID+`","neo_ResponseCode":0}`))
	if err != nil || res.Applied != HookApplied || res.RefundID != r.ID {
		t.Fatalf("IPN: %+v %v", res, err)
	}
	got = mustGet(t, s, r.ID)
	if got.Submission != SubSucceeded || got.FinalAt.IsZero() || !got.Final() || got.InFlight() {
		t.Fatalf("after IPN = %+v", got)
	}
	if ids := calls.all(); len(ids) != 1 || ids[0] != r.ID {
		t.Errorf("refund calls = %v", ids)
	}
	att, err := s.Attempts(context.Background(), r.ID)
	// NeoX's answer to an accepted refund is on the attempt, as on the refund.
	if err != nil || len(att) != 1 || att[0].Outcome != "success" || att[0].FinishedAt.IsZero() ||
		att[0].NeoXCode != "0" || att[0].NeoXMessage != "Successful" {
		t.Errorf("attempts = %+v, %v", att, err)
	}
	calls2 := auditRows(t, db, audit.ActionNeoXCall)
	if len(calls2) != 2 || calls2[0].Details["op"] != "query_pt" || calls2[1].Details["op"] != "refund" ||
		calls2[1].Details["request_id"] != r.ID || calls2[1].Details["outcome"] != "success" {
		t.Errorf("neox.call audit = %+v", calls2)
	}
	states := auditRows(t, db, audit.ActionRefundState)
	var path []string
	for _, e := range states {
		path = append(path, e.Details["to"].(string))
	}
	if want := []string{SubSending, SubProcessing, SubSucceeded}; len(path) != 3 || path[0] != want[0] || path[1] != want[1] || path[2] != want[2] {
		t.Errorf("state path = %v", path)
	}
}

func TestUnknownOutcomesRetryWithTheSameID(t *testing.T) {
	db := openDB(t)
	var sends, queries recorder
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(_ context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			if n := sends.add(r.RequestID); n <= 2 {
				return neox.COLRefund{}, unknownErr("refund")
			}
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING", NeoResponseID: "nr-3"}, nil
		},
		getRefund: func(_ context.Context, id string) (neox.COLRefund, error) {
			queries.add(id)
			return neox.COLRefund{}, notFoundCOL()
		}}
	s := newService(t, db, Gateways{COL: col}, fastOpts())
	runWorker(t, s)
	r := approved(t, s, colRequest(400_000, ""))
	got := waitSubmission(t, s, r.ID, SubProcessing)

	// Then NeoX approves and pays: webhook.
	if _, err := s.ApplyCOL(context.Background(), colEvent(r, "APPROVED", "SUCCESS"), []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	got = mustGet(t, s, r.ID)
	if got.Submission != SubSucceeded || got.Attempts != 3 || got.LastError != "" || got.NeoXApprovalStatus != "APPROVED" {
		t.Fatalf("refund = %+v", got)
	}
	ids := append(sends.all(), queries.all()...)
	if len(sends.all()) != 3 || len(queries.all()) != 2 {
		t.Fatalf("sends %v queries %v", sends.all(), queries.all())
	}
	for _, id := range ids {
		if id != r.ID {
			t.Fatalf("a call carried request id %s, want %s", id, r.ID)
		}
	}
	att, _ := s.Attempts(context.Background(), r.ID)
	if len(att) != 3 || att[0].Outcome != "unknown" || att[1].Outcome != "unknown" || att[2].Outcome != "success" ||
		att[2].NeoXResponseID != "nr-3" {
		t.Errorf("attempts = %+v", att)
	}
}

func TestDefiniteRejectionFails(t *testing.T) {
	db := openDB(t)
	var sends atomic.Int32
	gc := &fakeGC{
		getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
			return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 150000}, nil
		},
		refund: func(context.Context, neox.GCRefundRequest) (neox.GCRefundResult, error) {
			sends.Add(1)
			return neox.GCRefundResult{}, &neox.RejectedError{API: "GC", Op: "refund", Code: "2",
				Message: "INSUFFICIENT_BALANCE", NeoResponseID: "nr-9"}
		}}
	s := newService(t, db, Gateways{GC: gc}, fastOpts())
	runWorker(t, s)
	r := approved(t, s, NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "BEN"})
	got := waitSubmission(t, s, r.ID, SubFailed)
	if got.NeoXCode != "2" || got.NeoXMessage != "INSUFFICIENT_BALANCE" || got.NeoXResponseID != "nr-9" ||
		got.Attempts != 1 || got.FinalAt.IsZero() {
		t.Fatalf("failed refund = %+v", got)
	}
	time.Sleep(30 * time.Millisecond)
	if n := sends.Load(); n != 1 {
		t.Errorf("%d sends after a definite rejection", n)
	}
	ev := auditRows(t, db, audit.ActionNeoXCall)
	if len(ev) != 1 || ev[0].Outcome != audit.OutcomeFailure || ev[0].Details["code"] != "2" {
		t.Errorf("call audit = %+v", ev)
	}
}

func TestGCSuccessAnswerIsFinal(t *testing.T) {
	db := openDB(t)
	gc := &fakeGC{
		getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
			return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "VND", Amount: 500000}, nil
		},
		refund: func(_ context.Context, r neox.GCRefundRequest) (neox.GCRefundResult, error) {
			if r.FeeChargeWay != "OUR" || r.CollectionOrderID != "CO1" || r.SubMerchantID != "SUB-1" {
				t.Errorf("request = %+v", r)
			}
			return neox.GCRefundResult{CollectionOrderID: "CO1", RefundRequestID: "RF-1", Status: "SUCCESS"}, nil
		}}
	s := newService(t, db, Gateways{GC: gc}, fastOpts())
	runWorker(t, s)
	r := approved(t, s, NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "OUR", SubMerchantID: "SUB-1"})
	got := waitSubmission(t, s, r.ID, SubSucceeded)
	if got.NeoXRefundID != "RF-1" || got.NeoXStatus != "SUCCESS" {
		t.Fatalf("refund = %+v", got)
	}
}

// writeSending leaves a refund as a process killed mid-call would.
func writeSending(t *testing.T, db *store.DB, id string) {
	t.Helper()
	now := store.FormatTime(time.Now())
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'SENDING', attempts = 1 WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write.Exec(`INSERT INTO refund_attempts (refund_id, n, started_at) VALUES (?, 1, ?)`, id, now); err != nil {
		t.Fatal(err)
	}
}

func TestCrashMidCallReconcilesWithoutResend(t *testing.T) {
	db := openDB(t)
	var sends atomic.Int32
	var queried recorder
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(context.Context, neox.COLRefundRequest) (neox.COLRefund, error) {
			sends.Add(1)
			return neox.COLRefund{}, unknownErr("refund")
		},
		getRefund: func(_ context.Context, id string) (neox.COLRefund, error) {
			queried.add(id)
			return neox.COLRefund{RequestID: id, ApprovalStatus: "APPROVED", RefundTransID: "RT-1", NeoResponseID: "nr-1"}, nil
		}}
	// First process: create and approve, then "crash" with the row in SENDING.
	first := newService(t, db, Gateways{COL: col}, fastOpts())
	r := approved(t, first, colRequest(200_000, ""))
	writeSending(t, db, r.ID)

	second := newService(t, db, Gateways{COL: col}, fastOpts())
	runWorker(t, second)
	got := waitSubmission(t, second, r.ID, SubProcessing)
	if sends.Load() != 0 {
		t.Fatalf("resent %d times although NeoX already had the refund", sends.Load())
	}
	if ids := queried.all(); len(ids) != 1 || ids[0] != r.ID {
		t.Errorf("reconcile queries = %v", ids)
	}
	if got.NeoXRefundID != "RT-1" || got.NeoXApprovalStatus != "APPROVED" || got.Attempts != 2 {
		t.Errorf("refund = %+v", got)
	}
	att, _ := second.Attempts(context.Background(), r.ID)
	if len(att) != 2 || att[0].Outcome != "interrupted" || att[1].Outcome != "reconciled" {
		t.Errorf("attempts = %+v", att)
	}
}

func TestCrashMidCallResendsSameIDWhenNeoXLacksIt(t *testing.T) {
	db := openDB(t)
	var sends recorder
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(_ context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			sends.add(r.RequestID)
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING"}, nil
		},
		getRefund: func(context.Context, string) (neox.COLRefund, error) { return neox.COLRefund{}, notFoundCOL() }}
	first := newService(t, db, Gateways{COL: col}, fastOpts())
	r := approved(t, first, colRequest(200_000, ""))
	writeSending(t, db, r.ID)
	second := newService(t, db, Gateways{COL: col}, fastOpts())
	runWorker(t, second)
	waitSubmission(t, second, r.ID, SubProcessing)
	if ids := sends.all(); len(ids) != 1 || ids[0] != r.ID {
		t.Fatalf("sends = %v", ids)
	}
}

func TestPGDuplicateAnswerMeansNeoXHoldsIt(t *testing.T) {
	db := openDB(t)
	pg := &fakePG{queryPT: paidPG(1_000_000, 0, "CC"),
		refund: func(context.Context, neox.PGRefundRequest) (neox.PGRefundResult, error) {
			return neox.PGRefundResult{}, &neox.UnknownOutcomeError{API: "PG", Op: "refund",
				Err: fmt.Errorf("%w: code 19: duplicated", neox.ErrDuplicateRequestID)}
		}}
	s := newService(t, db, Gateways{PG: pg}, fastOpts())
	runWorker(t, s)
	r := approved(t, s, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 100, ReasonCode: "X"})
	waitSubmission(t, s, r.ID, SubProcessing)
}

func TestPollSettlesProcessingRefunds(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	refunded := int64(100_000)
	pg := &fakePG{
		queryPT: func(_ context.Context, txn string) ([]neox.Payment, error) {
			mu.Lock()
			defer mu.Unlock()
			return []neox.Payment{{ID: "P1", Status: "SUCCESS", Method: "CC", Amount: 1_000_000, RefundedAmount: refunded}}, nil
		},
		refund: func(context.Context, neox.PGRefundRequest) (neox.PGRefundResult, error) {
			return neox.PGRefundResult{TransID: "T1"}, nil
		}}
	opts := fastOpts()
	opts.PollInterval = 20 * time.Millisecond
	s := newService(t, db, Gateways{PG: pg}, opts)
	runWorker(t, s)
	r := approved(t, s, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 300_000, ReasonCode: "X"})
	waitSubmission(t, s, r.ID, SubProcessing)
	time.Sleep(100 * time.Millisecond) // several polls: nothing refunded yet
	if got := mustGet(t, s, r.ID); got.Submission != SubProcessing {
		t.Fatalf("settled early: %+v", got)
	}
	mu.Lock()
	refunded += 300_000
	mu.Unlock()
	got := waitSubmission(t, s, r.ID, SubSucceeded)
	if got.NeoXStatus != "SETTLED_BY_QUERY_PT" {
		t.Errorf("refund = %+v", got)
	}
}

func TestPollCOLFailureKeepsReasonVerbatim(t *testing.T) {
	db := openDB(t)
	var polls atomic.Int32
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(_ context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING"}, nil
		},
		getRefund: func(_ context.Context, id string) (neox.COLRefund, error) {
			if polls.Add(1) < 3 {
				return neox.COLRefund{RequestID: id, ApprovalStatus: "APPROVED"}, nil
			}
			return neox.COLRefund{RequestID: id, ApprovalStatus: "APPROVED", Status: "FAILED",
				FailedReason: "Tài khoản không tồn tại (ERR-77)"}, nil
		}}
	opts := fastOpts()
	opts.PollInterval = 10 * time.Millisecond
	s := newService(t, db, Gateways{COL: col}, opts)
	runWorker(t, s)
	r := approved(t, s, colRequest(100_000, ""))
	got := waitSubmission(t, s, r.ID, SubFailed)
	if got.FailedReason != "Tài khoản không tồn tại (ERR-77)" || got.NeoXApprovalStatus != "APPROVED" {
		t.Fatalf("refund = %+v", got)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	db := openDB(t)
	inCall := make(chan struct{})
	release := make(chan struct{})
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(ctx context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			close(inCall)
			select {
			case <-release:
			case <-ctx.Done():
				return neox.COLRefund{}, unknownErr("refund")
			}
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING"}, nil
		}}
	before := runtime.NumGoroutine()
	s := newService(t, db, Gateways{COL: col}, fastOpts())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	waitFor(t, "Run to start", func() bool { s.runMu.Lock(); defer s.runMu.Unlock(); return s.running })
	probe, cancelProbe := context.WithCancel(context.Background())
	cancelProbe() // should the guard fail, the probe returns at once instead of running forever
	if err := s.Run(probe); err != ErrRunning {
		t.Errorf("second Run = %v, want ErrRunning", err)
	}
	r := approved(t, s, colRequest(100_000, ""))
	<-inCall
	cancel()
	select {
	case <-done:
		t.Fatal("Run returned while a NeoX call was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release) // the call finishes within the grace period
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if got := mustGet(t, s, r.ID); got.Submission != SubProcessing {
		t.Errorf("answer of the last call not recorded: %+v", got)
	}
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= before+1 })
}

func TestShutdownGraceCutsAHungCall(t *testing.T) {
	db := openDB(t)
	inCall := make(chan struct{})
	var once sync.Once
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(ctx context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			once.Do(func() { close(inCall) })
			<-ctx.Done()
			return neox.COLRefund{}, unknownErr("refund")
		}}
	opts := fastOpts()
	opts.ShutdownGrace = 30 * time.Millisecond
	s := newService(t, db, Gateways{COL: col}, opts)
	stop := runWorker(t, s)
	r := approved(t, s, colRequest(100_000, ""))
	// The call is in flight: SENDING alone is the claim, which commits
	// before the call starts, and a stop in between leaves nothing to cut.
	<-inCall
	start := time.Now()
	stop()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop took %v", d)
	}
	if got := mustGet(t, s, r.ID); got.Submission != SubUnknown || got.LastError == "" {
		t.Errorf("after cut call: %+v", got)
	}
}

func TestBackoff(t *testing.T) {
	s := New(nil, fakeRecorder{}, Gateways{}, Options{RetryBase: time.Second, RetryMax: time.Minute})
	for n, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 4: 8 * time.Second, 10: time.Minute, 100: time.Minute} {
		for range 20 {
			got := s.backoff(n)
			if got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, got, want/2, want)
			}
		}
	}
}

// TestPollBacklogDoesNotDelaySends: refunds waiting on NeoX are polled by
// their own workers, so polls that hang (NeoX slow to answer queries) do
// not hold up the send of a fresh approval.
func TestPollBacklogDoesNotDelaySends(t *testing.T) {
	db := openDB(t)
	var hold atomic.Bool
	var held atomic.Int32
	release := make(chan struct{})
	pg := &fakePG{
		queryPT: func(ctx context.Context, txn string) ([]neox.Payment, error) {
			if hold.Load() && txn == "TXN1" { // the backlog's transaction
				held.Add(1)
				select {
				case <-release:
				case <-ctx.Done():
				}
			}
			return []neox.Payment{{ID: "P1", Status: "SUCCESS", Method: "CC", Amount: 1_000_000}}, nil
		},
		refund: func(_ context.Context, r neox.PGRefundRequest) (neox.PGRefundResult, error) {
			return neox.PGRefundResult{TransID: "T-" + r.RequestID}, nil
		}}
	opts := fastOpts()
	opts.Workers = 2
	opts.PollInterval = 10 * time.Millisecond
	s := newService(t, db, Gateways{PG: pg}, opts)
	stop := runWorker(t, s)
	t.Cleanup(stop)
	t.Cleanup(func() { close(release) }) // runs first: frees the polls before the worker stops

	req := NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 100_000, ReasonCode: "X"}
	for range 3 {
		waitSubmission(t, s, approved(t, s, req).ID, SubProcessing)
	}
	// The fresh refund is on another transaction: its own look-ups (at
	// approval, and PG's snapshot before sending) are not held.
	req.TransactionRef = "TXN2"
	fresh := mustCreate(t, s, staff, req)
	hold.Store(true)
	waitFor(t, "a poll held at NeoX", func() bool { return held.Load() >= 1 })
	time.Sleep(50 * time.Millisecond) // every poll worker is stuck by now

	start := time.Now()
	if _, err := s.Approve(context.Background(), manager, fresh.ID, ""); err != nil {
		t.Fatalf("approve: %v", err)
	}
	// The held polls never return during the test: a send that waits for
	// a poll worker is never made, and waitSubmission fails. The bound is
	// loose for -race on a busy CI machine; it is milliseconds alone.
	waitSubmission(t, s, fresh.ID, SubProcessing)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("approval → sent took %v behind a stuck poll backlog", d)
	}
	if n := held.Load(); n != 1 {
		t.Errorf("%d polls held at once; the poll lane for Workers=2 has 1 worker", n)
	}
}

// TestWorkerSpeaksTheMakersLanguage: the worker's NeoX calls (the send and
// the polls after it) carry the language of the session the refund was
// asked from, so NeoX's messages come back in it.
func TestWorkerSpeaksTheMakersLanguage(t *testing.T) {
	for _, lang := range []string{"en", "vi"} {
		t.Run(lang, func(t *testing.T) {
			db := openDB(t)
			var mu sync.Mutex
			seen := map[string][]string{}
			pg := &fakePG{
				queryPT: func(ctx context.Context, txn string) ([]neox.Payment, error) {
					return []neox.Payment{{ID: "P1", Status: "SUCCESS", Method: "CC", Amount: 1_000_000}}, nil
				},
				refund: func(ctx context.Context, r neox.PGRefundRequest) (neox.PGRefundResult, error) {
					return neox.PGRefundResult{TransID: "T1"}, nil
				},
				lang: func(op, lang string) {
					mu.Lock()
					seen[op] = append(seen[op], lang)
					mu.Unlock()
				}}
			opts := fastOpts()
			opts.PollInterval = 5 * time.Millisecond
			s := newService(t, db, Gateways{PG: pg}, opts)
			runWorker(t, s)
			r, err := s.Create(context.Background(), staff,
				NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 100_000, ReasonCode: "X", Lang: lang})
			if err != nil {
				t.Fatal(err)
			}
			if r.Lang != lang || mustGet(t, s, r.ID).Lang != lang {
				t.Fatalf("stored language = %q, want %q", mustGet(t, s, r.ID).Lang, lang)
			}
			mu.Lock()
			seen = map[string][]string{} // forget the maker's own lookup
			mu.Unlock()
			// The manager's session is in another language: it does not matter
			// to the worker.
			approver := manager
			approver.Lang = "xx"
			if _, err := s.Approve(context.Background(), approver, r.ID, ""); err != nil {
				t.Fatal(err)
			}
			waitSubmission(t, s, r.ID, SubProcessing)
			waitFor(t, "the worker's QUERY_PT calls", func() bool { mu.Lock(); defer mu.Unlock(); return len(seen["query_pt"]) >= 3 })
			mu.Lock()
			defer mu.Unlock()
			if len(seen["refund"]) != 1 || seen["refund"][0] != lang {
				t.Errorf("refund sent with %q, want [%s]", seen["refund"], lang)
			}
			// The first QUERY_PT is the approval's own check, in the
			// manager's language; the ones after it are the worker's.
			if seen["query_pt"][0] != "xx" {
				t.Errorf("the approval's query_pt sent %q, want the approver's %q", seen["query_pt"][0], "xx")
			}
			for i, l := range seen["query_pt"][1:] {
				if l != lang {
					t.Errorf("worker query_pt #%d sent %q, want %q", i+1, l, lang)
				}
			}
		})
	}
}
