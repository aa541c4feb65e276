package col

import (
	"context"
	"slices"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

var reasonCOLUnknown = fault.M("domain.53", "NeoX reported status %q, which NeoX has not documented; the desk lets you request the refund, and NeoX will refuse it if the transaction cannot be refunded")

// Validate: a COL refund is for an amount (the bank details are checked by
// the desk's common rules).
func (p *Product) Validate(req product.Request) product.FieldErrors {
	f := product.FieldErrors{}
	if req.Amount <= 0 {
		f["amount"] = product.Because(fault.M("domain.16", "the amount must be greater than 0"))
	}
	return f
}

// Target reads the collection transaction.
func (p *Product) Target(ctx context.Context, req product.Request) (product.Target, []product.Call, error) {
	t0 := time.Now()
	c, err := p.gw.GetCollectionTransaction(ctx, req.Lang, req.TransactionRef)
	calls := []product.Call{product.Timed("get_transaction", t0, err, "")}
	if err != nil {
		return nil, calls, err
	}
	return Target{c}, calls, nil
}

// Target is a COL collection transaction as NeoX reports it (VND).
type Target struct{ Txn neox.CollectionTransaction }

func (t Target) Currency() string                          { return "VND" }
func (t Target) PaymentMethod() string                     { return "" }
func (t Target) RefundedBase() int64                       { return -1 }
func (t Target) Amounts() (int64, int64)                   { return t.Txn.Amount, t.Txn.RefundedAmount }
func (t Target) WholeAmount() (int64, bool)                { return 0, false }
func (t Target) Verdict(reserved int64) product.Verdict    { return Verdict(t.Txn, reserved) }
func (t Target) Check(product.Request) product.FieldErrors { return nil }

// COL transaction statuses the desk recognises. NeoX publishes no list for
// GET v2/col/transactions/{transId}; these are the values NeoX uses for
// the same meanings elsewhere (COL refund status SUCCESS | PROCESSING |
// FAILED, approvalStatus PENDING | REJECTED, GC CANCEL, PG expired and
// cancelled).
var (
	colPaid    = []string{"SUCCESS"}
	colNotPaid = []string{"PENDING", "PROCESSING", "FAILED", "CANCEL", "CANCELLED", "CANCELED", "REJECTED", "EXPIRED"}
)

// Verdict is the COL rule: partial refunds of a VND transaction.
//
// Assumptions, decided where the docs are silent:
//   - refundable = amount − refundedAmount (NeoX's total refunded so far)
//     − reserved here, whatever the status that lets a refund be asked.
//   - SUCCESS is paid; the values in colNotPaid are refused with the
//     status shown.
//   - Any other value (NeoX publishes no list) is not silently refused:
//     staff see it verbatim with a plain explanation and may request the
//     refund; NeoX refuses it at creation if the transaction cannot be
//     refunded, and that refusal is recorded like any other.
//   - reconcileStatus and payoutStatus are shown, not used: nothing in the
//     docs ties refunds to reconciliation or payout.
func Verdict(t neox.CollectionTransaction, reserved int64) product.Verdict {
	st := product.NormStatus(t.Status)
	var v product.Verdict
	switch {
	case slices.Contains(colPaid, st):
		v.Paid = true
	case slices.Contains(colNotPaid, st):
		return product.Verdict{Reason: product.Because(product.ReasonNotPaid, t.Status)}
	default:
		v.Paid, v.Unrecognised = true, true
		v.Reason = product.Because(reasonCOLUnknown, t.Status)
	}
	v.Refundable = product.Refundable(t.Amount, t.RefundedAmount, reserved)
	if v.Refundable == 0 && !v.Unrecognised {
		v.Reason = product.Because(product.ReasonNothingLeft, product.FormatVND(t.Amount), product.FormatVND(t.RefundedAmount), product.FormatVND(reserved))
	}
	return v
}
