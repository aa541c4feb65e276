package col

import (
	"context"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product"
)

// Lister is the COL client's refund list (*neox.COL has it), read by the
// sweep (GET v2/col/refund-requests, the documented reconciliation
// endpoint).
type Lister interface {
	ListRefunds(ctx context.Context, lang string, q neox.COLListQuery) (neox.COLRefundPage, error)
}

const (
	sweepPageSize = neox.MaxCOLPageSize
	sweepMaxPages = 200 // 100k refunds a window; more is reported as an error
	// sweepLang is the language the sweep's calls ask for: no person
	// reads their answers as they come, so NeoX's own default.
	sweepLang = "vi"
)

// Sweeps reports whether the COL client lists refunds.
func (p *Product) Sweeps() bool {
	_, ok := p.gw.(Lister)
	return ok
}

// Sweep reads NeoX's COL refund list over [from, to], page by page
// (pageSize 500, until totalPages or an empty page).
func (p *Product) Sweep(ctx context.Context, from, to time.Time, found func(product.Swept) error) (int, error) {
	lister, ok := p.gw.(Lister)
	if !ok {
		return 0, fmt.Errorf("the COL client does not list refunds")
	}
	pages := 0
	for page := 1; ; page++ {
		if page > sweepMaxPages {
			return pages, fmt.Errorf("more than %d pages of %d refunds in the window; shorten COL_SWEEP_WINDOW", sweepMaxPages, sweepPageSize)
		}
		res, err := lister.ListRefunds(ctx, sweepLang, neox.COLListQuery{PageIndex: page, PageSize: sweepPageSize, From: from, To: to})
		if err != nil {
			return pages, fmt.Errorf("page %d: %w", page, err)
		}
		pages++
		for _, c := range res.Docs {
			if err := found(product.Swept{RequestID: c.RequestID, TargetRef: c.CollectionTransID, NeoXRefundID: c.RefundTransID,
				ApprovalStatus: c.ApprovalStatus, Status: c.Status, Amount: c.Amount, Note: c.Note,
				FailedReason: c.FailedReason, CreatedAt: c.CreatedAt}); err != nil {
				return pages, err
			}
		}
		if page >= res.TotalPages || len(res.Docs) == 0 {
			return pages, nil
		}
	}
}

// SweptState maps a listed refund like a poll answer (see Outcome).
func (p *Product) SweptState(approvalStatus, status string) string {
	return Outcome(approvalStatus, status, "", "", "", "").To
}
