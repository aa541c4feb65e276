package refunds

// "Is this payment refundable, and how much": one rule per product, each
// with what it assumes about NeoX written beside it. Lookup (what staff
// see), Create (the request) and Approve (the re-check before sending) all
// ask these three functions and nothing else. The README section "What we
// assumed about NeoX lookups" lists the same assumptions and what to
// confirm with NeoX.

import (
	"slices"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// Verdict is the rule's answer for one PG payment, GC order or COL
// transaction, given what is reserved here (requests pending approval or
// approved and not final).
type Verdict struct {
	// Paid: NeoX's status lets the desk ask for a refund (for a COL status
	// the desk does not recognise, too: see colVerdict).
	Paid bool
	// Refundable is what may still be requested, in minor units of the
	// target's currency; for GC the whole order amount or 0.
	Refundable int64
	// Reason says why nothing can be requested, or, with Unrecognised, why
	// the desk lets staff ask although it does not know NeoX's status. A
	// message (key and values) so it can be translated; zero when there is
	// nothing to say.
	Reason fault.Msg
	// Unrecognised: COL sent a status the desk does not know; it is shown
	// to staff verbatim with Reason.
	Unrecognised bool
}

// because is the reason m with its values.
func because(m fault.Msg, args ...any) fault.Msg {
	m.Args = args
	return m
}

// The reasons, as messages (handlers translate them by key).
var (
	reasonNotPaid         = fault.M("domain.45", "only paid transactions can be refunded (NeoX status %s)")
	reasonGCNotSettled    = fault.M("domain.48", "the order is not settled yet (NeoX status %s); only SUCCESS orders can be refunded")
	reasonGCRefunding     = fault.M("domain.49", "NeoX is already refunding this order or has refunded it (status %s)")
	reasonGCUnpaid        = fault.M("domain.50", "the order was not paid (NeoX status %s)")
	reasonGCUnknownStatus = fault.M("domain.51", "NeoX reported status %q, which is not a documented GC order status; only SUCCESS orders can be refunded")
	reasonGCNoAmount      = fault.M("domain.43", "the order has no amount to refund")
	reasonGCReserved      = fault.M("domain.44", "a refund of this order is already pending or in progress")
	reasonNothingLeft     = fault.M("domain.52", "nothing is left to refund (paid %s, refunded %s, pending or in progress here %s)")
	reasonCOLUnknown      = fault.M("domain.53", "NeoX reported status %q, which NeoX has not documented; the desk lets you request the refund, and NeoX will refuse it if the transaction cannot be refunded")
)

// pgVerdict is the PG rule.
//
// Assumptions (neox-api/pg-query-and-refund.md, neox-notes.md): QUERY_PT
// statuses are SUCCESS | FAILED | PROCESSING and only SUCCESS is paid;
// refundable = amount − refundedAmount (NeoX's total refunded so far) −
// reserved here. Amounts are VND.
func pgVerdict(p neox.Payment, reserved int64) Verdict {
	if normStatus(p.Status) != "SUCCESS" {
		return Verdict{Reason: because(reasonNotPaid, p.Status)}
	}
	v := Verdict{Paid: true, Refundable: Refundable(p.Amount, p.RefundedAmount, reserved)}
	if v.Refundable == 0 {
		v.Reason = because(reasonNothingLeft, FormatVND(p.Amount), FormatVND(p.RefundedAmount), FormatVND(reserved))
	}
	return v
}

// gcVerdict is the GC rule: a refund returns the whole collection order.
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
func gcVerdict(o neox.CollectionOrder, reserved int64) Verdict {
	switch normStatus(o.Status) {
	case "SUCCESS":
	case "WAIT_MATCH", "MATCHED", "PENDING":
		return Verdict{Reason: because(reasonGCNotSettled, o.Status)}
	case "REFUND_PROCESS", "REFUND_SUCCESS":
		return Verdict{Reason: because(reasonGCRefunding, o.Status)}
	case "CANCEL", "REJ_WAIT_MATCH":
		return Verdict{Reason: because(reasonGCUnpaid, o.Status)}
	default:
		return Verdict{Reason: because(reasonGCUnknownStatus, o.Status)}
	}
	switch {
	case o.Amount <= 0:
		return Verdict{Paid: true, Reason: because(reasonGCNoAmount)}
	case reserved > 0:
		return Verdict{Paid: true, Reason: because(reasonGCReserved)}
	}
	return Verdict{Paid: true, Refundable: o.Amount}
}

// COL transaction statuses the desk recognises. NeoX publishes no list for
// GET v2/col/transactions/{transId}; these are the values NeoX uses for
// the same meanings elsewhere (COL refund status SUCCESS | PROCESSING |
// FAILED, approvalStatus PENDING | REJECTED, GC CANCEL, PG expired and
// cancelled).
var (
	colPaid    = []string{"SUCCESS"}
	colNotPaid = []string{"PENDING", "PROCESSING", "FAILED", "CANCEL", "CANCELLED", "CANCELED", "REJECTED", "EXPIRED"}
)

// colVerdict is the COL rule: partial refunds of a VND transaction.
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
func colVerdict(t neox.CollectionTransaction, reserved int64) Verdict {
	st := normStatus(t.Status)
	var v Verdict
	switch {
	case slices.Contains(colPaid, st):
		v.Paid = true
	case slices.Contains(colNotPaid, st):
		return Verdict{Reason: because(reasonNotPaid, t.Status)}
	default:
		v.Paid, v.Unrecognised = true, true
		v.Reason = because(reasonCOLUnknown, t.Status)
	}
	v.Refundable = Refundable(t.Amount, t.RefundedAmount, reserved)
	if v.Refundable == 0 && !v.Unrecognised {
		v.Reason = because(reasonNothingLeft, FormatVND(t.Amount), FormatVND(t.RefundedAmount), FormatVND(reserved))
	}
	return v
}

// normStatus compares statuses without regard to case or stray spaces;
// what NeoX sent is always what is shown.
func normStatus(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }
