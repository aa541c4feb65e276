package gc

import (
	"context"

	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Look reads the collection order (for the sub-merchant, if any): the
// order is the target, shown with what was settled beside the amount a
// refund returns.
func (p *Product) Look(ctx context.Context, req product.Request) ([]product.Found, []product.Call, error) {
	t, calls, err := p.Target(ctx, req)
	if err != nil {
		return nil, calls, err
	}
	o := t.(Target).Order
	var lines []product.Line
	if o.OrderType != "" {
		lines = append(lines, product.Text("tx.order_type", o.OrderType).Tested("order-type"))
	}
	if o.MerchantID != "" {
		lines = append(lines, product.Text("tx.merchant_id", o.MerchantID).Kinded(product.KindMono))
	}
	if req.SubMerchantID != "" {
		lines = append(lines, product.Text("rf.sub", req.SubMerchantID).Kinded(product.KindMono).Tested("order-sub-merchant"))
	}
	lines = append(lines, product.Money("tx.amount", o.Amount, o.Currency).Tested("order-amount"),
		product.Money("tx.pay_amount", o.PayAmount, o.PayCurrency).Tested("order-pay-amount").Hinted("tx.pay_amount_hint"))
	return []product.Found{{Status: o.Status, Target: t, Lines: lines, NotRefundable: "tx.not_refundable_order"}}, calls, nil
}

// LookupFields: a sub-merchant's order is found only with its
// sub-merchant id.
func (p *Product) LookupFields() []product.Field { return []product.Field{product.SubMerchantField} }

// Form: the whole order is refunded; who bears the fee is chosen, and the
// sub-merchant goes with the refund.
func (p *Product) Form(product.Target) product.Form {
	return product.Form{Note: "rf.gc_whole", Fields: []product.Field{
		{Name: "fee_charge_way", ID: "fee", Label: "rf.fee", Kind: product.KindSelect, Default: "OUR",
			Choices: []product.Choice{{Value: "OUR", Label: "rf.fee_our"}, {Value: "BEN", Label: "rf.fee_ben"}}},
		{Name: "sub_merchant_id", ID: "sub", Label: "rf.sub", MaxLen: 64},
	}}
}
