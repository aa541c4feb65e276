package col

import (
	"context"

	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Look reads the collection transaction: it is the target, shown with
// its fee, and NeoX's reconciliation and payout statuses as sent.
func (p *Product) Look(ctx context.Context, req product.Request) ([]product.Found, []product.Call, error) {
	t, calls, err := p.Target(ctx, req)
	if err != nil {
		return nil, calls, err
	}
	c := t.(Target).Txn
	f := product.Found{Status: c.Status, Target: t, NotRefundable: "tx.not_refundable_transaction", Lines: []product.Line{
		product.Money("tx.amount", c.Amount, "VND").Tested("order-amount"),
		product.Money("tx.fee", c.Fee, "VND").Tested("col-fee"),
		product.Money("tx.refunded", c.RefundedAmount, "VND"),
	}}
	if c.ReconcileStatus != "" {
		f.After = append(f.After, product.Text("tx.reconcile_status", c.ReconcileStatus).Kinded(product.KindCode).Tested("reconcile-status"))
	}
	if c.PayoutStatus != "" {
		f.After = append(f.After, product.Text("tx.payout_status", c.PayoutStatus).Kinded(product.KindCode).Tested("payout-status"))
	}
	created := c.TransDate
	if created.IsZero() {
		created = c.CreatedAt
	}
	if !created.IsZero() {
		f.After = append(f.After, product.Line{Label: "tx.trans_date", Kind: product.KindTime, At: created})
	}
	return []product.Found{f}, calls, nil
}

// LookupFields: a collection transaction is found by its id alone.
func (p *Product) LookupFields() []product.Field { return nil }

// Form asks for the amount and, optionally, the bank account to refund
// to.
func (p *Product) Form(product.Target) product.Form {
	return product.Form{Fields: []product.Field{product.AmountField}, Group: &product.Group{Legend: "rf.bank_optional",
		Fields: append(append([]product.Field(nil), product.BankFields...),
			product.Field{Name: "bank_branch", Label: "rf.branch", MaxLen: 100})}}
}
