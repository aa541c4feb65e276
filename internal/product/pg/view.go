package pg

import (
	"context"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Look reads the transaction's payments with QUERY_PT: each is a target,
// listed with its method and amounts.
func (p *Product) Look(ctx context.Context, req product.Request) ([]product.Found, []product.Call, error) {
	t0 := time.Now()
	pays, err := p.gw.QueryPT(ctx, req.Lang, req.TransactionRef)
	calls := []product.Call{product.Timed("query_pt", t0, err, "")}
	if err != nil {
		return nil, calls, err
	}
	if len(pays) == 0 {
		return nil, calls, product.Invalidf("transaction_ref", product.ReasonUnknownTarget)
	}
	out := make([]product.Found, 0, len(pays))
	for _, pay := range pays {
		out = append(out, product.Found{ID: pay.ID, Status: pay.Status, Target: Target{pay}, Lines: []product.Line{
			product.Text("tx.method", pay.Method),
			product.Money("tx.amount", pay.Amount, "VND"),
			product.Money("tx.refunded", pay.RefundedAmount, "VND"),
		}})
	}
	return out, calls, nil
}

// LookupFields: a PG transaction is found by its id alone.
func (p *Product) LookupFields() []product.Field { return nil }

// Form asks for the amount, and for a QR payment the receiver's bank
// account (NeoX cannot know it).
func (p *Product) Form(t product.Target) product.Form {
	f := product.Form{Fields: []product.Field{product.AmountField}}
	if t != nil && strings.EqualFold(t.PaymentMethod(), "QR") {
		f.Group = &product.Group{Legend: "rf.bank_required", Fields: product.BankFields}
	}
	return f
}
