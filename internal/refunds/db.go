package refunds

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// refundCols is the column list scanRefund reads, in order.
const refundCols = `id, api, transaction_ref, payment_id, amount, currency, payment_method,
	reason_code, reason_text, fee_charge_way, sub_merchant_id, bank_swift, bank_account_number,
	bank_account_name, bank_branch, requested_by, requested_by_name, requested_at,
	approval, decided_by, decided_by_name, decided_at, decision_note, submission,
	neox_refund_id, neox_approval_status, neox_status, neox_code, neox_message, neox_response_id,
	failed_reason, neox_refunded_base, neox_base_at, attempts, last_error, next_attempt_at, updated_at, final_at,
	lang, attention_since, attention_reason, resolved_by, resolved_by_name, resolved_at, resolution_note,
	resolution_ref`

type scanner interface{ Scan(dest ...any) error }

func scanRefund(sc scanner) (Refund, error) {
	var r Refund
	var api, reqAt, decAt, baseAt, next, upd, fin, attn, resAt string
	err := sc.Scan(&r.ID, &api, &r.TransactionRef, &r.PaymentID, &r.Amount, &r.Currency, &r.PaymentMethod,
		&r.ReasonCode, &r.ReasonText, &r.FeeChargeWay, &r.SubMerchantID, &r.BankSwift, &r.BankAccountNumber,
		&r.BankAccountName, &r.BankBranch, &r.RequestedBy, &r.RequestedByName, &reqAt,
		&r.Approval, &r.DecidedBy, &r.DecidedByName, &decAt, &r.DecisionNote, &r.Submission,
		&r.NeoXRefundID, &r.NeoXApprovalStatus, &r.NeoXStatus, &r.NeoXCode, &r.NeoXMessage, &r.NeoXResponseID,
		&r.FailedReason, &r.refundedBase, &baseAt, &r.Attempts, &r.LastError, &next, &upd, &fin,
		&r.Lang, &attn, &r.AttentionReason, &r.ResolvedBy, &r.ResolvedByName, &resAt, &r.ResolutionNote,
		&r.ResolutionRef)
	if err != nil {
		return Refund{}, err
	}
	r.API = API(api)
	for _, p := range []struct {
		s string
		t *time.Time
	}{{reqAt, &r.RequestedAt}, {decAt, &r.DecidedAt}, {baseAt, &r.baseAt}, {next, &r.NextAttemptAt},
		{upd, &r.UpdatedAt}, {fin, &r.FinalAt}, {attn, &r.AttentionSince}, {resAt, &r.ResolvedAt}} {
		if *p.t, err = parseTime(p.s); err != nil {
			return Refund{}, err
		}
	}
	return r, nil
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

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// getRefund reads one refund through q (the read pool or a write tx).
func getRefund(ctx context.Context, q querier, id string) (Refund, error) {
	r, err := scanRefund(q.QueryRowContext(ctx, `SELECT `+refundCols+` FROM refunds WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Refund{}, ErrNotFound
	}
	if err != nil {
		return Refund{}, fmt.Errorf("refunds: read %s: %w", id, err)
	}
	return r, nil
}

// queryRefunds runs a SELECT of refundCols and collects the rows (closed
// before returning, so the caller may write next on the same connection).
func queryRefunds(ctx context.Context, q querier, where string, args ...any) ([]Refund, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+refundCols+` FROM refunds `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("refunds: query: %w", err)
	}
	defer rows.Close()
	var out []Refund
	for rows.Next() {
		r, err := scanRefund(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// reservedHere sums the amounts still reserved by refunds of the same
// target (PG: same payment; GC/COL: same transaction), except excludeID.
func reservedHere(ctx context.Context, q querier, api API, ref, paymentID, excludeID string) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, `SELECT coalesce(sum(amount), 0) FROM refunds
		WHERE api = ? AND transaction_ref = ? AND payment_id = ? AND id <> ?
		  AND approval IN ('PENDING', 'APPROVED') AND submission NOT IN ('SUCCEEDED', 'FAILED')`,
		string(api), ref, paymentID, excludeID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("refunds: sum reserved: %w", err)
	}
	return n, nil
}
