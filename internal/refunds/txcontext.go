package refunds

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// TxContext is a refund's transaction as the desk knows it without asking
// NeoX: what NeoX said at the last lookup (paid, refunded then), and what
// the desk's own refunds of the same target add since (refunded through
// the desk, in flight here). A refund page shows it so a manager can
// judge a request without a second lookup; NeoX itself is asked only on
// the lookup page.
type TxContext struct {
	Currency string
	// Known: a lookup of the transaction is kept, so Paid, Refunded and
	// Refundable are figures; otherwise only the desk's own are.
	Known     bool
	CheckedAt time.Time // when NeoX answered that lookup
	Paid      int64     // what the payment took, as NeoX said
	// Refundable: NeoX's word on whether the target can be refunded at all
	// (paid, not in a state that forbids it), at CheckedAt.
	PaidOK bool
	// Refunded so far: NeoX's refunded amount at CheckedAt plus the
	// desk's refunds of this target NeoX confirmed since.
	Refunded int64
	// RefundedHere, RefundedHereN: refunds of this target the desk saw
	// succeed (whenever).
	RefundedHere  int64
	RefundedHereN int
	// InFlight, InFlightN: the desk's refunds of this target waiting for a
	// decision or for NeoX, this one included when it is one of them.
	InFlight  int64
	InFlightN int
	// RefundableNow: what could still be asked for beyond everything in
	// flight (0 when NeoX said the target cannot be refunded). A product
	// that refunds only whole targets has it all or nothing.
	RefundableNow int64
}

// TransactionContext computes r's TxContext from the desk's database: the
// refunds of its target and the last lookup kept. It calls no NeoX API.
func (s *Service) TransactionContext(ctx context.Context, r Refund) (TxContext, error) {
	c := TxContext{Currency: currencyOrVND(r.Currency)}
	all, err := many(s.db.RefundsOfTransaction(ctx, string(r.API), r.TransactionRef))
	if err != nil {
		return c, err
	}
	payload, at, err := s.db.CachedLookup(ctx, string(r.API), r.TransactionRef)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return c, fmt.Errorf("refunds: %w", err)
	default:
		var l Lookup
		if json.Unmarshal([]byte(payload), &l) == nil {
			if len(l.Targets) == 0 {
				l.Targets = legacyTargets(payload)
			}
			c.Known, c.CheckedAt = l.kept(r.PaymentID, &c)
			c.CheckedAt = at
		}
	}
	var sinceCheck int64
	for _, o := range all {
		if o.PaymentID != r.PaymentID {
			continue
		}
		switch {
		case o.Submission == SubSucceeded:
			c.RefundedHere += o.Amount
			c.RefundedHereN++
			if c.Known && o.FinalAt.After(c.CheckedAt) {
				sinceCheck += o.Amount
			}
		case o.reserves():
			c.InFlight += o.Amount
			c.InFlightN++
		}
	}
	if !c.Known {
		return c, nil
	}
	c.Refunded += sinceCheck
	if c.PaidOK {
		if s.whole(r.API) {
			if c.Refunded == 0 && c.InFlight == 0 {
				c.RefundableNow = c.Paid
			}
		} else {
			c.RefundableNow = Refundable(c.Paid, c.Refunded, c.InFlight)
		}
	}
	return c, nil
}

// kept fills c's NeoX figures from a kept lookup's view of the target
// (the payment paymentID, or the lookup's one target); false when the
// lookup does not hold it. Refunded is NeoX's figure at the lookup; the
// reserved amount the view subtracted is added back, so PaidOK says
// whether NeoX's state allowed a refund at all.
func (l Lookup) kept(paymentID string, c *TxContext) (bool, time.Time) {
	t, ok := l.Target(paymentID)
	if !ok {
		return false, time.Time{}
	}
	c.Paid, c.Refunded, c.PaidOK = t.Amount, t.Refunded, t.Paid
	if t.Currency != "" {
		c.Currency = currencyOrVND(t.Currency)
	}
	return true, l.FetchedAt
}

// legacyTargets reads the targets of a lookup kept before lookups listed
// them (one view per product: payments, an order, a transaction, a
// target), so refunds looked up before an upgrade keep their figures.
func legacyTargets(payload string) []TargetView {
	type figures struct {
		ID, Currency               string
		Amount, Refunded, Reserved int64
		Paid, Refundable           any // a bool on orders, an amount elsewhere
	}
	var old struct {
		Payments                   []figures
		Order, Transaction, Target *figures
	}
	if json.Unmarshal([]byte(payload), &old) != nil {
		return nil
	}
	var out []TargetView
	for _, p := range old.Payments {
		out = append(out, TargetView{ID: p.ID, Amount: p.Amount, Refunded: p.Refunded, Paid: p.Paid == true})
	}
	if o := old.Order; o != nil {
		// A whole-order view: refundable then, or held back only by a
		// request in flight here.
		out = append(out, TargetView{Currency: o.Currency, Amount: o.Amount, Paid: o.Refundable == true || o.Reserved > 0})
	}
	for _, t := range []*figures{old.Transaction, old.Target} {
		if t != nil {
			out = append(out, TargetView{Currency: t.Currency, Amount: t.Amount, Refunded: t.Refunded, Paid: t.Paid == true})
		}
	}
	return out
}

func currencyOrVND(c string) string {
	if c == "" {
		return "VND"
	}
	return c
}
