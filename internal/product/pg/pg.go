// Package pg is the NeoX Payment Gateway product: refunds of a payment of
// a PG transaction, answered by IPN or settled by QUERY_PT.
package pg

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Name is the product's code.
const Name = "PG"

// Gateway is what the product needs of the PG client (*neox.PG).
// Errors: *neox.RejectedError (definite, ErrNotFound for unknown ids),
// *neox.UnknownOutcomeError, or others (treated as unknown outcomes).
type Gateway interface {
	QueryPT(ctx context.Context, lang, transactionID string) ([]neox.Payment, error)
	Refund(ctx context.Context, lang string, r neox.PGRefundRequest) (neox.PGRefundResult, error)
}

// Product is PG over a Gateway; a nil gateway means not configured.
type Product struct{ gw Gateway }

// New returns the PG product calling gw.
func New(gw Gateway) *Product {
	if product.Missing(gw) {
		gw = nil
	}
	return &Product{gw: gw}
}

func (p *Product) Name() string     { return Name }
func (p *Product) Label() string    { return "Payment Gateway" }
func (p *Product) Configured() bool { return p.gw != nil }
func (p *Product) Whole() bool      { return false }

// AttentionAfter is 48h: polling QUERY_PT confirms success from
// refundedAmount but cannot see a failure; bank refunds via NAPAS settle
// within a day or two.
func (p *Product) AttentionAfter() time.Duration { return 48 * time.Hour }
func (p *Product) Gateway() Gateway              { return p.gw }

// BadSignature: code 98, "invalid signature" (the merchant code or
// secret key is wrong).
func (p *Product) BadSignature(code string) bool {
	return code == strconv.Itoa(neox.PGCodeBadSignature)
}

// Prepare snapshots the payment's refundedAmount on the first attempt
// (for the QUERY_PT settle rule, see Settled), before the refund call.
func (p *Product) Prepare(ctx context.Context, d product.Desk, r product.Refund) (product.Refund, []product.Call) {
	r.Prepared = true
	if r.Attempts != 1 {
		return r, nil
	}
	t0 := time.Now()
	pays, err := p.gw.QueryPT(ctx, r.Lang, r.TransactionRef)
	call := product.Timed("query_pt", t0, err, "")
	for _, pay := range pays {
		if err == nil && pay.ID == r.PaymentID {
			r.RefundedBase, r.BaseAt = pay.RefundedAmount, d.Now()
			// Kept before the refund call, not after: if the process dies
			// mid-call, the restarted worker still has the snapshot the
			// settle rule needs (without it, and without an IPN, the refund
			// could only wait for a person). A failure to keep it only
			// costs that fallback, so the send goes on.
			_ = d.KeepRefundedBase(ctx, r.ID, r.RefundedBase, r.BaseAt)
		}
	}
	return r, []product.Call{call}
}

// Send makes the REFUND call, after Prepare's snapshot (made here when
// the caller did not prepare r).
func (p *Product) Send(ctx context.Context, d product.Desk, r product.Refund) (product.Outcome, []product.Call) {
	var calls []product.Call
	if !r.Prepared {
		r, calls = p.Prepare(ctx, d, r)
	}
	req := neox.PGRefundRequest{RequestID: r.ID, PaymentID: r.PaymentID, Amount: r.Amount}
	if strings.EqualFold(r.PaymentMethod, "QR") {
		req.Receiver = &neox.Receiver{AccountName: r.BankAccountName, AccountNumber: r.BankAccountNumber,
			SwiftCode: r.BankSwift}
	}
	t0 := time.Now()
	res, err := p.gw.Refund(ctx, r.Lang, req)
	// Code 0 (accepted) or 99 (processing): the outcome comes by IPN, or
	// by the QUERY_PT settle rule.
	out := product.Outcome{To: product.Processing, NeoXRefundID: res.TransID, Code: strconv.Itoa(res.ResponseCode),
		Message: res.ResponseMsg}
	return out, append(calls, product.Timed("refund", t0, err, ""))
}

// Reconcile reads QUERY_PT: a visibly settled refund is adopted; otherwise
// the refund is resent with the same id, and NeoX answers "duplicate" if
// it holds it already.
func (p *Product) Reconcile(ctx context.Context, d product.Desk, r product.Refund) (product.Outcome, bool, []product.Call) {
	out, c := p.settled(ctx, d, r)
	return out, out.To != "", []product.Call{c}
}

// Poll reads QUERY_PT and applies the settle rule.
func (p *Product) Poll(ctx context.Context, d product.Desk, r product.Refund) (product.Outcome, product.Call) {
	return p.settled(ctx, d, r)
}

func (p *Product) settled(ctx context.Context, d product.Desk, r product.Refund) (product.Outcome, product.Call) {
	t0 := time.Now()
	pays, err := p.gw.QueryPT(ctx, r.Lang, r.TransactionRef)
	c := product.Timed("query_pt", t0, err, "")
	if err != nil {
		return product.Outcome{}, c
	}
	if ok, _ := Settled(ctx, d, r, pays); ok {
		return product.Outcome{To: product.Succeeded, Status: "SETTLED_BY_QUERY_PT"}, c
	}
	return product.Outcome{}, c
}

// Settled is the PG settle rule used when no IPN has arrived: QUERY_PT's
// refundedAmount for the payment has grown, since the snapshot taken before
// our first send, by at least our amount plus what other refunds of this
// desk on the same payment settled after that snapshot. It refuses to
// decide (false) while another refund of the same payment is in flight
// here, since the growth could then be either's.
func Settled(ctx context.Context, d product.Desk, r product.Refund, pays []neox.Payment) (bool, error) {
	if r.RefundedBase < 0 {
		return false, nil
	}
	var pay *neox.Payment
	for i := range pays {
		if pays[i].ID == r.PaymentID {
			pay = &pays[i]
		}
	}
	if pay == nil {
		return false, nil
	}
	extra, busy, err := d.OtherRefundsOfPayment(ctx, r)
	if err != nil || busy {
		return false, err
	}
	return pay.RefundedAmount >= r.RefundedBase+extra+r.Amount, nil
}

// Settings are what the PG client needs (see the README's configuration).
func (p *Product) Settings() []string {
	return []string{"NEOX_PG_URL", "NEOX_PG_MERCHANT_CODE", "NEOX_PG_SECRET_KEY"}
}
