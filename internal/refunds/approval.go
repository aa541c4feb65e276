package refunds

// The in-house decision on a refund request (maker–checker), mirroring
// COL's PENDING → APPROVED | REJECTED, plus the maker's cancellation.

import (
	"context"
	"fmt"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Approve gives a pending refund one approval. When that completes what
// its snapshotted rule needs (one approval, or the second of two from
// another approver) the refund is APPROVED and queued for sending; else it
// stays PENDING with the approval recorded. The approver's limit is the
// approval policy's in force at the decision, read inside the transaction
// that records it. Errors: ErrForbidden (not a manager), ErrNotFound,
// ErrSelfApproval, ErrOverLimit, ErrSameApprover, ErrConflict (no longer
// pending: lost a race or decided already), *ValidationError (the amount is
// no longer refundable), wrapped NeoX errors.
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
	note = strings.TrimSpace(note)
	sent := false
	var was Refund // as the transaction leaves it
	err = s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		cur, err := one(tx.Refund(ctx, id))
		if err != nil {
			return err
		}
		if cur, err = withApprovals(ctx, tx.RefundApprovals, cur); err != nil {
			return err
		}
		was = cur
		rec, err := tx.ApprovalPolicy(ctx)
		if err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
		if err := s.allowUnder(s.opt.Policy.With(approvalsFromRecord(rec)), actor, policy.Approve, cur); err != nil {
			return err
		}
		reserved, err := reservedFor(ctx, tx, cur, cur.ID)
		if err != nil {
			return err
		}
		if v := t.checkRefundable(cur.Amount, reserved); v != nil {
			return v
		}
		step := len(cur.Approvals) + 1
		ok, err := tx.InsertRefundApproval(ctx, store.RefundApprovalRecord{RefundID: id, Step: step,
			ApproverID: actor.ID, ApproverName: actor.Name, ApproverRole: string(actor.Role), Note: note})
		if err := changed(ok, err, cur); err != nil {
			return err
		}
		details := map[string]any{"amount": cur.Amount, "api": string(cur.API), "note": note,
			"step": step, "of": max(cur.Rule.Required, 1), "policy_version": rec.Version}
		if step < cur.Rule.Required {
			// The first of two: pending until someone else gives the second.
			return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
				Action: audit.ActionRefundApprovalGiven, Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: id,
				Details: details})
		}
		ok, err = tx.ApproveRefund(ctx, id, store.Decision{By: actor.ID, ByName: actor.Name, Note: note})
		if err := changed(ok, err, cur); err != nil {
			return err
		}
		sent = true
		was.Approval, was.Submission = ApprovalApproved, SubQueued
		details["submission"] = SubQueued
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionRefundApproved, Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: id,
			Details: details})
	})
	if err != nil {
		return Refund{}, err
	}
	if sent {
		s.nudge()
	}
	return s.committed(ctx, was), nil
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
	var was Refund
	err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		cur, err := one(tx.Refund(ctx, id))
		if err != nil {
			return err
		}
		was = cur
		was.Approval = to
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
	return s.committed(ctx, was), nil
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
	p := s.opt.Policy
	if action == policy.Approve {
		// The limits in force now, so a refund above one is refused before
		// NeoX is asked; the transaction asks again.
		if p, err = s.PolicyNow(ctx); err != nil {
			return Refund{}, err
		}
	}
	if err := s.allowUnder(p, actor, action, r); err != nil {
		return Refund{}, err
	}
	return r, nil
}

// BulkResult is what happened to one refund of a bulk approval.
type BulkResult struct {
	ID      string
	Refund  Refund // the refund after the approval (zero when Err is set)
	Err     error
	Partial bool // one of two approvals recorded: the refund still waits for another approver
}

// ApproveEach approves each id in turn (no note) under every rule that
// applies to it, one at a time as Approve, and reports each outcome.
func (s *Service) ApproveEach(ctx context.Context, actor Actor, ids []string) []BulkResult {
	out := make([]BulkResult, 0, len(ids))
	for _, id := range ids {
		r, err := s.Approve(ctx, actor, id, "")
		out = append(out, BulkResult{ID: id, Refund: r, Err: err, Partial: err == nil && r.Approval == ApprovalPending})
	}
	return out
}

// ApproveMany approves each id in turn (no note); ids that fail are in
// errs, ids that got an approval (complete or the first of two) in
// approved.
func (s *Service) ApproveMany(ctx context.Context, actor Actor, ids []string) (approved []string, errs map[string]error) {
	errs = map[string]error{}
	for _, res := range s.ApproveEach(ctx, actor, ids) {
		if res.Err != nil {
			errs[res.ID] = res.Err
			continue
		}
		approved = append(approved, res.ID)
	}
	return approved, errs
}
