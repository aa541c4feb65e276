// Package col is the NeoX Collection product: a refund of a collection
// transaction to a bank account, approved on NeoX's side.
package col

import (
	"context"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Name is the product's code.
const Name = "COL"

// Gateway is what the product needs of the COL client (*neox.COL).
type Gateway interface {
	GetCollectionTransaction(ctx context.Context, lang, id string) (neox.CollectionTransaction, error)
	Refund(ctx context.Context, lang string, r neox.COLRefundRequest) (neox.COLRefund, error)
	GetRefund(ctx context.Context, lang, requestID string) (neox.COLRefund, error)
}

// Product is COL over a Gateway; a nil gateway means not configured.
type Product struct{ gw Gateway }

// New returns the COL product calling gw.
func New(gw Gateway) *Product {
	if product.Missing(gw) {
		gw = nil
	}
	return &Product{gw: gw}
}

func (p *Product) Name() string     { return Name }
func (p *Product) Label() string    { return "Collection" }
func (p *Product) Configured() bool { return p.gw != nil }
func (p *Product) Whole() bool      { return false }

// AttentionAfter is 72h: the refund detail shows every state, so polling
// finds every outcome; only a refund stuck at NeoX (its own approval
// step, which does not run at weekends) gets here.
func (p *Product) AttentionAfter() time.Duration { return 72 * time.Hour }
func (p *Product) Gateway() Gateway              { return p.gw }

// Send makes the refund call.
func (p *Product) Send(ctx context.Context, _ product.Desk, r product.Refund) (product.Outcome, []product.Call) {
	t0 := time.Now()
	res, err := p.gw.Refund(ctx, r.Lang, neox.COLRefundRequest{RequestID: r.ID, CollectionTransID: r.TransactionRef,
		Amount: r.Amount, BankSwiftCode: r.BankSwift, BankAccountNumber: r.BankAccountNumber,
		BankAccountName: r.BankAccountName, BankBranch: r.BankBranch})
	return RefundOutcome(res), []product.Call{product.Timed("refund", t0, err, res.NeoResponseID)}
}

// Reconcile reads the refund by our request id; not found, or unsure,
// means resend the same id.
func (p *Product) Reconcile(ctx context.Context, _ product.Desk, r product.Refund) (product.Outcome, bool, []product.Call) {
	t0 := time.Now()
	got, err := p.gw.GetRefund(ctx, r.Lang, r.ID)
	c := product.Timed("get_refund", t0, err, got.NeoResponseID)
	if err != nil {
		return product.Outcome{}, false, []product.Call{c}
	}
	return RefundOutcome(got), true, []product.Call{c}
}

// Poll reads the refund by our request id.
func (p *Product) Poll(ctx context.Context, _ product.Desk, r product.Refund) (product.Outcome, product.Call) {
	t0 := time.Now()
	got, err := p.gw.GetRefund(ctx, r.Lang, r.ID)
	c := product.Timed("get_refund", t0, err, got.NeoResponseID)
	if err != nil {
		return product.Outcome{}, c
	}
	return RefundOutcome(got), c
}

// Outcome maps a COL refund (answer, query or webhook) onto the
// submission axis: approvalStatus REJECTED and status FAILED are failures
// (the note / failedReason kept verbatim), status SUCCESS is success,
// anything else is still processing.
func Outcome(approval, status, refundTransID, note, failedReason, responseID string) product.Outcome {
	out := product.Outcome{To: product.Processing, NeoXRefundID: refundTransID, ApprovalStatus: approval,
		Status: status, ResponseID: responseID, Message: note, FailedReason: failedReason}
	switch {
	case approval == "REJECTED":
		out.To = product.Failed
		if out.FailedReason == "" {
			out.FailedReason = note
		}
	case status == "FAILED":
		out.To = product.Failed
	case status == "SUCCESS":
		out.To = product.Succeeded
	}
	return out
}

// RefundOutcome is Outcome of a COL refund as NeoX returns it.
func RefundOutcome(c neox.COLRefund) product.Outcome {
	return Outcome(c.ApprovalStatus, c.Status, c.RefundTransID, c.Note, c.FailedReason, c.NeoResponseID)
}

// Settings are what the COL client needs (see the README's configuration).
func (p *Product) Settings() []string {
	return []string{"NEOX_OPENAPI_URL", "NEOX_COL_CLIENT_ID", "NEOX_COL_CLIENT_SECRET", "NEOX_COL_WEBHOOK_SECRET"}
}
