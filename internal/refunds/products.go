package refunds

import (
	"context"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/product/col"
	"github.com/neox-refund-desk/refunddesk/internal/product/gc"
	"github.com/neox-refund-desk/refunddesk/internal/product/pg"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// The clients the NeoX products call; see their packages.
type (
	PGGateway  = pg.Gateway
	GCGateway  = gc.Gateway
	COLGateway = col.Gateway
)

// Gateways holds one client per product; nil means not configured.
type Gateways struct {
	PG  PGGateway
	GC  GCGateway
	COL COLGateway
}

// Products are the NeoX products over gw, in the order pages list them:
// the one place the desk's product list is written down.
func Products(gw Gateways) []product.Product {
	return []product.Product{pg.New(gw.PG), gc.New(gw.GC), col.New(gw.COL)}
}

// HookKeys are what a product verifies its webhook deliveries with.
type HookKeys = product.HookKeys

// Hooks holds the webhook keys of each NeoX product.
type Hooks struct{ PG, GC, COL HookKeys }

// Keys are h by product name.
func (h Hooks) Keys() map[string]HookKeys {
	return map[string]HookKeys{pg.Name: h.PG, gc.Name: h.GC, col.Name: h.COL}
}

// Webhook is a registered product's webhook endpoint:
// POST /webhooks/neox/{Path}.
type Webhook struct {
	API  API
	Path string
}

// Webhooks lists the endpoints of the registered products NeoX tells
// about refunds by webhook, in order.
func (s *Service) Webhooks() []Webhook {
	var out []Webhook
	for _, p := range s.products.All() {
		if h, ok := p.(product.Hooked); ok {
			out = append(out, Webhook{API: API(p.Name()), Path: h.HookPath()})
		}
	}
	return out
}

// Apply verifies and reads a webhook delivery of the product api with k,
// then applies it (ApplyEvent). raw is the body as received.
func (s *Service) Apply(ctx context.Context, api API, k HookKeys, raw []byte) (WebhookResult, error) {
	p, ok := s.products.Get(string(api))
	h, hooked := p.(product.Hooked)
	if !ok || !hooked {
		return WebhookResult{}, fmt.Errorf("refunds: product %q takes no webhooks", api)
	}
	ev, err := h.ReadHook(raw, k)
	if err != nil {
		return WebhookResult{}, err
	}
	return s.ApplyEvent(ctx, api, ev, raw)
}

// Product returns the registered product named api.
func (s *Service) Product(api API) (product.Product, bool) { return s.products.Get(string(api)) }

// ProductNames lists the registered products' names, in the order pages
// list them.
func (s *Service) ProductNames() []string { return s.products.Names() }

// neoxProduct is the NeoX product named api, unconfigured (for its form
// rules), or nil.
func neoxProduct(api API) product.Product {
	for _, p := range Products(Gateways{}) {
		if p.Name() == string(api) {
			return p
		}
	}
	return nil
}

// product returns the registered product of r, or an error naming the
// product the desk does not know: never a silent success.
func (s *Service) product(api API) (product.Product, error) {
	p, ok := s.products.Get(string(api))
	if !ok {
		return nil, fmt.Errorf("refunds: product %q is not registered", api)
	}
	return p, nil
}

// productRefund is what a product sees of r.
func productRefund(r Refund) product.Refund {
	return product.Refund{ID: r.ID, TransactionRef: r.TransactionRef, PaymentID: r.PaymentID, Amount: r.Amount,
		Currency: r.Currency, PaymentMethod: r.PaymentMethod, FeeChargeWay: r.FeeChargeWay,
		SubMerchantID: r.SubMerchantID, BankSwift: r.BankSwift, BankAccountNumber: r.BankAccountNumber,
		BankAccountName: r.BankAccountName, BankBranch: r.BankBranch, NeoXRefundID: r.NeoXRefundID,
		NeoXApproval: r.NeoXApprovalStatus, Attempts: r.Attempts,
		RefundedBase: r.refundedBase, BaseAt: r.baseAt, Lang: r.Lang}
}

// observe turns a product's outcome into the workflow's observation.
func observe(o product.Outcome) observation {
	return observation{to: o.To, neoxRefundID: o.NeoXRefundID, approvalStatus: o.ApprovalStatus, status: o.Status,
		code: o.Code, message: o.Message, responseID: o.ResponseID, failedReason: o.FailedReason}
}

// timedCall is the audited call for a product's call.
func timedCall(c product.Call) call {
	cl := classify(c.Op, c.Err, c.ResponseID)
	cl.latency = c.Latency
	return cl
}

// desk is the product.Desk the workflow gives its products.
type desk struct{ s *Service }

func (d desk) Now() time.Time { return d.s.now() }

func (d desk) KeepRefundedBase(ctx context.Context, id string, base int64, at time.Time) error {
	err := d.s.db.TxAt(ctx, d.s.now(), func(tx *store.Tx) error {
		return tx.SaveRefundedBase(ctx, id, base, at)
	})
	if err != nil {
		d.s.log.Error("refunds worker: keep the snapshot of what was refunded", "refund", id, "err", err)
	}
	return err
}

func (d desk) OtherRefundsOfPayment(ctx context.Context, r product.Refund) (int64, bool, error) {
	others, err := many(d.s.db.ApprovedRefundsOfPayment(ctx, r.TransactionRef, r.PaymentID, r.ID))
	if err != nil {
		return 0, false, err
	}
	extra := int64(0)
	for _, o := range others {
		switch o.Submission {
		case SubSending, SubUnknown, SubProcessing:
			return 0, true, nil
		case SubSucceeded:
			if o.FinalAt.After(r.BaseAt) {
				extra += o.Amount
			}
		}
	}
	return extra, false, nil
}

// productRequest is what a product checks of req.
func productRequest(req NewRequest) product.Request {
	return product.Request{TransactionRef: req.TransactionRef, PaymentID: req.PaymentID, Amount: req.Amount,
		FeeChargeWay: req.FeeChargeWay, SubMerchantID: req.SubMerchantID, BankSwift: req.BankSwift,
		BankAccountNumber: req.BankAccountNumber, BankAccountName: req.BankAccountName, BankBranch: req.BankBranch}
}

// fieldErrors is a product's field errors as the desk's *ValidationError
// (both are keyed messages).
func fieldErrors(f product.FieldErrors) *ValidationError {
	return &ValidationError{Fields: f}
}
