package pg

import (
	"context"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Validate: a PG refund is of one payment, for an amount.
func (p *Product) Validate(req product.Request) product.FieldErrors {
	f := product.FieldErrors{}
	if strings.TrimSpace(req.PaymentID) == "" {
		f["payment_id"] = product.Because(fault.M("domain.15", "choose the payment to refund"))
	}
	if req.Amount <= 0 {
		f["amount"] = product.Because(fault.M("domain.16", "the amount must be greater than 0"))
	}
	return f
}

// Target reads the payment with QUERY_PT. NeoX errors come back as they
// are (the caller maps not found).
func (p *Product) Target(ctx context.Context, req product.Request) (product.Target, []product.Call, error) {
	t0 := time.Now()
	pays, err := p.gw.QueryPT(ctx, req.Lang, req.TransactionRef)
	calls := []product.Call{product.Timed("query_pt", t0, err, "")}
	if err != nil {
		return nil, calls, err
	}
	for _, pay := range pays {
		if pay.ID == req.PaymentID {
			return Target{pay}, calls, nil
		}
	}
	if len(pays) == 0 {
		return nil, calls, product.Invalidf("transaction_ref", product.ReasonUnknownTarget)
	}
	return nil, calls, product.Invalidf("payment_id", fault.M("domain.42", "this transaction has no such payment"))
}

// Target is one PG payment as NeoX reports it.
type Target struct{ Payment neox.Payment }

func (t Target) Currency() string                       { return "VND" }
func (t Target) PaymentMethod() string                  { return t.Payment.Method }
func (t Target) RefundedBase() int64                    { return t.Payment.RefundedAmount }
func (t Target) Amounts() (int64, int64)                { return t.Payment.Amount, t.Payment.RefundedAmount }
func (t Target) WholeAmount() (int64, bool)             { return 0, false }
func (t Target) Verdict(reserved int64) product.Verdict { return Verdict(t.Payment, reserved) }

// Check: a QR payment is refunded to a bank account NeoX cannot know, so
// the receiver is required.
func (t Target) Check(req product.Request) product.FieldErrors {
	if !strings.EqualFold(t.Payment.Method, "QR") {
		return nil
	}
	f := product.FieldErrors{}
	if strings.TrimSpace(req.BankAccountName) == "" {
		f["bank_account_name"] = product.Because(fault.M("domain.23", "QR payments need the receiver's account name"))
	}
	if strings.TrimSpace(req.BankAccountNumber) == "" {
		f["bank_account_number"] = product.Because(fault.M("domain.24", "QR payments need the receiver's account number"))
	}
	if strings.TrimSpace(req.BankSwift) == "" {
		f["bank_swift"] = product.Because(fault.M("domain.25", "QR payments need the receiver's bank SWIFT code"))
	}
	return f
}

// Verdict is PG's refundable rule. Assumes: a payment's status SUCCESS
// means paid; amount and refundedAmount are VND; refundable =
// amount − refundedAmount − reserved here.
func Verdict(p neox.Payment, reserved int64) product.Verdict {
	if product.NormStatus(p.Status) != "SUCCESS" {
		return product.Verdict{Reason: product.Because(product.ReasonNotPaid, p.Status)}
	}
	v := product.Verdict{Paid: true, Refundable: product.Refundable(p.Amount, p.RefundedAmount, reserved)}
	if v.Refundable == 0 {
		v.Reason = product.Because(product.ReasonNothingLeft, product.FormatVND(p.Amount),
			product.FormatVND(p.RefundedAmount), product.FormatVND(reserved))
	}
	return v
}
