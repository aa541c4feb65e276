package refunds

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// gatedCOL is a COL NeoX whose refund calls each wait until the test sends
// on (or closes) gate; sentCalls lists the request ids in the order the
// calls arrived.
func gatedCOL() (col *fakeCOL, gate chan struct{}, sentCalls func() []string) {
	var (
		mu    sync.Mutex
		order []string
	)
	gate = make(chan struct{})
	col = &fakeCOL{getTxn: paidCOL(100_000_000, 0), getRefund: func(context.Context, string) (neox.COLRefund, error) {
		return neox.COLRefund{}, notFoundCOL()
	}, refund: func(ctx context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
		mu.Lock()
		order = append(order, r.RequestID)
		mu.Unlock()
		select {
		case <-gate: // NeoX answers when the test says
		case <-ctx.Done():
		}
		return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING"}, nil
	}}
	return col, gate, func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(order) }
}

// TestFreshApprovalGoesAheadOfABacklog: with a backlog of approved refunds
// being sent (a bulk approval), a refund approved one by one meanwhile is
// sent as soon as a worker frees up, not after the backlog; and the
// backlog is still sent, each refund once.
func TestFreshApprovalGoesAheadOfABacklog(t *testing.T) {
	db := openDB(t)
	col, gate, sentCalls := gatedCOL()
	opts := fastOpts()
	opts.Workers = 1
	s := newService(t, db, Gateways{COL: col}, opts)
	// The order is under test, not the window's length: under -race on a
	// busy machine the steps below can outlast the 2 s window.
	s.fresh = time.Minute
	ctx := context.Background()

	var backlog []string
	for range 8 {
		backlog = append(backlog, mustCreate(t, s, staff, colRequest(1_000, "")).ID)
	}
	for _, res := range s.ApproveEach(ctx, manager, backlog) {
		if res.Err != nil {
			t.Fatalf("approve %s: %v", res.ID, res.Err)
		}
	}
	fresh := mustCreate(t, s, staff, colRequest(2_000, ""))
	runWorker(t, s)
	sent := func() int { return len(sentCalls()) }
	waitFor(t, "the first send", func() bool { return sent() == 1 })
	if _, err := s.Approve(ctx, manager, fresh.ID, ""); err != nil {
		t.Fatal(err)
	}
	// Let NeoX answer one call at a time: the fresh refund must come within
	// the next four sends, not the 9th. Ahead of it may be: one refund
	// claimed and waiting for the call slot, one waiting in the lane, and
	// one handed out in the same round as the fresh one to the other
	// worker, which won the race to claim.
	for i := 0; i < 5; i++ {
		gate <- struct{}{}
		waitFor(t, "the next send", func() bool { return sent() >= i+2 })
	}
	order := sentCalls()
	pos := slices.Index(order, fresh.ID)
	if pos < 0 || pos > 4 {
		names := make([]string, len(order))
		for i, id := range order {
			names[i] = "fresh"
			if k := slices.Index(backlog, id); k >= 0 {
				names[i] = fmt.Sprintf("backlog %d", k)
			}
		}
		t.Fatalf("fresh approval sent as number %d of %d (%s); want among the first five", pos+1, len(names), strings.Join(names, ", "))
	}
	close(gate) // NeoX answers the rest at once
	for _, id := range append(backlog, fresh.ID) {
		waitSubmission(t, s, id, SubProcessing)
	}
	seen := map[string]int{}
	for _, id := range sentCalls() {
		seen[id]++
	}
	for _, id := range append(backlog, fresh.ID) {
		if seen[id] != 1 {
			t.Errorf("refund %s sent %d times, want once", id, seen[id])
		}
	}
}

// TestStopWhileWaitingForACallSlot: a refund claimed by a worker that is
// waiting for one of the product's call slots when the worker stops was
// never sent; its claim is given back (UNKNOWN, reconciled first), so
// the next run sends it, once, without waiting for its lease.
func TestStopWhileWaitingForACallSlot(t *testing.T) {
	db := openDB(t)
	col, gate, sentCalls := gatedCOL()
	opts := fastOpts()
	opts.Workers = 1 // one call slot, and one more worker that claims and waits
	s := newService(t, db, Gateways{COL: col}, opts)
	first := approved(t, s, colRequest(1_000, ""))
	second := approved(t, s, colRequest(2_000, ""))

	stop := runWorker(t, s)
	waitFor(t, "one refund call and the other refund claimed", func() bool {
		return len(sentCalls()) == 1 && mustGet(t, s, first.ID).Submission == SubSending &&
			mustGet(t, s, second.ID).Submission == SubSending
	})
	inCall, waiting := first.ID, second.ID
	if sentCalls()[0] == second.ID {
		inCall, waiting = second.ID, first.ID
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	r := waitSubmission(t, s, waiting, SubUnknown)
	if r.Attempts != 1 || !strings.Contains(r.LastError, "stopped before") {
		t.Errorf("given-back claim: attempts %d, last error %q", r.Attempts, r.LastError)
	}
	close(gate) // the call in flight gets its answer within the grace
	<-stopped
	if got := sentCalls(); len(got) != 1 || got[0] != inCall {
		t.Fatalf("refund calls while stopping: %v; want only %s", got, inCall)
	}
	if got := mustGet(t, s, inCall).Submission; got != SubProcessing {
		t.Errorf("refund in flight at the stop: %s, want PROCESSING (its answer kept)", got)
	}

	runWorker(t, s)
	waitSubmission(t, s, waiting, SubProcessing)
	seen := map[string]int{}
	for _, id := range sentCalls() {
		seen[id]++
	}
	if seen[first.ID] != 1 || seen[second.ID] != 1 {
		t.Errorf("refund calls per refund: %v; want each once", seen)
	}
}

// TestRefundCallsBoundedByWorkers: the send workers outnumber the
// product's call slots (so that a claim or an answer being written never
// leaves a slot idle), yet no more than Options.Workers refund calls are
// ever in flight at NeoX for a product.
func TestRefundCallsBoundedByWorkers(t *testing.T) {
	db := openDB(t)
	var inFlight, peak atomic.Int32
	gate := make(chan struct{})
	col := &fakeCOL{getTxn: paidCOL(100_000_000, 0), refund: func(ctx context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING"}, nil
	}}
	opts := fastOpts()
	opts.Workers = 2
	s := newService(t, db, Gateways{COL: col}, opts)
	var ids []string
	for i := range 6 {
		ids = append(ids, approved(t, s, colRequest(int64(1_000+i), "")).ID)
	}
	runWorker(t, s)
	sending := func() int {
		n := 0
		for _, id := range ids {
			if mustGet(t, s, id).Submission == SubSending {
				n++
			}
		}
		return n
	}
	// Two calls held at NeoX and a third refund claimed, waiting.
	var lastCalls, lastSending int
	defer func() {
		if t.Failed() {
			t.Logf("last seen: %d calls in flight, %d refunds SENDING", lastCalls, lastSending)
		}
	}()
	waitFor(t, "both call slots taken and one more claim", func() bool {
		lastCalls, lastSending = int(inFlight.Load()), sending()
		return lastCalls == 2 && lastSending == 3
	})
	close(gate)
	for _, id := range ids {
		waitSubmission(t, s, id, SubProcessing)
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("%d refund calls in flight at once; Workers = 2", p)
	}
}
