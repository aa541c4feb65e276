package refunds

// The in-house decision on a refund request (maker–checker), mirroring
// COL's PENDING → APPROVED | REJECTED, plus the maker's cancellation.

import (
	"context"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Approve approves a pending refund and queues it for sending. Errors:
// ErrForbidden (not a manager), ErrNotFound, ErrSelfApproval, ErrConflict
// (no longer pending: lost a race or decided already), *ValidationError
// (the amount is no longer refundable), wrapped NeoX errors.
func (s *Service) Approve(ctx context.Context, actor Actor, id, note string) (Refund, error) {
	if msg := textProblem(note); !msg.IsZero() {
		return Refund{}, invalid("note", msg)
	}
	r, err := s.guardDecision(ctx, actor, policy.Approve, id)
	if err != nil {
		return Refund{}, err
	}
	// Live numbers before the transaction; the reservation check is inside it.
	t, err := s.fetchTarget(ctx, actor.Lang, r.API, r.TransactionRef, r.PaymentID, r.SubMerchantID)
	if err != nil {
		return Refund{}, err
	}
	err = s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		cur, err := one(tx.Refund(ctx, id))
		if err != nil {
			return err
		}
		if err := s.allow(actor, policy.Approve, cur); err != nil {
			return err
		}
		reserved, err := reservedFor(ctx, tx, cur, cur.ID)
		if err != nil {
			return err
		}
		if v := t.checkRefundable(cur.Amount, reserved); v != nil {
			return v
		}
		ok, err := tx.ApproveRefund(ctx, id, store.Decision{By: actor.ID, ByName: actor.Name, Note: strings.TrimSpace(note)})
		if err := changed(ok, err, cur); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionRefundApproved, Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: id,
			Details: map[string]any{"amount": cur.Amount, "api": string(cur.API), "note": strings.TrimSpace(note),
				"submission": SubQueued}})
	})
	if err != nil {
		return Refund{}, err
	}
	s.nudge()
	return s.Get(ctx, id)
}

// Reject refuses a pending refund; a note is required. Errors as Approve.
func (s *Service) Reject(ctx context.Context, actor Actor, id, note string) (Refund, error) {
	note = strings.TrimSpace(note)
	if _, err := s.guardDecision(ctx, actor, policy.Reject, id); err != nil {
		return Refund{}, err
	}
	if msg := textProblem(note); !msg.IsZero() {
		return Refund{}, invalid("note", msg)
	}
	if note == "" {
		return Refund{}, invalid("note", fault.M("domain.12", "say why the refund is rejected"))
	}
	return s.decide(ctx, actor, id, ApprovalRejected, note, audit.ActionRefundRejected)
}

// Cancel withdraws a pending refund; only its maker may (and only staff
// and managers, who make refunds). Errors: ErrNotFound, ErrForbidden (not
// the maker), ErrConflict (not pending).
func (s *Service) Cancel(ctx context.Context, actor Actor, id string) (Refund, error) {
	r, err := s.Get(ctx, id)
	if err != nil {
		return Refund{}, err
	}
	if err := s.allow(actor, policy.Cancel, r); err != nil {
		return Refund{}, err
	}
	return s.decide(ctx, actor, id, ApprovalCancelled, "", audit.ActionRefundCancelled)
}

func (s *Service) decide(ctx context.Context, actor Actor, id, to, note, action string) (Refund, error) {
	err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		cur, err := one(tx.Refund(ctx, id))
		if err != nil {
			return err
		}
		ok, err := tx.CloseRefund(ctx, id, to, store.Decision{By: actor.ID, ByName: actor.Name, Note: note})
		if err := changed(ok, err, cur); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: action, Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: id,
			Details: map[string]any{"note": note, "amount": cur.Amount}})
	})
	if err != nil {
		return Refund{}, err
	}
	return s.Get(ctx, id)
}

// guardDecision applies the checks shared by Approve and Reject: the
// role first (even for a refund that does not exist), then the policy on
// the refund (not the maker's, still pending).
func (s *Service) guardDecision(ctx context.Context, actor Actor, action policy.Action, id string) (Refund, error) {
	if err := s.permit(actor, action); err != nil {
		return Refund{}, err
	}
	r, err := s.Get(ctx, id)
	if err != nil {
		return Refund{}, err
	}
	if err := s.allow(actor, action, r); err != nil {
		return Refund{}, err
	}
	return r, nil
}

// ApproveMany approves each id in turn (no note); ids that fail are in errs.
func (s *Service) ApproveMany(ctx context.Context, actor Actor, ids []string) (approved []string, errs map[string]error) {
	errs = map[string]error{}
	for _, id := range ids {
		if _, err := s.Approve(ctx, actor, id, ""); err != nil {
			errs[id] = err
			continue
		}
		approved = append(approved, id)
	}
	return approved, errs
}
