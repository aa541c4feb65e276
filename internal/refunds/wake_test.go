package refunds

import (
	"context"
	"testing"
	"time"

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
