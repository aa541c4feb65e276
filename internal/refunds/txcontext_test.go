package refunds

import (
	"context"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// TestTransactionContext: a refund's transaction figures come from the
// kept lookup and the desk's own refunds, with no NeoX call on the way.
func TestTransactionContext(t *testing.T) {
	db := openDB(t)
	calls := 0
	pg := &fakePG{queryPT: func(ctx context.Context, txn string) ([]neox.Payment, error) {
		calls++
		return paidPG(2_000_000, 500_000, "CC")(ctx, txn)
	}}
	s := newService(t, db, Gateways{PG: pg}, Options{Now: newClock().Now})
	ctx := context.Background()
	// Before any lookup: only the desk's own figures.
	first := mustCreate(t, s, staff, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 300_000, ReasonCode: "X"})
	c, err := s.TransactionContext(ctx, first)
	if err != nil {
		t.Fatal(err)
	}
	if c.Known || c.InFlight != 300_000 || c.InFlightN != 1 || c.RefundedHere != 0 {
		t.Errorf("before a lookup: %+v", c)
	}
	if _, err := s.Lookup(ctx, "en", APIPG, "TXN1"); err != nil {
		t.Fatal(err)
	}
	second := mustCreate(t, s, staff, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 200_000, ReasonCode: "X"})
	before := calls
	c, err = s.TransactionContext(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		got, want int64
	}{
		{"paid", c.Paid, 2_000_000},
		{"refunded", c.Refunded, 500_000},
		{"in flight", c.InFlight, 500_000},
		{"refundable now", c.RefundableNow, 1_000_000},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d (%+v)", tc.name, tc.got, tc.want, c)
		}
	}
	if !c.Known || !c.PaidOK || c.InFlightN != 2 || c.CheckedAt.IsZero() {
		t.Errorf("context %+v", c)
	}
	if calls != before {
		t.Errorf("TransactionContext called NeoX %d times", calls-before)
	}
}
