package col

import (
	"fmt"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// WebhookReply is the OpenAPI webhook answer: code 1 received, 2 refused.
func (p *Product) WebhookReply(refused bool) []byte {
	if refused {
		return []byte(`{"code":2,"message":"refused: does not match the refund it names"}`)
	}
	return []byte(`{"code":1,"message":"received"}`)
}

// RefundEvent reads a verified COL REFUND event: approvalStatus REJECTED
// or status FAILED fail the refund (note and failedReason verbatim),
// status SUCCESS completes it, anything else confirms it is processing.
func RefundEvent(ev neox.COLRefundEvent) (product.Event, error) {
	amount, err := ev.IntAmount()
	if err != nil {
		return product.Event{}, fmt.Errorf("%w: COL amount: %v", neox.ErrMalformed, err)
	}
	return product.Event{Ref: ev.RequestID, Status: joinStatus(ev.ApprovalStatus, ev.Status),
		Signed: append([]string{Name}, ev.Fields()...),
		Check: func(r product.Refund) string {
			switch {
			case r.TransactionRef != ev.CollectionTransID:
				return product.MismatchTarget
			case r.Currency != "VND":
				return product.MismatchCurrency // COL is VND only
			case r.Amount != amount:
				return product.MismatchAmount
			}
			return ""
		},
		Observe: func(r product.Refund) product.Outcome {
			if ev.ApprovalStatus == "PENDING" && ev.Status == "" && r.NeoXApproval != "" && r.NeoXApproval != "PENDING" {
				return product.Outcome{} // NeoX decided already: an older event
			}
			return Outcome(ev.ApprovalStatus, ev.Status, "", ev.Note, ev.FailedReason, "")
		},
		Details: map[string]any{"amount": ev.Amount, "collection_trans_id": ev.CollectionTransID}}, nil
}

func joinStatus(approval, status string) string {
	if status == "" {
		return approval
	}
	return approval + "/" + status
}

// HookPath: COL's REFUND events arrive at /webhooks/neox/col.
func (p *Product) HookPath() string { return "col" }

// ReadHook verifies a REFUND event with the webhook secret.
func (p *Product) ReadHook(raw []byte, k product.HookKeys) (product.Event, error) {
	ev, err := neox.VerifyCOLWebhook(raw, k.Secret)
	if err != nil {
		return product.Event{}, err
	}
	return RefundEvent(ev)
}
