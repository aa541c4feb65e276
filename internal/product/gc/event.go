package gc

import (
	"encoding/json"
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

// RefundEvent reads a verified GC REFUND event. GC events carry NeoX's
// refundRequestId, not ours, and it is the only match key: an event whose
// refundRequestId the desk has not been told (by NeoX's answer to the
// refund request) is kept (Held) and replayed when the answer comes, never
// matched by collection order, since a GC order can have had several
// refunds here.
func RefundEvent(ev neox.GCRefundEvent) (product.Event, error) {
	amount, err := ev.MinorAmount()
	if err != nil {
		return product.Event{}, fmt.Errorf("%w: GC amount: %v", neox.ErrMalformed, err)
	}
	held, err := json.Marshal(ev)
	if err != nil {
		return product.Event{}, err
	}
	return product.Event{Ref: ev.RefundRequestID, ByNeoXID: true, Status: ev.Status, Held: string(held),
		Signed: append([]string{Name}, ev.Fields()...),
		Check: func(r product.Refund) string {
			switch {
			case r.TransactionRef != ev.CollectionOrderID:
				return product.MismatchTarget
			case r.Currency != ev.Currency:
				return product.MismatchCurrency
			case r.Amount != amount:
				return product.MismatchAmount
			}
			return ""
		},
		Observe: func(product.Refund) product.Outcome {
			out := product.Outcome{To: StatusState(ev.Status), NeoXRefundID: ev.RefundRequestID, Status: ev.Status,
				Message: ev.Note}
			if out.To == product.Failed {
				out.FailedReason = ev.Note
			}
			return out
		},
		Details: map[string]any{"amount": ev.Amount, "currency": ev.Currency, "collection_order_id": ev.CollectionOrderID}}, nil
}

// Replay reads an event kept while its refund id was not known yet.
func (p *Product) Replay(held string) (product.Event, error) {
	var ev neox.GCRefundEvent
	if err := json.Unmarshal([]byte(held), &ev); err != nil {
		return product.Event{}, err
	}
	return RefundEvent(ev)
}

// HookPath: GC's REFUND events arrive at /webhooks/neox/gc.
func (p *Product) HookPath() string { return "gc" }

// ReadHook verifies a REFUND event with the webhook secret.
func (p *Product) ReadHook(raw []byte, k product.HookKeys) (product.Event, error) {
	ev, err := neox.VerifyGCWebhook(raw, k.Secret)
	if err != nil {
		return product.Event{}, err
	}
	return RefundEvent(ev)
}
