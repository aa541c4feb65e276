package refunds

// Needs attention: no refund waits forever. GC has no refund query, so a
// failed GC refund whose webhook is lost would stay PROCESSING for ever;
// PG polling can confirm success (refundedAmount) but never failure; an
// unknown outcome can survive every retry. The worker hands such refunds to
// a person (the "manual review" of Hyperswitch): a manager reads the
// outcome in NeoX's portal and settles the refund with a note and NeoX's
// reference, audited as a manual decision.
//
// Decisions:
//   - The clock starts at approval (decided_at): what the merchant's
//     customer waits on is approval → money back, whatever the reason.
//   - Only refunds NeoX has or may have (PROCESSING, UNKNOWN) are flagged. A
//     QUEUED refund was never sent: a person cannot settle it from NeoX's
//     portal, and the outage notice already says why it waits.
//   - Flagging never changes the submission state. The worker keeps polling
//     PROCESSING refunds and retrying UNKNOWN ones with the same request id
//     (NeoX de-duplicates on it, so a resend is always safe): a genuine
//     answer still settles a flagged refund and takes it off the queue.
//   - A resolution needs the refund flagged and not mid-call (SENDING); it
//     is one conditional UPDATE, so a resolution racing a webhook, a poll or
//     another manager yields exactly one final state.

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Reasons a refund needs attention.
const (
	AttentionNoFinalAnswer       = "no_final_answer"       // no final answer within the product's threshold
	AttentionUnknownAfterRetries = "unknown_after_retries" // still UNKNOWN after Options.UnknownAttempts sends
)

// DefaultAttentionAfter is how long after approval a refund of a NeoX
// product without a final answer needs a person (see each product's
// AttentionAfter for why); 72h for a product the desk does not know.
func DefaultAttentionAfter(api API) time.Duration {
	if p := neoxProduct(api); p != nil {
		return p.AttentionAfter()
	}
	return 72 * time.Hour
}

// DefaultUnknownAttempts is how many sends may end with an unknown outcome
// before a person looks (with the default backoff, 2 s doubling to 5 min:
// about 20 minutes of NeoX not answering for this refund).
const DefaultUnknownAttempts = 10

// NeedsAttention reports whether the refund is in the needs-attention
// queue: flagged and not final yet.
func (r Refund) NeedsAttention() bool { return !r.AttentionSince.IsZero() && !r.Final() }

// ResolvedManually reports whether a manager set the final state.
func (r Refund) ResolvedManually() bool { return !r.ResolvedAt.IsZero() }

// attentionCheckEvery bounds the wait between two checks when nothing is
// due sooner (new approvals also trigger one through the wake channel).
func (s *Service) attentionCheckEvery() time.Duration { return s.opt.PollInterval }

// markAttention flags every refund that has waited too long, each in its
// own transaction with its audit event, and returns when the next one
// becomes due (zero: none is waiting).
func (s *Service) markAttention(ctx context.Context) (time.Time, error) {
	now := s.now()
	var next time.Time
	for _, name := range s.products.Names() {
		api := API(name)
		after := s.opt.AttentionAfter[api]
		due, err := many(s.db.AttentionDue(ctx, string(api), now.Add(-after), s.opt.UnknownAttempts, 200))
		if err != nil {
			return time.Time{}, err
		}
		for _, r := range due {
			reason := AttentionNoFinalAnswer
			if r.Submission == SubUnknown && r.Attempts >= s.opt.UnknownAttempts {
				reason = AttentionUnknownAfterRetries
			}
			if err := s.flag(ctx, r, reason); err != nil {
				return time.Time{}, err
			}
		}
		t, err := s.db.OldestUnflagged(ctx, string(api))
		if err != nil {
			return time.Time{}, fmt.Errorf("refunds: %w", err)
		}
		if !t.IsZero() {
			if at := t.Add(after); next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	return next, nil
}

// flag moves one refund into needs attention, unless something moved it
// first (the UPDATE is conditional on the state read).
func (s *Service) flag(ctx context.Context, r Refund, reason string) error {
	now := s.now()
	return s.db.TxAt(ctx, now, func(tx *store.Tx) error {
		ok, err := tx.FlagAttention(ctx, r.ID, r.Submission, reason)
		if err != nil || !ok {
			return err // not flagged: moved on meanwhile, nothing to do
		}
		s.log.Warn("refund needs attention", "refund", r.ID, "api", r.API, "reason", reason, "submission", r.Submission)
		d := map[string]any{"api": string(r.API), "reason": reason, "submission": r.Submission, "attempts": r.Attempts,
			"waited_s": int64(now.Sub(r.DecidedAt).Seconds()), "threshold": s.opt.AttentionAfter[r.API].String()}
		for k, v := range map[string]string{"neox_refund_id": r.NeoXRefundID, "neox_status": r.NeoXStatus,
			"last_error": truncate(r.LastError, 300)} {
			if v != "" {
				d[k] = v
			}
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorName: "system", Action: audit.ActionRefundNeedsAttention,
			Outcome: audit.OutcomeUnknown, TargetType: "refund", TargetID: r.ID, Details: d})
	})
}

// maxAttentionRows bounds the queue page; the count says when there are more.
const maxAttentionRows = 500

// Attention is the needs-attention queue, longest waiting first.
func (s *Service) Attention(ctx context.Context) ([]Refund, error) {
	return many(s.db.AttentionQueue(ctx, maxAttentionRows))
}

// AttentionCount is how many refunds are in the queue.
func (s *Service) AttentionCount(ctx context.Context) (int, error) {
	return s.db.AttentionCount(ctx)
}

// Resolution is a manager's settlement of a refund from NeoX's portal.
type Resolution struct {
	Outcome string // SUCCEEDED | FAILED
	Note    string // what the manager saw; required
	Ref     string // NeoX's reference for the refund; required
}

// Limits of a resolution's fields.
const (
	MaxResolutionNote = 1000
	MaxResolutionRef  = 100
)

func (res *Resolution) check() *ValidationError {
	res.Outcome, res.Note, res.Ref = strings.TrimSpace(res.Outcome), strings.TrimSpace(res.Note), strings.TrimSpace(res.Ref)
	v := &ValidationError{Fields: fault.Fields{}}
	if res.Outcome != SubSucceeded && res.Outcome != SubFailed {
		v.Fields["outcome"] = fault.M("domain.54", "choose what NeoX's portal shows: succeeded or failed")
	}
	switch {
	case res.Note == "":
		v.Fields["note"] = fault.M("domain.55", "write what NeoX's portal shows and where you saw it")
	case !utf8.ValidString(res.Note) || utf8.RuneCountInString(res.Note) > MaxResolutionNote:
		v.Fields["note"] = fault.M("domain.56", "keep the note under 1000 characters")
	}
	switch {
	case res.Ref == "":
		v.Fields["ref"] = fault.M("domain.57", "enter NeoX's reference for this refund")
	case !utf8.ValidString(res.Ref) || utf8.RuneCountInString(res.Ref) > MaxResolutionRef:
		v.Fields["ref"] = fault.M("domain.58", "keep the reference under 100 characters")
	case strings.IndexFunc(res.Ref, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) && r != ' ' }) >= 0:
		v.Fields["ref"] = fault.M("domain.59", "the reference must be on one line")
	}
	if len(v.Fields) == 0 {
		return nil
	}
	return v
}

// Resolve settles a refund in needs attention with the outcome a manager
// read in NeoX's portal. Errors: ErrForbidden (not a manager), ErrNotFound,
// *ValidationError (fields outcome, note, ref; nothing changes),
// ErrConflict (not in needs attention, final already, or mid-call: a
// webhook, a poll or another manager got there first).
func (s *Service) Resolve(ctx context.Context, actor Actor, id string, res Resolution) (Refund, error) {
	if err := s.permit(actor, policy.Resolve); err != nil {
		return Refund{}, err
	}
	if _, err := s.Get(ctx, id); err != nil {
		return Refund{}, err
	}
	if v := res.check(); v != nil {
		return Refund{}, v
	}
	err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		cur, err := one(tx.Refund(ctx, id))
		if err != nil {
			return err
		}
		if err := s.allow(actor, policy.Resolve, cur); err != nil {
			return err
		}
		ok, err := tx.ResolveRefund(ctx, id, cur.Submission, store.Resolution{Outcome: res.Outcome, By: actor.ID,
			ByName: actor.Name, Note: res.Note, Ref: res.Ref})
		if err := changed(ok, err, cur); err != nil {
			return err
		}
		outcome := audit.OutcomeSuccess
		if res.Outcome == SubFailed {
			outcome = audit.OutcomeFailure
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionRefundResolved, Outcome: outcome, TargetType: "refund", TargetID: id,
			Details: map[string]any{"api": string(cur.API), "from": cur.Submission, "to": res.Outcome, "manual": true,
				"note": res.Note, "neox_ref": res.Ref, "reason": cur.AttentionReason, "amount": cur.Amount}})
	})
	if err != nil {
		return Refund{}, err
	}
	return s.Get(ctx, id)
}
