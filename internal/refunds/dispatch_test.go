package refunds

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// TestFreshApprovalGoesAheadOfABacklog: with a backlog of approved refunds
// being sent (a bulk approval), a refund approved one by one meanwhile is
// sent as soon as a worker frees up, not after the backlog; and the
// backlog is still sent, each refund once.
func TestFreshApprovalGoesAheadOfABacklog(t *testing.T) {
	db := openDB(t)
	var (
		mu    sync.Mutex
		order []string
	)
	gate := make(chan struct{})
	col := &fakeCOL{getTxn: paidCOL(100_000_000, 0), getRefund: func(context.Context, string) (neox.COLRefund, error) {
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
	opts := fastOpts()
	opts.Workers = 1
	s := newService(t, db, Gateways{COL: col}, opts)
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
	sent := func() int { mu.Lock(); defer mu.Unlock(); return len(order) }
	waitFor(t, "the first send", func() bool { return sent() == 1 })
	if _, err := s.Approve(ctx, manager, fresh.ID, ""); err != nil {
		t.Fatal(err)
	}
	// Let NeoX answer one call at a time: the fresh refund must come within
	// the next two sends (one may already wait in the lane), not the 9th.
	for i := 0; i < 3; i++ {
		gate <- struct{}{}
		waitFor(t, "the next send", func() bool { return sent() >= i+2 })
	}
	mu.Lock()
	pos := slices.Index(order, fresh.ID)
	mu.Unlock()
	if pos < 0 || pos > 2 {
		t.Fatalf("fresh approval sent as number %d of %d; want among the first three", pos+1, sent())
	}
	close(gate) // NeoX answers the rest at once
	for _, id := range append(backlog, fresh.ID) {
		waitSubmission(t, s, id, SubProcessing)
	}
	mu.Lock()
	defer mu.Unlock()
	seen := map[string]int{}
	for _, id := range order {
		seen[id]++
	}
	for _, id := range append(backlog, fresh.ID) {
		if seen[id] != 1 {
			t.Errorf("refund %s sent %d times, want once", id, seen[id])
		}
	}
}
