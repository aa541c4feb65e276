package refunds

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// Quote is what a request would become if it were created now.
type Quote struct {
	Amount   int64  // the refund's amount (a whole-target product's: the target's)
	Currency string // the target's currency
	// InFlight counts the target's refunds already pending or approved and
	// not final here.
	InFlight int
}

// Check runs every rule Create runs on req, with the same NeoX lookup
// (req.Lookup's answer, or a fresh call) and what is reserved here now,
// and creates nothing: bulk refunds preview a file with it. Create checks
// again, inside its write transaction, when the request is made. Errors:
// as Create's.
func (s *Service) Check(ctx context.Context, actor Actor, req NewRequest) (Quote, error) {
	if err := s.permit(actor, policy.Request); err != nil {
		return Quote{}, err
	}
	req = normalize(req)
	p, _ := s.products.Get(string(req.API))
	if v := checkRequest(p, req); v != nil {
		return Quote{}, v
	}
	if !p.Configured() {
		return Quote{}, ErrNotConfigured
	}
	req.SubMerchantID = strings.TrimSpace(req.SubMerchantID)
	t, err := req.Lookup.target(req)
	if errors.Is(err, errNoAnswer) {
		t, err = s.fetchTarget(ctx, req.Lang, req.API, req.TransactionRef, req.PaymentID, req.SubMerchantID)
	}
	if err != nil {
		return Quote{}, err
	}
	if v := t.check(req); v != nil {
		return Quote{}, v
	}
	q := Quote{Amount: req.Amount, Currency: t.currency()}
	if whole, ok := t.t.WholeAmount(); ok {
		q.Amount = whole
	}
	reserved, err := s.db.ReservedNow(ctx, string(req.API), req.TransactionRef, req.PaymentID)
	if err != nil {
		return Quote{}, fmt.Errorf("refunds: %w", err)
	}
	if q.InFlight, err = s.db.InFlightFor(ctx, string(req.API), req.TransactionRef, req.PaymentID); err != nil {
		return Quote{}, fmt.Errorf("refunds: %w", err)
	}
	if v := t.checkRefundable(q.Amount, reserved); v != nil {
		return q, v
	}
	return q, nil
}
