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

// TestLegacyLookupKept: a lookup kept before lookups listed their targets
// (one view per product) still gives a refund page NeoX's figures.
func TestLegacyLookupKept(t *testing.T) {
	for _, tc := range []struct {
		name, payload, payment string
		paid, refunded         int64
		paidOK                 bool
		currency               string
	}{
		{"PG payments", `{"API":"PG","Payments":[{"ID":"P0","Amount":1},{"ID":"P1","Status":"SUCCESS","Amount":2000000,"Refunded":500000,"Paid":true}]}`,
			"P1", 2_000_000, 500_000, true, "VND"},
		{"GC order held back by a request here", `{"API":"GC","Order":{"ID":"CO1","Currency":"EUR","Amount":8990,"Reserved":8990,"Refundable":false}}`,
			"", 8_990, 0, true, "EUR"},
		{"GC order not paid", `{"API":"GC","Order":{"ID":"CO1","Currency":"EUR","Amount":8990,"Refundable":false}}`,
			"", 8_990, 0, false, "EUR"},
		{"COL transaction", `{"API":"COL","Transaction":{"ID":"CT1","Amount":500000,"Refunded":100000,"Paid":true}}`,
			"", 500_000, 100_000, true, "VND"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := Lookup{Targets: legacyTargets(tc.payload)}
			c := TxContext{Currency: "VND"}
			if ok, _ := l.kept(tc.payment, &c); !ok {
				t.Fatalf("target not found in %s", tc.payload)
			}
			if c.Paid != tc.paid || c.Refunded != tc.refunded || c.PaidOK != tc.paidOK || c.Currency != tc.currency {
				t.Errorf("context = %+v", c)
			}
		})
	}
	if got := legacyTargets(`{"API":"PG","Targets":[]}`); len(got) != 0 {
		t.Errorf("a new-shape lookup read as legacy: %+v", got)
	}
}
