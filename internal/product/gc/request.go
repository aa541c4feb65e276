package gc

import (
	"context"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// GC's reasons, as keyed messages (the handlers translate them by key).
var (
	reasonGCNotSettled    = fault.M("domain.48", "the order is not settled yet (NeoX status %s); only SUCCESS orders can be refunded")
	reasonGCRefunding     = fault.M("domain.49", "NeoX is already refunding this order or has refunded it (status %s)")
	reasonGCUnpaid        = fault.M("domain.50", "the order was not paid (NeoX status %s)")
	reasonGCUnknownStatus = fault.M("domain.51", "NeoX reported status %q, which is not a documented GC order status; only SUCCESS orders can be refunded")
	reasonGCNoAmount      = fault.M("domain.43", "the order has no amount to refund")
	reasonGCReserved      = fault.M("domain.44", "a refund of this order is already pending or in progress")
)

// Validate: the whole order is refunded (any amount typed is checked
// against it later); who bears the fee must be chosen.
func (p *Product) Validate(req product.Request) product.FieldErrors {
	f := product.FieldErrors{}
	if req.FeeChargeWay != "OUR" && req.FeeChargeWay != "BEN" {
		f["fee_charge_way"] = product.Because(fault.M("domain.20", "choose who bears the fee: OUR (merchant) or BEN (payer)"))
	}
	return f
}

// Target reads the collection order (for the sub-merchant, if any).
func (p *Product) Target(ctx context.Context, req product.Request) (product.Target, []product.Call, error) {
	t0 := time.Now()
	o, err := p.gw.GetCollectionOrder(ctx, req.Lang, req.TransactionRef, req.SubMerchantID)
	calls := []product.Call{product.Timed("get_order", t0, err, "")}
	if err != nil {
		return nil, calls, err
	}
	return Target{o}, calls, nil
}

// Target is a GC collection order as NeoX reports it.
type Target struct{ Order neox.CollectionOrder }

func (t Target) Currency() string                       { return t.Order.Currency }
func (t Target) PaymentMethod() string                  { return "" }
func (t Target) RefundedBase() int64                    { return -1 }
func (t Target) Amounts() (int64, int64)                { return t.Order.Amount, 0 }
func (t Target) WholeAmount() (int64, bool)             { return t.Order.Amount, true }
func (t Target) Verdict(reserved int64) product.Verdict { return Verdict(t.Order, reserved) }

// Check: an amount typed must be the whole order's.
func (t Target) Check(req product.Request) product.FieldErrors {
	if req.Amount != 0 && req.Amount != t.Order.Amount {
		return product.FieldErrors{"amount": product.Because(fault.M("domain.46", "GC refunds the whole order: %s %s"),
			neox.FormatMinor(t.Order.Amount, t.Order.Currency), t.Order.Currency)}
	}
	return nil
}

// Verdict is the GC rule: a refund returns the whole collection order.
//
// Assumptions, decided where the docs are silent:
//   - The amount refunded, recorded on the refund and cross-checked against
//     the REFUND webhook, is the order's amount in its currency (the webhook
//     reports "amount (original currency)" and currency, so they must
//     agree). payAmount/payCurrency (what was actually settled) are shown
//     beside it and never used for money decisions.
//   - Only SUCCESS is refundable: WAIT_MATCH, MATCHED and PENDING are not
//     settled; REFUND_PROCESS and REFUND_SUCCESS are already being (or
//     have been) refunded; CANCEL and REJ_WAIT_MATCH were never paid. A
//     status outside the documented list is refused and shown as sent
//     (GC publishes its list, so a new value is news, not a payment).
//   - GC has no refundedAmount: one pending or in-flight refund here
//     reserves the whole order.
func Verdict(o neox.CollectionOrder, reserved int64) product.Verdict {
	switch product.NormStatus(o.Status) {
	case "SUCCESS":
	case "WAIT_MATCH", "MATCHED", "PENDING":
		return product.Verdict{Reason: product.Because(reasonGCNotSettled, o.Status)}
	case "REFUND_PROCESS", "REFUND_SUCCESS":
		return product.Verdict{Reason: product.Because(reasonGCRefunding, o.Status)}
	case "CANCEL", "REJ_WAIT_MATCH":
		return product.Verdict{Reason: product.Because(reasonGCUnpaid, o.Status)}
	default:
		return product.Verdict{Reason: product.Because(reasonGCUnknownStatus, o.Status)}
	}
	switch {
	case o.Amount <= 0:
		return product.Verdict{Paid: true, Reason: product.Because(reasonGCNoAmount)}
	case reserved > 0:
		return product.Verdict{Paid: true, Reason: product.Because(reasonGCReserved)}
	}
	return product.Verdict{Paid: true, Refundable: o.Amount}
}
