package product_test

import (
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/product/col"
	"github.com/neox-refund-desk/refunddesk/internal/product/gc"
	"github.com/neox-refund-desk/refunddesk/internal/product/pg"
)

func TestRegistry(t *testing.T) {
	var nilPG *neox.PG // a client never built: not configured
	reg, err := product.NewRegistry(pg.New(nilPG), gc.New(nil), col.New(&neox.COL{}))
	if err != nil {
		t.Fatal(err)
	}
	if got := reg.Names(); len(got) != 3 || got[0] != "PG" || got[1] != "GC" || got[2] != "COL" {
		t.Errorf("names = %v, want registration order", got)
	}
	if got := reg.Configured(); len(got) != 1 || got[0] != "COL" {
		t.Errorf("configured = %v, want only COL", got)
	}
	if p, ok := reg.Get("GC"); !ok || p.Name() != "GC" || !p.Whole() {
		t.Errorf("Get(GC) = %v, %v", p, ok)
	}
	if _, ok := reg.Get("pg"); ok {
		t.Error("names are exact codes")
	}
	if _, err := product.NewRegistry(pg.New(nil), pg.New(nil)); err == nil {
		t.Error("a product registered twice was accepted")
	}
}

func TestProductsAreCheckedByTheSameRules(t *testing.T) {
	tests := []struct {
		p     product.Product
		req   product.Request
		field string // "" when valid
	}{
		{pg.New(nil), product.Request{PaymentID: "P1", Amount: 1}, ""},
		{pg.New(nil), product.Request{Amount: 1}, "payment_id"},
		{pg.New(nil), product.Request{PaymentID: "P1"}, "amount"},
		{gc.New(nil), product.Request{FeeChargeWay: "OUR"}, ""},
		{gc.New(nil), product.Request{FeeChargeWay: "THEIRS"}, "fee_charge_way"},
		{col.New(nil), product.Request{Amount: 1}, ""},
		{col.New(nil), product.Request{}, "amount"},
	}
	for _, tt := range tests {
		f := tt.p.Validate(tt.req)
		switch {
		case tt.field == "" && len(f) > 0:
			t.Errorf("%s %+v: %v, want valid", tt.p.Name(), tt.req, f)
		case tt.field != "" && f[tt.field].IsZero():
			t.Errorf("%s %+v: %v, want an error on %s", tt.p.Name(), tt.req, f, tt.field)
		}
	}
}
