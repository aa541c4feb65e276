package refunds

import (
	"context"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product/col"
	"github.com/neox-refund-desk/refunddesk/internal/product/gc"
	"github.com/neox-refund-desk/refunddesk/internal/product/pg"
)

// The tests apply deliveries already verified, as the products read them
// (the desk itself verifies and reads them in Apply).

// ApplyPG applies a verified PG refund IPN (see pg.IPNEvent).
func (s *Service) ApplyPG(ctx context.Context, ipn neox.PGRefundIPN, raw []byte) (WebhookResult, error) {
	return s.ApplyEvent(ctx, APIPG, pg.IPNEvent(ipn), raw)
}

// ApplyGC applies a verified GC REFUND event (see gc.RefundEvent).
func (s *Service) ApplyGC(ctx context.Context, ev neox.GCRefundEvent, raw []byte) (WebhookResult, error) {
	e, err := gc.RefundEvent(ev)
	if err != nil {
		return WebhookResult{}, err
	}
	return s.ApplyEvent(ctx, APIGC, e, raw)
}

// ApplyCOL applies a verified COL REFUND event (see col.RefundEvent).
func (s *Service) ApplyCOL(ctx context.Context, ev neox.COLRefundEvent, raw []byte) (WebhookResult, error) {
	e, err := col.RefundEvent(ev)
	if err != nil {
		return WebhookResult{}, err
	}
	return s.ApplyEvent(ctx, APICOL, e, raw)
}
