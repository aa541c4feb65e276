package templates

import (
	"context"
	"strings"

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

// reasonLine is a refund's reason: the code's words and the details, with
// a dash between them only when there are both.
func reasonLine(ctx context.Context, r refunds.Refund) string {
	code, text := "", strings.TrimSpace(r.ReasonText)
	if r.ReasonCode != "" {
		code = ReasonLabel(ctx, r.ReasonCode)
	}
	switch {
	case code != "" && text != "":
		return code + " — " + text
	case code != "":
		return code
	}
	return text
}

// decider names who decided a refund: the manager, or its maker for a
// cancellation.
func decider(ctx context.Context, r refunds.Refund) string {
	if r.ByPolicy() {
		return tr(ctx, "pol.the_policy", int(r.Rule.Version))
	}
	if r.DecidedByName != "" {
		return personName(ctx, r.DecidedBy, r.DecidedByName)
	}
	return personName(ctx, r.RequestedBy, r.RequestedByName)
}

// viewerOf is the page's viewer, or nobody.
func viewerOf(p Page) Viewer {
	if p.Viewer == nil {
		return Viewer{}
	}
	return *p.Viewer
}

// shownState is the one state a person looks for: the approval while the
// refund is not approved, then what NeoX did with it.
func shownState(r refunds.Refund) string {
	if r.Approval == refunds.ApprovalApproved {
		return r.Submission
	}
	return r.Approval
}
