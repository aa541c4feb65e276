package refunds

import (
	"context"
	"errors"
	"testing"
)

// TestCheckAgreesWithCreate: Check refuses what Create refuses, on the
// same field, accepts what Create accepts, counts what is in flight, and
// creates nothing.
func TestCheckAgreesWithCreate(t *testing.T) {
	s, db := colService(t, 1_000_000, 300_000)
	ctx := context.Background()
	tests := []struct {
		name  string
		req   NewRequest
		field string
	}{
		{"zero amount", colRequest(0, ""), "amount"},
		{"over refundable", colRequest(700_001, ""), "amount"},
		{"unknown transaction", func() NewRequest { r := colRequest(1, ""); r.TransactionRef = "NOPE"; return r }(), "transaction_ref"},
		{"no reason", func() NewRequest { r := colRequest(1, ""); r.ReasonCode = ""; return r }(), "reason_code"},
		{"fine", colRequest(700_000, ""), ""},
	}
	for _, tt := range tests {
		_, cerr := s.Check(ctx, staff, tt.req)
		v, ok := IsValidation(cerr)
		if tt.field == "" {
			if cerr != nil {
				t.Errorf("%s: Check: %v", tt.name, cerr)
			}
			continue
		}
		if !ok || v.Fields[tt.field].IsZero() {
			t.Errorf("%s: Check err = %v, want validation on %s", tt.name, cerr, tt.field)
		}
		_, err := s.Create(ctx, staff, tt.req)
		if w, ok := IsValidation(err); !ok || w.Fields[tt.field].IsZero() {
			t.Errorf("%s: Create err = %v; Check and Create disagree", tt.name, err)
		}
	}
	if n := len(auditRows(t, db, "refund.requested")); n != 0 {
		t.Fatalf("%d refunds created by failed Creates", n)
	}
	q, err := s.Check(ctx, staff, colRequest(400_000, ""))
	if err != nil || q.Amount != 400_000 || q.Currency != "VND" || q.InFlight != 0 {
		t.Fatalf("Check = %+v, %v", q, err)
	}
	if n := len(auditRows(t, db, "refund.requested")); n != 0 {
		t.Fatalf("Check created %d refunds", n)
	}
	mustCreate(t, s, staff, colRequest(400_000, ""))
	q, err = s.Check(ctx, staff, colRequest(300_001, ""))
	if _, ok := IsValidation(err); !ok || q.InFlight != 1 {
		t.Fatalf("after a pending refund: %+v, %v; want the reserve counted", q, err)
	}
}

// TestCheckIsARequest: only those who may request refunds may check one.
func TestCheckIsARequest(t *testing.T) {
	s, _ := colService(t, 1_000_000, 0)
	if _, err := s.Check(context.Background(), admin, colRequest(1, "")); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin: %v", err)
	}
}
