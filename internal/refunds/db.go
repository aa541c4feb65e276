package refunds

import (
	"errors"
	"fmt"
	"time"

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
		ResolutionRef: r.ResolutionRef, refundedBase: r.RefundedBase, baseAt: r.BaseAt}
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
		ResolutionRef: r.ResolutionRef, RefundedBase: r.refundedBase, BaseAt: r.baseAt}
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
