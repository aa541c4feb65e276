package refunds

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// TestRecoveryTakesOverOnlyClaimsWhoseOwnerIsGone: a second worker on the
// same database (the probe started a second server) must not mark a live
// worker's in-flight send as interrupted and send the refund again. It
// takes a claim over only once its lease has run out, or at once when it
// is the database's only worker (the server's lock says so).
func TestRecoveryTakesOverOnlyClaimsWhoseOwnerIsGone(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	release := make(chan struct{})
	var sends atomic.Int32
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(ctx context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			sends.Add(1)
			<-release // NeoX takes its time with this one
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING"}, nil
		}}
	opts := fastOpts()
	opts.Now, opts.Lease = clk.Now, time.Minute
	first := newService(t, db, Gateways{COL: col}, opts)
	stop := runWorker(t, first)
	r := approved(t, first, colRequest(100_000, ""))
	waitSubmission(t, first, r.ID, SubSending)

	ctx := context.Background()
	second := newService(t, db, Gateways{COL: col}, opts)
	if err := second.recoverInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, first, r.ID); got.Submission != SubSending {
		t.Fatalf("a live worker's send was taken over: %s", got.Submission)
	}
	close(release)
	got := waitSubmission(t, first, r.ID, SubProcessing)
	if n := sends.Load(); n != 1 || got.Attempts != 1 {
		t.Fatalf("%d sends, %d attempts: want the one send", n, got.Attempts)
	}

	stop() // from here on no worker runs: the claims below are left as they are

	// A claim left by a worker that is gone.
	claimed := func() Refund {
		t.Helper()
		r := approved(t, first, colRequest(10_000, ""))
		if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'SENDING', attempts = 1, lease_owner = 'gone',
			lease_until = ? WHERE id = ?`, fmtTime(clk.Now().Add(time.Minute)), r.ID); err != nil {
			t.Fatal(err)
		}
		return r
	}
	stale := claimed()
	if err := second.recoverInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, first, stale.ID); got.Submission != SubSending {
		t.Fatalf("taken over before the lease ran out: %s", got.Submission)
	}
	clk.Advance(2 * time.Minute)
	if err := second.recoverInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, first, stale.ID); got.Submission != SubUnknown {
		t.Fatalf("after the lease: %s, want UNKNOWN", got.Submission)
	}

	// The only worker on the database does not wait for leases.
	fresh := claimed()
	soleOpts := opts
	soleOpts.SoleWorker = true
	sole := newService(t, db, Gateways{COL: col}, soleOpts)
	if err := sole.recoverInterrupted(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, first, fresh.ID); got.Submission != SubUnknown {
		t.Fatalf("sole worker: %s, want UNKNOWN", got.Submission)
	}
}

// TestRunningWorkerTakesOverExpiredClaims: an instance killed mid-call
// leaves its claim in SENDING; the workers still running take it over once
// its lease has run out (checked every quarter lease), not before, and
// the refund goes on under its one request id.
func TestRunningWorkerTakesOverExpiredClaims(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	var sends atomic.Int32
	col := &fakeCOL{getTxn: paidCOL(1_000_000, 0),
		refund: func(ctx context.Context, r neox.COLRefundRequest) (neox.COLRefund, error) {
			sends.Add(1)
			return neox.COLRefund{RequestID: r.RequestID, ApprovalStatus: "PENDING"}, nil
		}}
	opts := fastOpts()
	opts.Now, opts.Lease = clk.Now, time.Minute
	s := newService(t, db, Gateways{COL: col}, opts)

	// The dead instance's claim, as it left it: lease running for a minute.
	stale := mustCreate(t, s, staff, colRequest(10_000, ""))
	if _, err := s.Approve(context.Background(), manager, stale.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Write.Exec(`UPDATE refunds SET submission = 'SENDING', attempts = 1, lease_owner = 'killed',
		lease_until = ? WHERE id = ?`, fmtTime(clk.Now().Add(time.Minute)), stale.ID); err != nil {
		t.Fatal(err)
	}
	runWorker(t, s)
	// Another approval wakes the worker: a pass that must leave the live lease alone.
	other := approved(t, s, colRequest(20_000, ""))
	waitSubmission(t, s, other.ID, SubProcessing)
	if got := mustGet(t, s, stale.ID); got.Submission != SubSending {
		t.Fatalf("claim taken over while its lease ran: %s", got.Submission)
	}

	clk.Advance(2 * time.Minute)
	s.nudge() // the worker's timer runs on the real clock; wake it for the fake one
	got := waitSubmission(t, s, stale.ID, SubProcessing)
	if got.Attempts < 2 {
		t.Errorf("taken-over refund: %d attempts, want the interrupted one and a resend", got.Attempts)
	}
	if n := sends.Load(); n != 2 {
		t.Errorf("%d sends to NeoX, want one per refund", n)
	}
}
