package store

// The approval policy's versions (migration 0020) and the approvals each
// refund received. Package policy decides; these are the statements.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// ApprovalPolicyRecord is one version of the approval policy.
type ApprovalPolicyRecord struct {
	Version       int64                `json:"-"`
	Rules         []ApprovalRuleRecord `json:"rules"`
	Limits        []ApproverLimit      `json:"limits"`
	CreatedAt     time.Time            `json:"-"`
	CreatedBy     int64                `json:"-"`
	CreatedByName string               `json:"-"`
}

// ApprovalRuleRecord is one rule as stored (policy.Rule).
type ApprovalRuleRecord struct {
	Currency  string `json:"currency"`
	API       string `json:"api,omitempty"`
	AutoUpTo  int64  `json:"auto_up_to,omitempty"`
	DualAbove int64  `json:"dual_above,omitempty"`
}

// ApproverLimit is one approver's limit in one currency (policy.Limit).
type ApproverLimit struct {
	UserID   int64  `json:"user_id"`
	Currency string `json:"currency"`
	UpTo     int64  `json:"up_to"`
}

// ErrVersionTaken: InsertApprovalPolicy lost a race to another change.
var ErrVersionTaken = errors.New("store: approval policy version already taken")

type policyQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

const policyCols = `version, body, created_at, created_by, created_by_name`

func policyScan(sc interface{ Scan(...any) error }) (ApprovalPolicyRecord, error) {
	var p ApprovalPolicyRecord
	var body, at string
	if err := sc.Scan(&p.Version, &body, &at, &p.CreatedBy, &p.CreatedByName); err != nil {
		return ApprovalPolicyRecord{}, err
	}
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return ApprovalPolicyRecord{}, fmt.Errorf("store: approval policy %d: %w", p.Version, err)
	}
	var err error
	if p.CreatedAt, err = ParseTime(at); err != nil {
		return ApprovalPolicyRecord{}, fmt.Errorf("store: approval policy %d: %w", p.Version, err)
	}
	return p, nil
}

func approvalPolicy(ctx context.Context, q policyQuerier) (ApprovalPolicyRecord, error) {
	p, err := policyScan(q.QueryRowContext(ctx, `SELECT `+policyCols+` FROM approval_policy_versions
		ORDER BY version DESC LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return ApprovalPolicyRecord{}, nil // version 0: never configured
	}
	if err != nil {
		return ApprovalPolicyRecord{}, fmt.Errorf("store: approval policy: %w", err)
	}
	return p, nil
}

// ApprovalPolicy is the policy in force (the highest version); version 0
// and no rules when none was ever stored.
func (db *DB) ApprovalPolicy(ctx context.Context) (ApprovalPolicyRecord, error) {
	return approvalPolicy(ctx, db.Read)
}

// ApprovalPolicy is the policy in force as the transaction sees it.
func (t *Tx) ApprovalPolicy(ctx context.Context) (ApprovalPolicyRecord, error) {
	return approvalPolicy(ctx, t.stx)
}

// ApprovalPolicyVersions lists the stored versions, newest first, at most
// limit.
func (db *DB) ApprovalPolicyVersions(ctx context.Context, limit int) ([]ApprovalPolicyRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+policyCols+` FROM approval_policy_versions
		ORDER BY version DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: approval policy versions: %w", err)
	}
	defer rows.Close()
	var out []ApprovalPolicyRecord
	for rows.Next() {
		p, err := policyScan(rows)
		if err != nil {
			return nil, fmt.Errorf("store: approval policy versions: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// InsertApprovalPolicy stores p as version p.Version, which must be the
// one after the version in force: a concurrent change that took it first
// makes this ErrVersionTaken (nothing is stored).
func (t *Tx) InsertApprovalPolicy(ctx context.Context, p ApprovalPolicyRecord) error {
	cur, err := approvalPolicy(ctx, t.stx)
	if err != nil {
		return err
	}
	if p.Version != cur.Version+1 {
		return ErrVersionTaken
	}
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("store: approval policy: %w", err)
	}
	res, err := t.stx.ExecContext(ctx, `INSERT INTO approval_policy_versions (`+policyCols+`)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (version) DO NOTHING`,
		p.Version, string(body), FormatTime(t.now), p.CreatedBy, p.CreatedByName)
	if err != nil {
		return fmt.Errorf("store: insert approval policy: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return ErrVersionTaken
	}
	return nil
}

// RefundApprovalRecord is one approval a refund received.
type RefundApprovalRecord struct {
	RefundID     string
	Step         int // 1, 2
	ApproverID   int64
	ApproverName string
	ApproverRole string
	Note         string
	ApprovedAt   time.Time
}

const approvalCols = `refund_id, step, approver_id, approver_name, approver_role, note, approved_at`

func approvalsQuery(ctx context.Context, q policyQuerier, where string, args ...any) ([]RefundApprovalRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+approvalCols+` FROM refund_approvals WHERE `+where+
		` ORDER BY refund_id, step`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: refund approvals: %w", err)
	}
	defer rows.Close()
	var out []RefundApprovalRecord
	for rows.Next() {
		var a RefundApprovalRecord
		var at string
		if err := rows.Scan(&a.RefundID, &a.Step, &a.ApproverID, &a.ApproverName, &a.ApproverRole, &a.Note, &at); err != nil {
			return nil, fmt.Errorf("store: refund approvals: %w", err)
		}
		if a.ApprovedAt, err = ParseTime(at); err != nil {
			return nil, fmt.Errorf("store: refund approvals: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RefundApprovals lists the approvals refund id received, in order.
func (db *DB) RefundApprovals(ctx context.Context, id string) ([]RefundApprovalRecord, error) {
	return approvalsQuery(ctx, db.Read, `refund_id = ?`, id)
}

// RefundApprovals lists them as the transaction sees them.
func (t *Tx) RefundApprovals(ctx context.Context, id string) ([]RefundApprovalRecord, error) {
	return approvalsQuery(ctx, t.stx, `refund_id = ?`, id)
}

// PendingApprovals lists the approvals given to refunds still pending.
func (db *DB) PendingApprovals(ctx context.Context) ([]RefundApprovalRecord, error) {
	return approvalsQuery(ctx, db.Read, `refund_id IN (SELECT id FROM refunds WHERE approval = 'PENDING')`)
}

// InsertRefundApproval records one approval of a pending refund and marks
// the refund updated. It reports false, storing nothing, when the refund is
// no longer pending or the step or the approver is already recorded: a
// writer that lost a race is told so.
func (t *Tx) InsertRefundApproval(ctx context.Context, a RefundApprovalRecord) (bool, error) {
	now := FormatTime(t.now)
	ok, err := refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET updated_at = ? WHERE id = ? AND approval = 'PENDING'`,
		now, a.RefundID))
	if err != nil || !ok {
		return ok, err
	}
	res, err := t.stx.ExecContext(ctx, `INSERT INTO refund_approvals (`+approvalCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT DO NOTHING`, a.RefundID, a.Step, a.ApproverID, a.ApproverName, a.ApproverRole, a.Note, now)
	return refundChanged(res, err)
}

// Users lists every user as the transaction sees it, ordered by username.
func (t *Tx) Users(ctx context.Context) ([]UserRecord, error) {
	rows, err := t.stx.QueryContext(ctx, `SELECT `+authUserColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []UserRecord
	for rows.Next() {
		u, err := authScanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	return out, rows.Err()
}
