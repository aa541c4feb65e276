package refunds

import (
	"context"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// The GC statuses NeoX documents for a collection order.
var docGCStatuses = []string{"WAIT_MATCH", "MATCHED", "REJ_WAIT_MATCH", "PENDING", "SUCCESS", "CANCEL", "REFUND_PROCESS", "REFUND_SUCCESS"}

func reasonText(f fault.Msg) string { return f.String() }

func TestPGVerdict(t *testing.T) {
	tests := []struct {
		status                     string
		amount, refunded, reserved int64
		paid                       bool
		want                       int64
		reason                     string // part of the reason; "" means none
	}{
		{"SUCCESS", 1_000_000, 0, 0, true, 1_000_000, ""},
		{"SUCCESS", 1_000_000, 200_000, 300_000, true, 500_000, ""},
		{"SUCCESS", 500_000, 500_000, 0, true, 0, "nothing is left"},
		{"success", 1_000, 0, 0, true, 1_000, ""},
		{"PROCESSING", 1_000_000, 0, 0, false, 0, "NeoX status PROCESSING"},
		{"FAILED", 1_000_000, 0, 0, false, 0, "NeoX status FAILED"},
		{"", 1_000_000, 0, 0, false, 0, "only paid"},
	}
	for _, tt := range tests {
		v := pgVerdict(neox.Payment{ID: "P", Status: tt.status, Amount: tt.amount, RefundedAmount: tt.refunded}, tt.reserved)
		if v.Paid != tt.paid || v.Refundable != tt.want || v.Unrecognised {
			t.Errorf("%s %d/%d/%d: %+v", tt.status, tt.amount, tt.refunded, tt.reserved, v)
		}
		if got := reasonText(v.Reason); (tt.reason == "") != (v.Reason.IsZero()) || !strings.Contains(got, tt.reason) {
			t.Errorf("%s: reason %q, want one containing %q", tt.status, got, tt.reason)
		}
	}
}

// TestGCVerdict: only SUCCESS is refundable, for the order amount in its
// currency (never payAmount); every documented status is decided, and an
// undocumented one is refused and named.
func TestGCVerdict(t *testing.T) {
	want := map[string]string{ // status → part of the reason ("" = refundable)
		"WAIT_MATCH":     "not settled yet",
		"MATCHED":        "not settled yet",
		"PENDING":        "not settled yet",
		"SUCCESS":        "",
		"REFUND_PROCESS": "already refunding",
		"REFUND_SUCCESS": "already refunding",
		"CANCEL":         "was not paid",
		"REJ_WAIT_MATCH": "was not paid",
	}
	for _, st := range docGCStatuses {
		o := neox.CollectionOrder{ID: "CO1", Status: st, Currency: "USD", Amount: 150_000, PayCurrency: "VND", PayAmount: 36_750_000}
		v := gcVerdict(o, 0)
		part, ok := want[st]
		if !ok {
			t.Fatalf("documented status %s has no expectation", st)
		}
		if part == "" {
			if !v.Paid || v.Refundable != 150_000 || !v.Reason.IsZero() {
				t.Errorf("%s: %+v, want the order amount 150000 refundable", st, v)
			}
			continue
		}
		if v.Refundable != 0 || !strings.Contains(reasonText(v.Reason), part) || !strings.Contains(reasonText(v.Reason), st) {
			t.Errorf("%s: %+v, want refused with %q and the status", st, v, part)
		}
	}
	other := []struct {
		name     string
		o        neox.CollectionOrder
		reserved int64
		paid     bool
		want     int64
		reason   string
	}{
		{"undocumented PAID", neox.CollectionOrder{Status: "PAID", Currency: "USD", Amount: 100}, 0, false, 0, `"PAID", which is not a documented`},
		{"lower case success", neox.CollectionOrder{Status: "success", Currency: "USD", Amount: 100}, 0, true, 100, ""},
		{"zero amount", neox.CollectionOrder{Status: "SUCCESS", Currency: "USD"}, 0, true, 0, "no amount"},
		{"reserved here", neox.CollectionOrder{Status: "SUCCESS", Currency: "USD", Amount: 100}, 100, true, 0, "already pending"},
		{"payAmount never counts", neox.CollectionOrder{Status: "SUCCESS", Currency: "EUR", Amount: 8_990, PayAmount: 2_431_000, PayCurrency: "VND"}, 0, true, 8_990, ""},
	}
	for _, tt := range other {
		v := gcVerdict(tt.o, tt.reserved)
		if v.Paid != tt.paid || v.Refundable != tt.want || !strings.Contains(reasonText(v.Reason), tt.reason) || (tt.reason == "") != (v.Reason.IsZero()) {
			t.Errorf("%s: %+v (%q)", tt.name, v, reasonText(v.Reason))
		}
	}
}

// TestCOLVerdict: SUCCESS is paid, known failures are refused, and a
// status NeoX has not documented is shown with an explanation and left to
// NeoX, with the amount rule unchanged.
func TestCOLVerdict(t *testing.T) {
	tests := []struct {
		status                     string
		amount, refunded, reserved int64
		paid, unrecognised         bool
		want                       int64
		reason                     string
	}{
		{"SUCCESS", 2_500_000, 500_000, 0, true, false, 2_000_000, ""},
		{"SUCCESS", 2_500_000, 500_000, 1_500_000, true, false, 500_000, ""},
		{"SUCCESS", 800_000, 800_000, 0, true, false, 0, "nothing is left"},
		{"PROCESSING", 450_000, 0, 0, false, false, 0, "NeoX status PROCESSING"},
		{"PENDING", 450_000, 0, 0, false, false, 0, "NeoX status PENDING"},
		{"FAILED", 450_000, 0, 0, false, false, 0, "NeoX status FAILED"},
		{"CANCELLED", 450_000, 0, 0, false, false, 0, "NeoX status CANCELLED"},
		{"COMPLETED", 600_000, 100_000, 50_000, true, true, 450_000, `NeoX reported status "COMPLETED", which NeoX has not documented`},
		{"PAID", 600_000, 0, 0, true, true, 600_000, `"PAID"`},
		{"Settled ", 600_000, 0, 0, true, true, 600_000, `"Settled "`},
		{"", 600_000, 0, 0, true, true, 600_000, `status ""`},
		{"COMPLETED", 600_000, 600_000, 0, true, true, 0, "NeoX will refuse it"},
	}
	for _, tt := range tests {
		v := colVerdict(neox.CollectionTransaction{ID: "CT1", Status: tt.status, Amount: tt.amount, RefundedAmount: tt.refunded}, tt.reserved)
		if v.Paid != tt.paid || v.Unrecognised != tt.unrecognised || v.Refundable != tt.want {
			t.Errorf("%q %d/%d/%d: %+v", tt.status, tt.amount, tt.refunded, tt.reserved, v)
		}
		if got := reasonText(v.Reason); (tt.reason == "") != (v.Reason.IsZero()) || !strings.Contains(got, tt.reason) {
			t.Errorf("%q: reason %q, want one containing %q", tt.status, got, tt.reason)
		}
	}
}

// TestLookupShowsTheRule: the lookup carries each product's verdict, the
// COL status verbatim, and GC's settled amount beside the refunded one; a
// COL transaction with an unrecognised status can still be requested.
func TestLookupShowsTheRule(t *testing.T) {
	gcStatus := "MATCHED"
	gc := &fakeGC{getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
		return neox.CollectionOrder{ID: id, Status: gcStatus, Currency: "EUR", Amount: 8_990, PayCurrency: "VND", PayAmount: 2_431_000,
			OrderType: "TRADE_COLLECTION", MerchantID: "MID-1"}, nil
	}}
	col := &fakeCOL{getTxn: func(_ context.Context, id string) (neox.CollectionTransaction, error) {
		return neox.CollectionTransaction{ID: id, Status: "Completed", Amount: 600_000, Fee: 1_100, RefundedAmount: 100_000,
			ReconcileStatus: "SETTLED", PayoutStatus: "SUCCESS"}, nil
	}}
	s := newService(t, openDB(t), Gateways{GC: gc, COL: col}, Options{Now: newClock().Now})
	ctx := context.Background()

	l, err := s.Lookup(ctx, "en", APIGC, "CO1")
	if err != nil {
		t.Fatal(err)
	}
	o := l.Targets[0]
	if pay := lineOf(o, "tx.pay_amount"); o.Refundable != 0 || o.Amount != 8_990 || o.Currency != "EUR" || pay.Amount != 2_431_000 ||
		pay.Currency != "VND" || lineOf(o, "tx.order_type").Text != "TRADE_COLLECTION" || lineOf(o, "tx.merchant_id").Text != "MID-1" ||
		!strings.Contains(reasonText(o.Reason), "not settled") || !o.Whole {
		t.Errorf("GC MATCHED view = %+v", o)
	}
	gcStatus = "SUCCESS"
	if l, _ = s.Lookup(ctx, "en", APIGC, "CO1"); l.Targets[0].Refundable != 8_990 || !l.Targets[0].Reason.IsZero() {
		t.Errorf("GC SUCCESS view = %+v", l.Targets[0])
	}
	r := mustCreate(t, s, staff, NewRequest{API: APIGC, TransactionRef: "CO1", ReasonCode: "X", FeeChargeWay: "OUR"})
	if r.Amount != 8_990 || r.Currency != "EUR" {
		t.Errorf("GC refund recorded %d %s, want the order amount 8990 EUR (not payAmount)", r.Amount, r.Currency)
	}

	l, err = s.Lookup(ctx, "en", APICOL, "CT9")
	if err != nil {
		t.Fatal(err)
	}
	tx := l.Targets[0]
	if tx.Status != "Completed" || !tx.Unrecognised || !tx.Paid || tx.Refundable != 500_000 || lineOf(tx, "tx.fee").Amount != 1_100 ||
		lineOf(tx, "tx.reconcile_status").Text != "SETTLED" || lineOf(tx, "tx.payout_status").Text != "SUCCESS" || !strings.Contains(reasonText(tx.Reason), `"Completed"`) {
		t.Errorf("COL view = %+v", tx)
	}
	c := mustCreate(t, s, staff, NewRequest{API: APICOL, TransactionRef: "CT9", Amount: 500_000, ReasonCode: "X"})
	if c.Amount != 500_000 {
		t.Errorf("COL refund = %+v", c)
	}
	if _, err := s.Create(ctx, staff, NewRequest{API: APICOL, TransactionRef: "CT9", Amount: 1, ReasonCode: "X"}); err == nil {
		t.Error("amount rule not applied to an unrecognised status")
	}
}

// lineOf is the line labelled label that the product shows of v (before
// or after the desk's figures), or the zero Line.
func lineOf(v TargetView, label string) product.Line {
	for _, l := range append(append([]product.Line(nil), v.Lines...), v.After...) {
		if l.Label == label {
			return l
		}
	}
	return product.Line{}
}
