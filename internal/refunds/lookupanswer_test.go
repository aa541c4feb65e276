package refunds

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// TestCreateFromLookup: a request made from a live lookup is created
// without asking NeoX again; the refundable amount is still checked
// against what is reserved when the refund is inserted, so a lookup that
// went stale in between cannot over-refund. A lookup of another reference
// is not used.
func TestCreateFromLookup(t *testing.T) {
	db := openDB(t)
	var calls atomic.Int64
	paid := paidPG(1_000_000, 0, "CC")
	pg := &fakePG{queryPT: func(ctx context.Context, txn string) ([]neox.Payment, error) {
		calls.Add(1)
		return paid(ctx, txn)
	}}
	s := newService(t, db, Gateways{PG: pg}, Options{})
	ctx := context.Background()
	l, err := s.Lookup(ctx, "en", APIPG, "TXN1")
	if err != nil {
		t.Fatal(err)
	}
	pid := l.Targets[0].ID
	req := func(amount int64, key string) NewRequest {
		return NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: pid, Amount: amount, ReasonCode: "X",
			IdempotencyKey: key, Lang: "en", Lookup: &l}
	}
	calls.Store(0)
	r, err := s.Create(ctx, staff, req(600_000, "k1"))
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("Create from a live lookup called NeoX %d times, want 0", n)
	}
	if r.Lang != "en" {
		t.Errorf("stored language %q, want en", r.Lang)
	}
	// The same (now stale) lookup: 600 000 is reserved, 400 000 is left.
	if _, err := s.Create(ctx, staff, req(600_000, "k2")); err == nil {
		t.Fatal("a stale lookup let the reserved amount be requested twice")
	} else if v, ok := IsValidation(err); !ok || v.Fields["amount"].Key != "domain.47" {
		t.Fatalf("err = %v, want the amount's at-most message", err)
	}
	bad := req(1_000, "k3")
	bad.PaymentID = "nope"
	if v, ok := IsValidation(must(s.Create(ctx, staff, bad))); !ok || v.Fields["payment_id"].IsZero() {
		t.Errorf("unknown payment in the lookup: %v", v)
	}
	other := req(1_000, "k4")
	other.TransactionRef = "TXN2"
	calls.Store(0)
	if v, ok := IsValidation(must(s.Create(ctx, staff, other))); !ok || v.Fields["transaction_ref"].Key != "domain.41" {
		t.Errorf("TXN2, unknown to NeoX: %v", v)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("a lookup of another reference: %d NeoX calls, want 1 (its own)", n)
	}
}

func must(_ Refund, err error) error { return err }
