package refunds

// The approval policy in force: read for every decision and request (the
// rules live in package policy, the versions in store), changed by admins.

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ErrPolicyChanged: another admin changed the approval policy between the
// page and the save; nothing was stored.
var ErrPolicyChanged = fault.New(fault.Conflict, "the approval policy was changed by someone else")

// ApprovalPolicy is the approval policy in force (version 0: none set).
func (s *Service) ApprovalPolicy(ctx context.Context) (policy.Approvals, error) {
	p, err := s.db.ApprovalPolicy(ctx)
	if err != nil {
		return policy.Approvals{}, fmt.Errorf("refunds: %w", err)
	}
	return approvalsFromRecord(p), nil
}

// PolicyNow is the rules with the approval policy in force, for pages that
// show what a viewer may do now.
func (s *Service) PolicyNow(ctx context.Context) (policy.Policy, error) {
	a, err := s.ApprovalPolicy(ctx)
	if err != nil {
		return policy.Policy{}, err
	}
	return s.opt.Policy.With(a), nil
}

// ApprovalPolicyHistory lists the latest versions, newest first.
func (s *Service) ApprovalPolicyHistory(ctx context.Context, limit int) ([]store.ApprovalPolicyRecord, error) {
	out, err := s.db.ApprovalPolicyVersions(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	return out, nil
}

// SetApprovalPolicy stores next as a new version of the approval policy,
// provided the version in force is still base (what the admin's page
// showed), and audits it. Refunds already requested keep their snapshot.
// Errors: ErrForbidden (not an admin), *ValidationError (policy),
// ErrPolicyChanged.
func (s *Service) SetApprovalPolicy(ctx context.Context, actor Actor, base int64, next policy.Approvals) (policy.Approvals, error) {
	if err := s.permit(actor, policy.ManageApprovalPolicy); err != nil {
		return policy.Approvals{}, err
	}
	if err := next.Validate(s.products.Names()); err != nil {
		return policy.Approvals{}, invalid("policy", fault.M("policy.invalid", "the approval policy is not valid: %s", err.Error()))
	}
	next.Version = base + 1
	err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		rec := approvalsToRecord(next)
		rec.CreatedBy, rec.CreatedByName = actor.ID, actor.Name
		if err := tx.InsertApprovalPolicy(ctx, rec); errors.Is(err, store.ErrVersionTaken) {
			return ErrPolicyChanged
		} else if err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionApprovalPolicyChanged, Outcome: audit.OutcomeSuccess, TargetType: "approval_policy",
			TargetID: fmt.Sprint(next.Version), Details: map[string]any{"version": next.Version, "previous": base,
				"rules": rec.Rules, "limits": rec.Limits}})
	})
	if err != nil {
		return policy.Approvals{}, err
	}
	return next, nil
}

// candidates are the users who might approve, as the transaction sees them.
func candidates(ctx context.Context, tx *store.Tx) ([]policy.Candidate, error) {
	us, err := tx.Users(ctx)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	out := make([]policy.Candidate, 0, len(us))
	for _, u := range us {
		out = append(out, policy.Candidate{Actor: policy.Actor{ID: u.ID, Role: policy.Role(u.Role)}, Disabled: u.Disabled})
	}
	return out, nil
}

// nobodyCanApprove is the refusal of a request the people there are could
// never approve, saying why.
func nobodyCanApprove(r Refund, sf *policy.Shortfall) error {
	if sf.Required >= 2 {
		return invalid("amount", fault.M("policy.needs_two", "this refund needs two approvers other than you whose limit in %s covers the amount, and only %d can approve it: ask an admin to raise a limit or lower the two-approver threshold", r.Currency, sf.Able))
	}
	return invalid("amount", fault.M("policy.nobody", "no manager other than you may approve this amount in %s: ask an admin to raise a manager's limit", r.Currency))
}

// withApprovals loads r's approvals.
func withApprovals(ctx context.Context, list func(context.Context, string) ([]store.RefundApprovalRecord, error), r Refund) (Refund, error) {
	as, err := list(ctx, r.ID)
	if err != nil {
		return Refund{}, fmt.Errorf("refunds: %w", err)
	}
	r.Approvals = nil
	for _, a := range as {
		r.Approvals = append(r.Approvals, approvalFromRecord(a))
	}
	return r, nil
}

// ParseAmountIn reads an amount typed in currency into its minor units:
// đồng as ParseAmount does, other currencies as digits with at most their
// number of decimals ("1500", "1500.5", "1500.50" for USD; no thousands
// separators, so "1,500" is never guessed at). Errors are fault.Msg.
func ParseAmountIn(s, currency string) (int64, error) {
	if currency == "VND" {
		return ParseAmount(s)
	}
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), currency))
	if s == "" {
		return 0, fault.M("domain.01", "enter an amount")
	}
	exp := neox.CurrencyExponent(currency)
	whole, frac, dotted := strings.Cut(s, ".")
	if whole == "" || len(frac) > exp || (dotted && frac == "") || len(whole) > 15 {
		return 0, fault.M("policy.bad_amount", "write the amount in %s as digits with at most %d decimals, e.g. 1500.00", currency, exp)
	}
	var n int64
	for _, r := range whole + frac + strings.Repeat("0", exp-len(frac)) {
		if r < '0' || r > '9' {
			return 0, fault.M("policy.bad_amount", "write the amount in %s as digits with at most %d decimals, e.g. 1500.00", currency, exp)
		}
		n = n*10 + int64(r-'0')
	}
	return n, nil
}

// ParseCurrency reads an ISO 4217 code as typed ("vnd", " USD ").
func ParseCurrency(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if len(c) != 3 || strings.Trim(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" {
		return "", fault.M("policy.bad_currency", "enter a three-letter currency code such as VND or USD")
	}
	return c, nil
}
