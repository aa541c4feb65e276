package refunds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// What happened to a webhook delivery.
const (
	HookApplied       = "applied"        // the refund was updated (or confirmed in its state)
	HookDuplicate     = "duplicate"      // the same event arrived before: nothing changed
	HookStale         = "stale"          // older than what we know (out of order, or after a final state)
	HookUnknownRefund = "unknown_refund" // no refund here matches: stored for review
	HookSuspicious    = "suspicious"     // signed, but disagrees with the refund it names: refused, kept for review
	HookContradicts   = "contradicts"    // contradicts a manager's manual resolution: kept and flagged
)

// Why a delivery was found suspicious (WebhookEvent.Reason).
const (
	ReasonAPI          = "api"                        // the refund went through another NeoX product
	ReasonTarget       = product.MismatchTarget       // another payment, collection order or transaction
	ReasonAmount       = product.MismatchAmount       // another amount
	ReasonCurrency     = product.MismatchCurrency     // another currency
	ReasonNeoXRefundID = product.MismatchNeoXRefundID // another NeoX refund id than the one NeoX gave us
	ReasonNotSent      = "not_sent"                   // the desk never sent this refund to NeoX
)

// WebhookResult says which refund a delivery concerned and what it did.
type WebhookResult struct {
	RefundID string // "" for an unknown refund
	Applied  string // one of the Hook… values
	Reason   string // for HookSuspicious: one of the Reason… values
}

// Refused reports whether NeoX should be told the delivery was not
// accepted: it is signed, but the desk does not trust what it says.
func (r WebhookResult) Refused() bool { return r.Applied == HookSuspicious }

// A notification proves only what it signs, and NeoX signs values
// concatenated without separators. So a verified notification is matched
// to a refund by its id and then cross-checked against what the desk
// stored for that refund: the product, the payment / collection order /
// transaction, the amount and currency, and NeoX's refund id once known.
// A mismatch is refused and kept for review (HookSuspicious), as is any
// notification about a refund the desk has not sent: NeoX cannot know it.

// ApplyEvent applies a verified delivery of product api, as the product
// read it; raw is the body as received (stored with account numbers
// masked).
func (s *Service) ApplyEvent(ctx context.Context, api API, ev product.Event, raw []byte) (WebhookResult, error) {
	return s.applyHook(ctx, hookOf(api, ev, raw))
}

// hookOf is the delivery as the workflow handles it.
func hookOf(api API, ev product.Event, raw []byte) hook {
	h := hook{api: api, key: dedupeKey(ev.Signed...), ref: ev.Ref, status: ev.Status, raw: raw, held: ev.Held,
		details: ev.Details,
		find:    func(ctx context.Context, tx *store.Tx) (Refund, error) { return one(tx.Refund(ctx, ev.Ref)) },
		check: func(r Refund) string {
			if ev.Check == nil {
				return ""
			}
			return ev.Check(productRefund(r))
		},
		observe: func(r Refund) observation {
			if ev.Observe == nil {
				return observation{}
			}
			return observe(ev.Observe(productRefund(r)))
		}}
	if ev.ByNeoXID {
		h.find = func(ctx context.Context, tx *store.Tx) (Refund, error) { return one(tx.RefundByNeoXID(ctx, ev.Ref)) }
	}
	if h.details == nil {
		h.details = map[string]any{}
	}
	return h
}

// adoptHeld applies, in arrival order, the events of r's product kept as
// unknown_refund because they named a NeoX refund id before NeoX's answer
// to the refund request told the desk that id (the webhook often beats the
// answer, or the answer was lost and a resend brought it). Each is judged
// as if it arrived now: cross-checked, forward only. Called inside the
// transaction that recorded the id, for a product that keeps such events
// (product.Replayer).
func (s *Service) adoptHeld(ctx context.Context, tx *store.Tx, api API, rp product.Replayer, refundID, neoxID string) error {
	held, err := tx.HeldEvents(ctx, string(api), neoxID)
	if err != nil {
		return fmt.Errorf("refunds: %w", err)
	}
	for _, row := range held {
		ev, err := rp.Replay(row.Event)
		if err != nil {
			return fmt.Errorf("refunds: held %s event %d: %w", api, row.ID, err)
		}
		h := hookOf(api, ev, nil)
		r, err := one(tx.Refund(ctx, refundID))
		if err != nil {
			return err
		}
		res := WebhookResult{RefundID: r.ID}
		var ob observation
		res.Applied, res.Reason, ob = verdict(h, r)
		if res.Applied == HookApplied {
			if _, err := s.advance(ctx, tx, r, ob, "neox", "webhook (held until NeoX's answer gave its id)"); err != nil {
				return err
			}
		}
		if err := tx.SettleHeldWebhook(ctx, row.ID, r.ID, res.Applied, res.Reason); err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
		h.details["held_event"] = row.ID
		if err := s.auditHook(ctx, tx, h, res); err != nil {
			return err
		}
	}
	return nil
}

type hook struct {
	api     API
	key     string
	ref     string // the id the event carried
	status  string
	raw     []byte
	held    string // the verified event as JSON, kept while no refund matches it (GC)
	find    func(context.Context, *store.Tx) (Refund, error)
	check   func(Refund) string // the Reason… a product-specific field disagrees with, or ""
	observe func(Refund) observation
	details map[string]any
}

// dedupeKey identifies an event by every value it signs but its creation
// time, with each value's length, so a redelivery with reordered fields or
// another createdAt is a duplicate, while an event re-cut by moving bytes
// between fields never shares a key with the genuine one (and so cannot
// make the genuine one look like a duplicate).
func dedupeKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s|", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// verdict decides what a delivery may do to the refund it names.
func verdict(h hook, r Refund) (applied, reason string, ob observation) {
	if r.API != h.api {
		return HookSuspicious, ReasonAPI, ob
	}
	if reason := h.check(r); reason != "" {
		return HookSuspicious, reason, ob
	}
	if r.Approval == ApprovalPending || r.Submission == SubNotSent || r.Submission == SubQueued {
		return HookSuspicious, ReasonNotSent, ob
	}
	ob = h.observe(r)
	switch {
	case !r.ResolvedAt.IsZero() && isFinalSub(ob.to) && ob.to != r.Submission:
		// NeoX's word against a manager's: neither silently applied nor
		// dropped, but kept and shown to managers.
		return HookContradicts, "", ob
	case r.Approval != ApprovalApproved || isFinalSub(r.Submission):
		return HookStale, "", ob
	case ob.to != "" && (forward(r.Submission, ob.to) || ob.to == r.Submission):
		return HookApplied, "", ob
	}
	return HookStale, "", ob
}

// applyHook dedupes, stores and applies one delivery in one transaction.
func (s *Service) applyHook(ctx context.Context, h hook) (WebhookResult, error) {
	var res WebhookResult
	// Urgent: NeoX waits for the answer with a short timeout and retries,
	// so a delivery goes before the pages' writes waiting for the writer.
	err := s.db.UrgentTxAt(ctx, s.now(), func(tx *store.Tx) error {
		res = WebhookResult{}
		seen, err := tx.WebhookByKey(ctx, h.key)
		switch {
		case err == nil:
			res.RefundID, res.Applied, res.Reason = seen.RefundID, seen.Applied, seen.Reason
			if !res.Refused() {
				res.Applied, res.Reason = HookDuplicate, ""
			}
			if err := tx.CountRedelivery(ctx, seen.ID); err != nil {
				return fmt.Errorf("refunds: %w", err)
			}
			return s.auditHook(ctx, tx, h, res)
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("refunds: %w", err)
		}

		r, err := h.find(ctx, tx)
		switch {
		case errors.Is(err, ErrNotFound):
			res.Applied = HookUnknownRefund
		case err != nil:
			return err
		default:
			res.RefundID = r.ID
			var ob observation
			res.Applied, res.Reason, ob = verdict(h, r)
			if res.Applied == HookApplied {
				if _, err := s.advance(ctx, tx, r, ob, "neox", "webhook"); err != nil {
					return err
				}
			}
		}
		heldEvent := ""
		if res.RefundID == "" {
			heldEvent = h.held
		}
		if err := tx.InsertWebhook(ctx, store.NewWebhook{API: string(h.api), DedupeKey: h.key, RefundID: res.RefundID,
			EventRef: h.ref, EventStatus: h.status, Applied: res.Applied, Reason: res.Reason, RawBody: maskBody(h.raw),
			Event: heldEvent}); err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
		return s.auditHook(ctx, tx, h, res)
	})
	if err != nil {
		return WebhookResult{}, err
	}
	switch res.Applied {
	case HookUnknownRefund:
		s.log.Warn("refunds: webhook for an unknown refund", "api", h.api, "ref", h.ref, "status", h.status)
	case HookSuspicious:
		s.log.Warn("refunds: suspicious webhook refused", "api", h.api, "ref", h.ref, "refund", res.RefundID,
			"status", h.status, "reason", res.Reason)
	case HookContradicts:
		s.log.Warn("refunds: NeoX contradicts a manual resolution", "api", h.api, "refund", res.RefundID, "status", h.status)
	}
	return res, nil
}

func (s *Service) auditHook(ctx context.Context, tx *store.Tx, h hook, res WebhookResult) error {
	d := map[string]any{"api": string(h.api), "applied": res.Applied, "event_ref": h.ref, "event_status": h.status,
		"verified": true}
	if res.Reason != "" {
		d["reason"] = res.Reason
	}
	for k, v := range h.details {
		d[k] = v
	}
	e := audit.Event{ActorName: "neox", Action: audit.ActionWebhookReceived, Outcome: audit.OutcomeSuccess,
		TargetType: "refund", TargetID: res.RefundID, Details: d}
	switch {
	case res.Refused():
		e.Outcome = audit.OutcomeDenied
	case res.Applied == HookContradicts:
		e.Outcome = audit.OutcomeFailure
	case res.RefundID == "":
		e.Outcome, e.TargetType, e.TargetID = audit.OutcomeUnknown, "webhook", h.ref
	}
	return s.rec.Record(ctx, tx, e)
}

// accountField matches JSON string members whose key names an account
// number or the PG receiver blob, so their values can be masked.
var accountField = regexp.MustCompile(`(?i)("[a-z_]*(?:accountnumber|account_number|receiver)"\s*:\s*")([^"]*)(")`)

// maskBody masks bank account numbers in a raw webhook body, keeping the
// rest byte for byte.
func maskBody(raw []byte) string {
	return accountField.ReplaceAllStringFunc(string(raw), func(m string) string {
		p := accountField.FindStringSubmatch(m)
		return p[1] + maskAccount(p[2]) + p[3]
	})
}
