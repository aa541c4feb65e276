// Package gc is the NeoX Global Collection product: a refund is of a whole
// collection order, in the order's currency.
package gc

import (
	"context"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Name is the product's code.
const Name = "GC"

// Gateway is what the product needs of the GC client (*neox.GC).
type Gateway interface {
	// GetCollectionOrder sends subMerchantID as subMerchantId when not empty.
	GetCollectionOrder(ctx context.Context, lang, id, subMerchantID string) (neox.CollectionOrder, error)
	Refund(ctx context.Context, lang string, r neox.GCRefundRequest) (neox.GCRefundResult, error)
}

// Product is GC over a Gateway; a nil gateway means not configured.
type Product struct{ gw Gateway }

// New returns the GC product calling gw.
func New(gw Gateway) *Product {
	if product.Missing(gw) {
		gw = nil
	}
	return &Product{gw: gw}
}

func (p *Product) Name() string     { return Name }
func (p *Product) Label() string    { return "Global Collection" }
func (p *Product) Configured() bool { return p.gw != nil }
func (p *Product) Whole() bool      { return true }

// AttentionAfter is 24h: NeoX offers no refund query and the collection
// order has no failure state, so only the webhook can report a failure;
// if it is lost nothing else will, and a day is already long for a
// customer.
func (p *Product) AttentionAfter() time.Duration { return 24 * time.Hour }
func (p *Product) Gateway() Gateway              { return p.gw }

// Send makes the refund call; the answer's status is final when SUCCESS or
// FAILED.
func (p *Product) Send(ctx context.Context, _ product.Desk, r product.Refund) (product.Outcome, []product.Call) {
	t0 := time.Now()
	res, err := p.gw.Refund(ctx, r.Lang, neox.GCRefundRequest{RequestID: r.ID, CollectionOrderID: r.TransactionRef,
		FeeChargeWay: r.FeeChargeWay, SubMerchantID: r.SubMerchantID})
	out := product.Outcome{To: StatusState(res.Status), NeoXRefundID: res.RefundRequestID, Status: res.Status,
		ResponseID: res.NeoResponseID}
	return out, []product.Call{product.Timed("refund", t0, err, res.NeoResponseID)}
}

// Reconcile reads the collection order: a refund state there is adopted.
func (p *Product) Reconcile(ctx context.Context, _ product.Desk, r product.Refund) (product.Outcome, bool, []product.Call) {
	t0 := time.Now()
	o, err := p.gw.GetCollectionOrder(ctx, r.Lang, r.TransactionRef, r.SubMerchantID)
	c := product.Timed("get_order", t0, err, "")
	if err != nil {
		return product.Outcome{}, false, []product.Call{c}
	}
	if to, ok := OrderState(o.Status); ok {
		return product.Outcome{To: to, Status: o.Status}, true, []product.Call{c}
	}
	return product.Outcome{}, false, []product.Call{c}
}

// Poll reads the collection order; only a move out of PROCESSING counts.
func (p *Product) Poll(ctx context.Context, _ product.Desk, r product.Refund) (product.Outcome, product.Call) {
	t0 := time.Now()
	o, err := p.gw.GetCollectionOrder(ctx, r.Lang, r.TransactionRef, r.SubMerchantID)
	c := product.Timed("get_order", t0, err, "")
	if to, ok := OrderState(o.Status); err == nil && ok && to != product.Processing {
		return product.Outcome{To: to, Status: o.Status}, c
	}
	return product.Outcome{}, c
}

// StatusState maps a GC refund status (answer or webhook).
func StatusState(status string) string {
	switch status {
	case "SUCCESS":
		return product.Succeeded
	case "FAILED":
		return product.Failed
	default:
		return product.Processing
	}
}

// OrderState maps a polled collection order status: only the refund
// states say anything about our refund.
func OrderState(status string) (string, bool) {
	switch status {
	case "REFUND_PROCESS":
		return product.Processing, true
	case "REFUND_SUCCESS":
		return product.Succeeded, true
	}
	return "", false
}

// Settings are what the GC client needs (see the README's configuration).
func (p *Product) Settings() []string {
	return []string{"NEOX_OPENAPI_URL", "NEOX_GC_CLIENT_ID", "NEOX_GC_CLIENT_SECRET", "NEOX_GC_WEBHOOK_SECRET"}
}
