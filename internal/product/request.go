package product

import (
	"sort"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
)

// Request is a refund as typed in the form, trimmed, as a product checks
// it.
type Request struct {
	TransactionRef    string
	PaymentID         string
	Amount            int64 // minor units; 0 where the product refunds the whole target
	FeeChargeWay      string
	SubMerchantID     string
	BankSwift         string
	BankAccountNumber string
	BankAccountName   string
	BankBranch        string
	// Lang is the language NeoX answers in (Accept-Language): the person's
	// who asks, "vi" unless it is "en".
	Lang string
}

// Format is a message for a person: a key the desk translates, the
// English for logs, and the values (see package fault).
type Format = fault.Msg

// Because is m with the values args.
func Because(m fault.Msg, args ...any) fault.Msg {
	m.Args = args
	return m
}

// FieldErrors maps form fields (transaction_ref, payment_id, amount, …)
// to what is wrong with them.
type FieldErrors = fault.Fields

// Invalid is the error a product returns when the request is wrong.
type Invalid struct{ Fields FieldErrors }

func (e *Invalid) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + ": " + e.Fields[k].String()
	}
	return "invalid refund: " + strings.Join(parts, "; ")
}

// Invalidf is an *Invalid for one field.
func Invalidf(field string, m fault.Msg, args ...any) *Invalid {
	return &Invalid{Fields: FieldErrors{field: Because(m, args...)}}
}

// Verdict is a product's refundable rule's answer for one target, given
// what is reserved here (requests pending approval or approved and not
// final).
type Verdict struct {
	// Paid: NeoX's status lets the desk ask for a refund (for a status the
	// desk does not recognise, too, where the product says so).
	Paid bool
	// Refundable is what may still be requested, in minor units of the
	// target's currency; for a whole-target product the whole amount or 0.
	Refundable int64
	// Reason says why nothing can be requested, or, with Unrecognised, why
	// the desk lets staff ask although it does not know NeoX's status.
	// Empty when there is nothing to say.
	Reason Format
	// Unrecognised: NeoX sent a status the desk does not know; it is shown
	// to staff verbatim with Reason.
	Unrecognised bool
}

// Target is what NeoX says now about the thing a refund would come from
// (a PG payment, a GC order, a COL transaction).
type Target interface {
	// Currency of the target's amounts.
	Currency() string
	// PaymentMethod is kept on the refund ("" where the product has none).
	PaymentMethod() string
	// RefundedBase is what NeoX says was refunded of the target so far,
	// kept for a settle rule; -1 where the product needs none.
	RefundedBase() int64
	// Amounts NeoX reports: paid and refunded so far.
	Amounts() (paid, refunded int64)
	// Verdict applies the product's refundable rule.
	Verdict(reserved int64) Verdict
	// WholeAmount is, for a product that refunds only the whole target,
	// that amount; ok false where any amount up to the refundable one
	// may be asked.
	WholeAmount() (amount int64, ok bool)
	// Check applies the rules that depend on the target but not on what
	// is reserved here (a whole-target amount, a receiver the payment
	// method needs).
	Check(req Request) FieldErrors
}

// Refundable is the amount that can still be refunded: paid − refunded
// (as NeoX reports it) − reserved here (pending, or approved and not
// final). It is never negative.
func Refundable(paid, refundedAtNeoX, reservedHere int64) int64 {
	r := paid - refundedAtNeoX - reservedHere
	if r < 0 {
		return 0
	}
	return r
}

// FormatVND renders an amount as "1.250.000 ₫".
func FormatVND(n int64) string {
	neg := n < 0
	u := uint64(n)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte('.')
		}
		b.WriteRune(c)
	}
	b.WriteString(" ₫")
	return b.String()
}

// NormStatus is a NeoX status as the rules compare it.
func NormStatus(s string) string { return strings.ToUpper(strings.TrimSpace(s)) }

// ReasonNothingLeft is the reason of a paid target with nothing left to
// refund (the same sentence for every product that refunds part of a
// target).
var ReasonNothingLeft = fault.M("domain.52", "nothing is left to refund (paid %s, refunded %s, pending or in progress here %s)")

// ReasonNotPaid is the reason of a target NeoX does not report as paid.
var ReasonNotPaid = fault.M("domain.45", "only paid transactions can be refunded (NeoX status %s)")

// ReasonUnknownTarget is the message of a reference NeoX does not know.
var ReasonUnknownTarget = fault.M("domain.41", "NeoX does not know this transaction")
