package refunds

import (
	"context"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// TestWakeAcrossInstances: two services on one PostgreSQL schema, as two
// app instances; a refund approved through one wakes the other's worker at
// once, not at its next poll.
func TestWakeAcrossInstances(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	open := func() *store.DB {
		db, err := store.OpenURL(context.Background(), url, store.PoolConfig{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	gw := Gateways{COL: &fakeCOL{getTxn: paidCOL(1_000_000, 0)}}
	opts := Options{PollInterval: time.Hour}
	a, b := newService(t, open(), gw, opts), newService(t, open(), gw, opts)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.listenWake(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	woken := func(what string) {
		t.Helper()
		select {
		case <-b.wake:
		case <-time.After(10 * time.Second):
			t.Fatalf("the other instance's worker was not woken: %s", what)
		}
	}
	woken("its listener starts listening") // and so missed nothing before

	r := mustCreate(t, a, staff, colRequest(100_000, ""))
	select {
	case <-b.wake:
		t.Fatal("woken by a request that waits for approval")
	default:
	}
	if _, err := a.Approve(context.Background(), manager, r.ID, ""); err != nil {
		t.Fatalf("approve: %v", err)
	}
	woken("approval through the first instance")
}

// TestApprovalSentByTheOtherInstance: the worker runs only on instance b,
// polling hourly; a refund approved through instance a is sent by b's
// worker at once.
func TestApprovalSentByTheOtherInstance(t *testing.T) {
	url := storetest.URL(t, storetest.Postgres)
	open := func() *store.DB {
		db, err := store.OpenURL(context.Background(), url, store.PoolConfig{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	sent := make(chan string, 4)
	pg := &fakePG{queryPT: paidPG(2_000_000, 0, "CC"),
		refund: func(_ context.Context, r neox.PGRefundRequest) (neox.PGRefundResult, error) {
			sent <- r.RequestID
			return neox.PGRefundResult{TransID: "T-" + r.RequestID, ResponseCode: 0, ResponseMsg: "Successful"}, nil
		}}
	dbA, dbB := open(), open()
	a, b := newService(t, dbA, Gateways{PG: pg}, fastOpts()), newService(t, dbB, Gateways{PG: pg}, fastOpts())
	runWorker(t, b)

	// Approve only once b listens, or its catch-up after LISTEN would find
	// the refund without any notification.
	var channel string
	if err := dbA.Read.QueryRow(`SELECT 'LISTEN "rd_wake.' || current_schema() || '"'`).Scan(&channel); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "instance b's worker to listen", func() bool {
		var n int
		if err := dbA.Read.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE query = ? AND state = 'idle'`,
			channel).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	})

	r := mustCreate(t, a, staff, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 300_000, ReasonCode: "X"})
	approvedAt := time.Now()
	if _, err := a.Approve(context.Background(), manager, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-sent:
		// Without the notification b would wait for its hourly poll.
		if id != r.ID {
			t.Errorf("sent %s, want %s", id, r.ID)
		}
		t.Logf("approval on a to submission by b: %v", time.Since(approvedAt))
	case <-time.After(15 * time.Second):
		t.Fatal("the other instance's worker never sent the refund")
	}
	waitSubmission(t, b, r.ID, SubProcessing)
}
