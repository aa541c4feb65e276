package refunds

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// fromRecord is the domain's view of a stored refund.
func fromRecord(r store.RefundRecord) Refund {
	return Refund{ID: r.ID, API: API(r.API), TransactionRef: r.TransactionRef, PaymentID: r.PaymentID,
		Amount: r.Amount, Currency: r.Currency, PaymentMethod: r.PaymentMethod, ReasonCode: r.ReasonCode,
		ReasonText: r.ReasonText, FeeChargeWay: r.FeeChargeWay, SubMerchantID: r.SubMerchantID,
		BankSwift: r.BankSwift, BankAccountNumber: r.BankAccountNumber, BankAccountName: r.BankAccountName,
		BankBranch: r.BankBranch, RequestedBy: r.RequestedBy, RequestedByName: r.RequestedByName,
		RequestedAt: r.RequestedAt, Approval: r.Approval, Submission: r.Submission, DecidedBy: r.DecidedBy,
		DecidedByName: r.DecidedByName, DecisionNote: r.DecisionNote, DecidedAt: r.DecidedAt,
		NeoXRefundID: r.NeoXRefundID, NeoXApprovalStatus: r.NeoXApprovalStatus, NeoXStatus: r.NeoXStatus,
		NeoXCode: r.NeoXCode, NeoXMessage: r.NeoXMessage, NeoXResponseID: r.NeoXResponseID,
		FailedReason: r.FailedReason, LastError: r.LastError, Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt, UpdatedAt: r.UpdatedAt, FinalAt: r.FinalAt, Lang: r.Lang,
		AttentionSince: r.AttentionSince, AttentionReason: r.AttentionReason, ResolvedBy: r.ResolvedBy,
		ResolvedByName: r.ResolvedByName, ResolvedAt: r.ResolvedAt, ResolutionNote: r.ResolutionNote,
		ResolutionRef: r.ResolutionRef, refundedBase: r.RefundedBase, baseAt: r.BaseAt,
		Rule: decodeRule(r.PolicyVersion, r.ApprovalsRequired, r.PolicyRule)}
}

// decodeRule reads a refund's snapshotted rule; a refund from before
// approval policies (or written without one) needs one approval.
func decodeRule(version int64, required int, body string) policy.Snapshot {
	s := policy.Snapshot{Version: version, Required: required}
	if body != "" {
		var st store.ApprovalRuleRecord
		if json.Unmarshal([]byte(body), &st) == nil {
			s.Matched, s.Rule = true, ruleFromRecord(st)
		}
	}
	if s.Required < 0 || s.Required > 2 || (s.Required == 0 && !s.Matched) {
		s.Required = 1
	}
	return s
}

// encodeRule is the stored form of a snapshot's rule: "" when no rule
// matched.
func encodeRule(s policy.Snapshot) string {
	if !s.Matched {
		return ""
	}
	b, _ := json.Marshal(ruleToRecord(s.Rule)) // plain strings and numbers: cannot fail
	return string(b)
}

func ruleFromRecord(r store.ApprovalRuleRecord) policy.Rule {
	return policy.Rule{Currency: r.Currency, API: r.API, AutoUpTo: r.AutoUpTo, DualAbove: r.DualAbove}
}

func ruleToRecord(r policy.Rule) store.ApprovalRuleRecord {
	return store.ApprovalRuleRecord{Currency: r.Currency, API: r.API, AutoUpTo: r.AutoUpTo, DualAbove: r.DualAbove}
}

func approvalsFromRecord(p store.ApprovalPolicyRecord) policy.Approvals {
	a := policy.Approvals{Version: p.Version}
	for _, r := range p.Rules {
		a.Rules = append(a.Rules, ruleFromRecord(r))
	}
	for _, l := range p.Limits {
		a.Limits = append(a.Limits, policy.Limit{UserID: l.UserID, Currency: l.Currency, UpTo: l.UpTo})
	}
	return a
}

func approvalsToRecord(a policy.Approvals) store.ApprovalPolicyRecord {
	p := store.ApprovalPolicyRecord{Version: a.Version}
	for _, r := range a.Rules {
		p.Rules = append(p.Rules, ruleToRecord(r))
	}
	for _, l := range a.Limits {
		p.Limits = append(p.Limits, store.ApproverLimit{UserID: l.UserID, Currency: l.Currency, UpTo: l.UpTo})
	}
	return p
}

func approvalFromRecord(a store.RefundApprovalRecord) Approval {
	return Approval{Step: a.Step, By: a.ApproverID, ByName: a.ApproverName, Role: policy.Role(a.ApproverRole),
		Note: a.Note, ApprovedAt: a.ApprovedAt}
}

// toRecord is the stored form of a refund.
func toRecord(r Refund) store.RefundRecord {
	return store.RefundRecord{ID: r.ID, API: string(r.API), TransactionRef: r.TransactionRef, PaymentID: r.PaymentID,
		Amount: r.Amount, Currency: r.Currency, PaymentMethod: r.PaymentMethod, ReasonCode: r.ReasonCode,
		ReasonText: r.ReasonText, FeeChargeWay: r.FeeChargeWay, SubMerchantID: r.SubMerchantID,
		BankSwift: r.BankSwift, BankAccountNumber: r.BankAccountNumber, BankAccountName: r.BankAccountName,
		BankBranch: r.BankBranch, RequestedBy: r.RequestedBy, RequestedByName: r.RequestedByName,
		RequestedAt: r.RequestedAt, Approval: r.Approval, Submission: r.Submission, DecidedBy: r.DecidedBy,
		DecidedByName: r.DecidedByName, DecisionNote: r.DecisionNote, DecidedAt: r.DecidedAt,
		NeoXRefundID: r.NeoXRefundID, NeoXApprovalStatus: r.NeoXApprovalStatus, NeoXStatus: r.NeoXStatus,
		NeoXCode: r.NeoXCode, NeoXMessage: r.NeoXMessage, NeoXResponseID: r.NeoXResponseID,
		FailedReason: r.FailedReason, LastError: r.LastError, Attempts: r.Attempts,
		NextAttemptAt: r.NextAttemptAt, UpdatedAt: r.UpdatedAt, FinalAt: r.FinalAt, Lang: r.Lang,
		AttentionSince: r.AttentionSince, AttentionReason: r.AttentionReason, ResolvedBy: r.ResolvedBy,
		ResolvedByName: r.ResolvedByName, ResolvedAt: r.ResolvedAt, ResolutionNote: r.ResolutionNote,
		ResolutionRef: r.ResolutionRef, RefundedBase: r.refundedBase, BaseAt: r.baseAt,
		PolicyVersion: r.Rule.Version, ApprovalsRequired: r.Rule.Required, PolicyRule: encodeRule(r.Rule)}
}

// one converts a store read of one refund, store.ErrNotFound becoming
// ErrNotFound.
func one(r store.RefundRecord, err error) (Refund, error) {
	if errors.Is(err, store.ErrNotFound) {
		return Refund{}, ErrNotFound
	}
	if err != nil {
		return Refund{}, fmt.Errorf("refunds: %w", err)
	}
	return fromRecord(r), nil
}

// many converts a store read of refunds.
func many(rs []store.RefundRecord, err error) ([]Refund, error) {
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	var out []Refund
	for _, r := range rs {
		out = append(out, fromRecord(r))
	}
	return out, nil
}

// changed turns a conditional write that matched nothing (another writer
// moved the refund first) into ErrConflict against cur, the state read.
func changed(ok bool, err error, cur Refund) error {
	if err != nil {
		return fmt.Errorf("refunds: %w", err)
	}
	if !ok {
		return conflict(cur)
	}
	return nil
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := store.ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("refunds: stored time %q: %w", s, err)
	}
	return t, nil
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return store.FormatTime(t)
}
