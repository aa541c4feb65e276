package templates

import (
	"context"

	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// hookReason says in words why a delivery was kept for review.
func hookReason(ctx context.Context, h refunds.WebhookEvent) string {
	if h.Applied == refunds.HookContradicts {
		return tr(ctx, "hook.reason.contradicts")
	}
	switch h.Reason {
	case refunds.ReasonAPI, refunds.ReasonTarget, refunds.ReasonAmount, refunds.ReasonCurrency,
		refunds.ReasonNeoXRefundID, refunds.ReasonNotSent:
		return tr(ctx, "hook.reason."+h.Reason)
	}
	return h.Reason
}

// shortID is the first block of a UUID: enough to tell refunds apart in a
// list, with the whole id in the link.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8] + "…"
	}
	return id
}
