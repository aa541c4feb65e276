package refunds

// Who may do what to a refund is package policy's answer; the domain asks
// it again before changing anything (the route and the page asked first),
// and turns its refusals into the Service's errors.

import (
	"errors"
	"fmt"

	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// Subject is the refund as the policy reads it.
func (r Refund) Subject() policy.Subject {
	s := policy.Subject{RequestedBy: r.RequestedBy, Approval: r.Approval, Submission: r.Submission,
		NeedsAttention: r.NeedsAttention(), API: string(r.API), Amount: r.Amount, Currency: r.Currency,
		Required: r.Rule.Required}
	for _, a := range r.Approvals {
		s.ApprovedBy = append(s.ApprovedBy, a.By)
	}
	return s
}

// Policy is the actor as the policy reads it.
func (a Actor) Policy() policy.Actor { return policy.Actor{ID: a.ID, Role: a.Role, Scopes: a.Scopes} }

// Policy returns the rules this service applies, for the pages to ask the
// same ones.
func (s *Service) Policy() policy.Policy { return s.opt.Policy }

// permit is the first check, before the refund is read: whether the
// actor's role may do action at all. Errors: ErrForbidden.
func (s *Service) permit(actor Actor, action policy.Action) error {
	if !s.opt.Policy.Permits(actor.Policy(), action) {
		return fmt.Errorf("%w: %w", ErrForbidden, &policy.Denial{Action: action, Role: actor.Role, Reason: policy.ReasonRole})
	}
	return nil
}

// allow says whether actor may do action to r now under the rules
// without approval policy (see allowUnder).
func (s *Service) allow(actor Actor, action policy.Action, r Refund) error {
	return s.allowUnder(s.opt.Policy, actor, action, r)
}

// allowUnder says whether actor may do action to r under p. Errors:
// ErrSelfApproval, ErrOverLimit, ErrSameApprover, ErrForbidden (each
// wrapping the *policy.Denial with its reason), ErrConflict (r's state
// does not allow it).
func (s *Service) allowUnder(p policy.Policy, actor Actor, action policy.Action, r Refund) error {
	err := p.Decide(actor.Policy(), action, r.Subject())
	var d *policy.Denial
	switch {
	case err == nil:
		return nil
	case !errors.As(err, &d):
		return err
	case d.Reason == policy.ReasonState:
		return conflict(r)
	case d.Reason == policy.ReasonSelf:
		return fmt.Errorf("%w: %w", ErrSelfApproval, err)
	case d.Reason == policy.ReasonLimit:
		return fmt.Errorf("%w: %w", ErrOverLimit, err)
	case d.Reason == policy.ReasonSecond:
		return fmt.Errorf("%w: %w", ErrSameApprover, err)
	}
	return fmt.Errorf("%w: %w", ErrForbidden, err)
}
