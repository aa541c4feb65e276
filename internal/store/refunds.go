package store

// The refunds tables (migration 0004 and later): the refund rows, their
// submission attempts and the per-target lock rows of the refundable-amount
// check. The refunds package holds the rules (which state may follow which,
// what is refundable); these are the statements, each one conditional on
// the state the rule was decided on, so a writer that lost a race changes
// nothing and is told so.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// RefundRecord is one row of refunds as stored. Times are zero when not
// set. refunds.Refund is built from it.
type RefundRecord struct {
	ID                 string
	API                string
	TransactionRef     string
	PaymentID          string
	Amount             int64
	Currency           string
	PaymentMethod      string
	ReasonCode         string
	ReasonText         string
	FeeChargeWay       string
	SubMerchantID      string
	BankSwift          string
	BankAccountNumber  string
	BankAccountName    string
	BankBranch         string
	RequestedBy        int64
	RequestedByName    string
	RequestedAt        time.Time
	Approval           string
	Submission         string
	DecidedBy          int64
	DecidedByName      string
	DecisionNote       string
	DecidedAt          time.Time
	NeoXRefundID       string
	NeoXApprovalStatus string
	NeoXStatus         string
	NeoXCode           string
	NeoXMessage        string
	NeoXResponseID     string
	FailedReason       string
	LastError          string
	Attempts           int
	NextAttemptAt      time.Time
	UpdatedAt          time.Time
	FinalAt            time.Time
	Lang               string
	AttentionSince     time.Time
	AttentionReason    string
	ResolvedBy         int64
	ResolvedByName     string
	ResolvedAt         time.Time
	ResolutionNote     string
	ResolutionRef      string
	RefundedBase       int64 // PG: payment refundedAmount before the first send, -1 unknown
	BaseAt             time.Time
	// The approval rule snapshotted when the refund was requested
	// (migration 0020): the policy version, approvals needed, and the rule
	// as package refunds encodes it.
	PolicyVersion     int64
	ApprovalsRequired int
	PolicyRule        string
}

// refundCols is the column list refundScan reads, in order.
const refundCols = `id, api, transaction_ref, payment_id, amount, currency, payment_method,
	reason_code, reason_text, fee_charge_way, sub_merchant_id, bank_swift, bank_account_number,
	bank_account_name, bank_branch, requested_by, requested_by_name, requested_at,
	approval, decided_by, decided_by_name, decided_at, decision_note, submission,
	neox_refund_id, neox_approval_status, neox_status, neox_code, neox_message, neox_response_id,
	failed_reason, neox_refunded_base, neox_base_at, attempts, last_error, next_attempt_at, updated_at, final_at,
	lang, attention_since, attention_reason, resolved_by, resolved_by_name, resolved_at, resolution_note,
	resolution_ref, policy_version, approvals_required, policy_rule`

type refundScanner interface{ Scan(dest ...any) error }

// refundQuerier is the read pool or a transaction.
type refundQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

func refundScan(sc refundScanner) (RefundRecord, error) {
	var r RefundRecord
	var reqAt, decAt, baseAt, next, upd, fin, attn, resAt string
	err := sc.Scan(&r.ID, &r.API, &r.TransactionRef, &r.PaymentID, &r.Amount, &r.Currency, &r.PaymentMethod,
		&r.ReasonCode, &r.ReasonText, &r.FeeChargeWay, &r.SubMerchantID, &r.BankSwift, &r.BankAccountNumber,
		&r.BankAccountName, &r.BankBranch, &r.RequestedBy, &r.RequestedByName, &reqAt,
		&r.Approval, &r.DecidedBy, &r.DecidedByName, &decAt, &r.DecisionNote, &r.Submission,
		&r.NeoXRefundID, &r.NeoXApprovalStatus, &r.NeoXStatus, &r.NeoXCode, &r.NeoXMessage, &r.NeoXResponseID,
		&r.FailedReason, &r.RefundedBase, &baseAt, &r.Attempts, &r.LastError, &next, &upd, &fin,
		&r.Lang, &attn, &r.AttentionReason, &r.ResolvedBy, &r.ResolvedByName, &resAt, &r.ResolutionNote,
		&r.ResolutionRef, &r.PolicyVersion, &r.ApprovalsRequired, &r.PolicyRule)
	if err != nil {
		return RefundRecord{}, err
	}
	for _, p := range []struct {
		s string
		t *time.Time
	}{{reqAt, &r.RequestedAt}, {decAt, &r.DecidedAt}, {baseAt, &r.BaseAt}, {next, &r.NextAttemptAt},
		{upd, &r.UpdatedAt}, {fin, &r.FinalAt}, {attn, &r.AttentionSince}, {resAt, &r.ResolvedAt}} {
		if *p.t, err = refundParseTime(p.s); err != nil {
			return RefundRecord{}, err
		}
	}
	return r, nil
}

// refundParseTime reads a stored time; "" is the zero time.
func refundParseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := ParseTime(s)
	if err != nil {
		return time.Time{}, fmt.Errorf("store: stored time %q: %w", s, err)
	}
	return t, nil
}

// refundFmtTime renders t for storage; the zero time is "".
func refundFmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t)
}

func refundGet(ctx context.Context, q refundQuerier, id string, lock string) (RefundRecord, error) {
	r, err := refundScan(q.QueryRowContext(ctx, `SELECT `+refundCols+` FROM refunds WHERE id = ?`+lock, id))
	if errors.Is(err, sql.ErrNoRows) {
		return RefundRecord{}, ErrNotFound
	}
	if err != nil {
		return RefundRecord{}, fmt.Errorf("store: read refund %s: %w", id, err)
	}
	return r, nil
}

// refundQuery runs a SELECT of refundCols and collects the rows (closed
// before returning, so the caller may write next on the same connection).
func refundQuery(ctx context.Context, q refundQuerier, where string, args ...any) ([]RefundRecord, error) {
	rows, err := q.QueryContext(ctx, `SELECT `+refundCols+` FROM refunds `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("store: query refunds: %w", err)
	}
	defer rows.Close()
	var out []RefundRecord
	for rows.Next() {
		r, err := refundScan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

func refundFirst(list []RefundRecord, err error) (RefundRecord, error) {
	if err != nil {
		return RefundRecord{}, err
	}
	if len(list) == 0 {
		return RefundRecord{}, ErrNotFound
	}
	return list[0], nil
}

// Refund reads one refund from the read pool, or ErrNotFound.
func (db *DB) Refund(ctx context.Context, id string) (RefundRecord, error) {
	return refundGet(ctx, db.Read, id, "")
}

// Refund reads one refund inside the transaction, or ErrNotFound. In a
// write transaction on PostgreSQL the row stays locked until t ends: what
// t decides from it (approvals, state, resolution) no other writer can
// change meanwhile (locks.go).
func (t *Tx) Refund(ctx context.Context, id string) (RefundRecord, error) {
	return refundGet(ctx, t.stx, id, t.forUpdate())
}

// RefundByIdempotencyKey reads the refund a form token created, or ErrNotFound.
func (db *DB) RefundByIdempotencyKey(ctx context.Context, key string) (RefundRecord, error) {
	return refundFirst(refundQuery(ctx, db.Read, `WHERE idempotency_key = ?`, key))
}

// RefundByIdempotencyKey reads, inside the transaction, the refund a form
// token created, or ErrNotFound. On PostgreSQL it first locks the token
// for the rest of t, so a second submission of the same form on another
// instance waits for the first and then finds its refund.
func (t *Tx) RefundByIdempotencyKey(ctx context.Context, key string) (RefundRecord, error) {
	if err := t.lockKey(ctx, lockFormToken, key); err != nil {
		return RefundRecord{}, err
	}
	return refundFirst(refundQuery(ctx, t.stx, `WHERE idempotency_key = ?`+t.forUpdate(), key))
}

// RefundByNeoXID reads the refund NeoX knows by neoxID (a GC refund first
// when products share an id), or ErrNotFound.
//
// On PostgreSQL a refund found is locked, and when none is found the id's
// key is locked (the one HeldEvents takes) and the read repeated: the
// webhook that found nothing keeps its event for later, and the
// transaction recording the id on its refund looks for kept events after
// it; the key makes one of them see the other's commit, whichever comes
// first. (The key comes after no row lock here, and after the refund's row
// there, so the two cannot wait for each other.)
func (t *Tx) RefundByNeoXID(ctx context.Context, neoxID string) (RefundRecord, error) {
	q := `WHERE neox_refund_id = ? ORDER BY api = 'GC' DESC LIMIT 1` + t.forUpdate()
	r, err := refundFirst(refundQuery(ctx, t.stx, q, neoxID))
	if !errors.Is(err, ErrNotFound) || !t.locks() {
		return r, err
	}
	if err := t.lockKey(ctx, lockNeoXRefund, neoxID); err != nil {
		return RefundRecord{}, err
	}
	return refundFirst(refundQuery(ctx, t.stx, q, neoxID))
}

// RefundsOfTransaction lists the refunds of one product's transaction,
// newest first.
func (db *DB) RefundsOfTransaction(ctx context.Context, api, ref string) ([]RefundRecord, error) {
	return refundQuery(ctx, db.Read, `WHERE api = ? AND transaction_ref = ? ORDER BY requested_at DESC, id DESC`, api, ref)
}

// ApprovedRefundsOfPayment lists the approved PG refunds of one payment
// except excludeID (the QUERY_PT settle rule weighs them).
func (db *DB) ApprovedRefundsOfPayment(ctx context.Context, ref, paymentID, excludeID string) ([]RefundRecord, error) {
	return refundQuery(ctx, db.Read, `WHERE api = 'PG' AND transaction_ref = ? AND payment_id = ?
		AND id <> ? AND approval = 'APPROVED'`, ref, paymentID, excludeID)
}

// PendingRefunds is the approval queue, oldest first.
func (db *DB) PendingRefunds(ctx context.Context) ([]RefundRecord, error) {
	return refundQuery(ctx, db.Read, `WHERE approval = 'PENDING' ORDER BY requested_at, id`)
}

// LockTarget takes the lock of a refund target (PG: a payment; GC, COL: a
// transaction, paymentID "") for the rest of the transaction. The
// refundable-amount check calls it before ReservedFor, so two writers
// checking the same target cannot both pass: the upsert holds the target's
// row lock until commit (SELECT ... FOR UPDATE on PostgreSQL); on SQLite
// the immediate transaction already serialises every writer.
func (t *Tx) LockTarget(ctx context.Context, api, ref, paymentID string) error {
	_, err := t.stx.ExecContext(ctx, `INSERT INTO refund_targets (api, transaction_ref, payment_id, checks)
		VALUES (?, ?, ?, 1) ON CONFLICT (api, transaction_ref, payment_id) DO UPDATE SET checks = refund_targets.checks + 1`,
		api, ref, paymentID)
	if err != nil {
		return fmt.Errorf("store: lock refund target: %w", err)
	}
	return nil
}

// ReservedFor sums the amounts still reserved by refunds of a target
// (pending, or approved and not final), except excludeID. Call LockTarget
// first in the same transaction.
func (t *Tx) ReservedFor(ctx context.Context, api, ref, paymentID, excludeID string) (int64, error) {
	var n int64
	err := t.stx.QueryRowContext(ctx, `SELECT coalesce(sum(amount), 0) FROM refunds
		WHERE api = ? AND transaction_ref = ? AND payment_id = ? AND id <> ?
		  AND approval IN ('PENDING', 'APPROVED') AND submission NOT IN ('SUCCEEDED', 'FAILED')`,
		api, ref, paymentID, excludeID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("store: sum reserved: %w", err)
	}
	return n, nil
}

// NewRefund is what InsertRefund stores beside the record's request
// fields: the form token ("" none) and the receiver account's keyed hash.
type NewRefund struct {
	RefundRecord
	IdempotencyKey string
	AccountHash    string
}

// InsertRefund stores a new refund request (approval PENDING, submission
// NOT_SENT). A repeated idempotency key is a constraint error.
func (t *Tx) InsertRefund(ctx context.Context, n NewRefund) error {
	r := n.RefundRecord
	var key any
	if n.IdempotencyKey != "" {
		key = n.IdempotencyKey
	}
	_, err := t.stx.ExecContext(ctx, `INSERT INTO refunds (id, api, transaction_ref, payment_id, amount, currency,
		payment_method, reason_code, reason_text, fee_charge_way, sub_merchant_id, bank_swift, bank_account_number,
		bank_account_name, bank_branch, requested_by, requested_by_name, requested_at, idempotency_key,
		neox_refunded_base, neox_base_at, updated_at, lang, bank_account_hash,
		policy_version, approvals_required, policy_rule)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.API, r.TransactionRef, r.PaymentID, r.Amount, r.Currency, r.PaymentMethod,
		r.ReasonCode, r.ReasonText, r.FeeChargeWay, r.SubMerchantID, r.BankSwift, r.BankAccountNumber,
		r.BankAccountName, r.BankBranch, r.RequestedBy, r.RequestedByName, refundFmtTime(r.RequestedAt), key,
		r.RefundedBase, refundFmtTime(r.BaseAt), refundFmtTime(r.UpdatedAt), r.Lang, n.AccountHash,
		r.PolicyVersion, max(r.ApprovalsRequired, 0), r.PolicyRule)
	if err != nil {
		return fmt.Errorf("store: insert refund: %w", err)
	}
	return nil
}

// refundChanged reports whether a conditional statement changed one row.
func refundChanged(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("store: update refund: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// Decision is a manager's (or the maker's) decision on a pending refund.
type Decision struct {
	By     int64
	ByName string
	Note   string
}

// ApproveRefund moves a PENDING refund to APPROVED and queues it for
// sending now. It reports false when the refund was no longer pending.
//
// On PostgreSQL it also wakes the workers of every instance (wake.go):
// the notification is delivered when this transaction commits, and never
// if it rolls back.
func (t *Tx) ApproveRefund(ctx context.Context, id string, d Decision) (bool, error) {
	now := FormatTime(t.now)
	ok, err := refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET approval = 'APPROVED', submission = 'QUEUED',
		decided_by = ?, decided_by_name = ?, decided_at = ?, decision_note = ?, next_attempt_at = ?, updated_at = ?
		WHERE id = ? AND approval = 'PENDING'`,
		d.By, d.ByName, now, d.Note, now, now, id))
	if err != nil || !ok {
		return ok, err
	}
	return true, t.notifyWake(ctx, id)
}

// CloseRefund moves a PENDING refund to a final approval state (REJECTED
// or CANCELLED). It reports false when the refund was no longer pending.
func (t *Tx) CloseRefund(ctx context.Context, id, to string, d Decision) (bool, error) {
	now := FormatTime(t.now)
	return refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET approval = ?, decided_by = ?, decided_by_name = ?,
		decided_at = ?, decision_note = ?, updated_at = ?, final_at = ?
		WHERE id = ? AND approval = 'PENDING'`,
		to, d.By, d.ByName, now, d.Note, now, now, id))
}

// SubmissionChange is what Transition writes: the new submission state and
// NeoX's words about the refund. Empty NeoX fields keep the stored values.
type SubmissionChange struct {
	To             string
	NeoXRefundID   string
	ApprovalStatus string
	Status         string
	Code           string
	Message        string
	ResponseID     string
	FailedReason   string
	LastError      string
	NextAttemptAt  time.Time
	FinalAt        time.Time
}

// Transition applies c to the refund if its submission state is still
// from, and reports whether it did: a writer that lost a race to another
// (a webhook, a poll, the worker) changes nothing.
func (t *Tx) Transition(ctx context.Context, id, from string, c SubmissionChange) (bool, error) {
	return refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET submission = ?,
		neox_refund_id = CASE WHEN ? <> '' THEN ? ELSE neox_refund_id END,
		neox_approval_status = CASE WHEN ? <> '' THEN ? ELSE neox_approval_status END,
		neox_status = CASE WHEN ? <> '' THEN ? ELSE neox_status END,
		neox_code = CASE WHEN ? <> '' THEN ? ELSE neox_code END,
		neox_message = CASE WHEN ? <> '' THEN ? ELSE neox_message END,
		neox_response_id = CASE WHEN ? <> '' THEN ? ELSE neox_response_id END,
		failed_reason = CASE WHEN ? <> '' THEN ? ELSE failed_reason END,
		last_error = ?, next_attempt_at = ?, final_at = ?, updated_at = ?
		WHERE id = ? AND submission = ?`,
		c.To, c.NeoXRefundID, c.NeoXRefundID, c.ApprovalStatus, c.ApprovalStatus, c.Status, c.Status,
		c.Code, c.Code, c.Message, c.Message, c.ResponseID, c.ResponseID, c.FailedReason, c.FailedReason,
		c.LastError, refundFmtTime(c.NextAttemptAt), refundFmtTime(c.FinalAt), FormatTime(t.now), id, from))
}

// Resolution is a manager's settlement of a refund in needs attention.
type Resolution struct {
	Outcome string // SUCCEEDED | FAILED
	By      int64
	ByName  string
	Note    string
	Ref     string
}

// ResolveRefund sets the final state a manager read in NeoX's portal, if
// the refund is still in submission state from, flagged and not resolved.
func (t *Tx) ResolveRefund(ctx context.Context, id, from string, r Resolution) (bool, error) {
	now := FormatTime(t.now)
	return refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET submission = ?, resolved_by = ?, resolved_by_name = ?,
		resolved_at = ?, resolution_note = ?, resolution_ref = ?, next_attempt_at = '', final_at = ?, updated_at = ?
		WHERE id = ? AND submission = ? AND attention_since <> '' AND resolved_at = ''`,
		r.Outcome, r.By, r.ByName, now, r.Note, r.Ref, now, now, id, from))
}

// FlagAttention puts a refund in needs attention, if it is still in
// submission state from and not flagged yet.
func (t *Tx) FlagAttention(ctx context.Context, id, from, reason string) (bool, error) {
	now := FormatTime(t.now)
	return refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET attention_since = ?, attention_reason = ?, updated_at = ?
		WHERE id = ? AND submission = ? AND attention_since = ''`, now, reason, now, id, from))
}

// AttemptRecord is one claim of a refund by the submission worker.
type AttemptRecord struct {
	N              int
	StartedAt      time.Time
	FinishedAt     time.Time
	Outcome        string
	NeoXCode       string
	NeoXMessage    string
	NeoXResponseID string
	LatencyMS      int64
}

// RefundAttempts lists a refund's submission attempts, oldest first.
func (db *DB) RefundAttempts(ctx context.Context, id string) ([]AttemptRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT n, started_at, finished_at, outcome, neox_code, neox_message,
		neox_response_id, latency_ms FROM refund_attempts WHERE refund_id = ? ORDER BY n`, id)
	if err != nil {
		return nil, fmt.Errorf("store: refund attempts: %w", err)
	}
	defer rows.Close()
	var out []AttemptRecord
	for rows.Next() {
		var a AttemptRecord
		var st, fin string
		if err := rows.Scan(&a.N, &st, &fin, &a.Outcome, &a.NeoXCode, &a.NeoXMessage, &a.NeoXResponseID, &a.LatencyMS); err != nil {
			return nil, err
		}
		if a.StartedAt, err = refundParseTime(st); err != nil {
			return nil, err
		}
		if a.FinishedAt, err = refundParseTime(fin); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// RefundSecret reads a secret of the refunds domain from settings, or
// ErrNotFound.
func (t *Tx) RefundSecret(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := t.stx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: read setting %s: %w", name, err)
	}
	return v, nil
}

// InsertRefundSecret stores a new secret of the refunds domain and
// returns the value stored: value, or the one a concurrent first use on
// another instance stored first (its INSERT waits for that commit and
// keeps the first value).
func (t *Tx) InsertRefundSecret(ctx context.Context, name string, value []byte) ([]byte, error) {
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
		name, value); err != nil {
		return nil, fmt.Errorf("store: store setting %s: %w", name, err)
	}
	return t.RefundSecret(ctx, name)
}

// LookupRecord is a looked-up transaction in the recent lookups.
type LookupRecord struct {
	API       string
	Ref       string
	FetchedAt time.Time
}

// CacheLookup keeps the last live answer for a looked-up transaction.
func (t *Tx) CacheLookup(ctx context.Context, api, ref, payload string, at time.Time) error {
	_, err := t.stx.ExecContext(ctx, `INSERT INTO transactions_cache (api, ref, payload, fetched_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (api, ref) DO UPDATE SET payload = excluded.payload, fetched_at = excluded.fetched_at`,
		api, ref, payload, refundFmtTime(at))
	if err != nil {
		return fmt.Errorf("store: cache lookup: %w", err)
	}
	return nil
}

// RecentLookups lists the most recently looked-up transactions.
func (db *DB) RecentLookups(ctx context.Context, limit int) ([]LookupRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT api, ref, fetched_at FROM transactions_cache
		ORDER BY fetched_at DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent lookups: %w", err)
	}
	defer rows.Close()
	var out []LookupRecord
	for rows.Next() {
		var l LookupRecord
		var at string
		if err := rows.Scan(&l.API, &l.Ref, &at); err != nil {
			return nil, err
		}
		if l.FetchedAt, err = refundParseTime(at); err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// CachedLookup returns the last live answer kept for a transaction (see
// CacheLookup); ErrNotFound when it was never looked up.
func (db *DB) CachedLookup(ctx context.Context, api, ref string) (payload string, fetchedAt time.Time, err error) {
	var at string
	err = db.Read.QueryRowContext(ctx, `SELECT payload, fetched_at FROM transactions_cache WHERE api = ? AND ref = ?`,
		api, ref).Scan(&payload, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return "", time.Time{}, ErrNotFound
	}
	if err != nil {
		return "", time.Time{}, fmt.Errorf("store: cached lookup: %w", err)
	}
	if fetchedAt, err = refundParseTime(at); err != nil {
		return "", time.Time{}, fmt.Errorf("store: cached lookup time: %w", err)
	}
	return payload, fetchedAt, nil
}
