package refunds

// "Is this payment refundable, and how much": one rule per product, each
// with what it assumes about NeoX written beside it. Lookup (what staff
// see), Create (the request) and Approve (the re-check before sending) all
// ask these three functions and nothing else. The README section "What we
// assumed about NeoX lookups" lists the same assumptions and what to
// confirm with NeoX.

import (
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/product/col"
	"github.com/neox-refund-desk/refunddesk/internal/product/gc"
	"github.com/neox-refund-desk/refunddesk/internal/product/pg"
)

// Verdict is a product's refundable rule's answer (see product.Verdict).
type Verdict = product.Verdict

// The rules live with their products; the lookup views still name them
// (see Lookup).
func pgVerdict(p neox.Payment, reserved int64) Verdict         { return pg.Verdict(p, reserved) }
func gcVerdict(o neox.CollectionOrder, reserved int64) Verdict { return gc.Verdict(o, reserved) }
func colVerdict(t neox.CollectionTransaction, reserved int64) Verdict {
	return col.Verdict(t, reserved)
}
