package store

// The submission worker's statements. A worker claims a refund it sends
// with a lease (its owner id and an expiry) in a committed transaction
// before calling NeoX. The claim is a conditional UPDATE on the state and
// attempt count read, so of several workers (or several servers) exactly
// one wins it; the others change nothing. A claim whose owner is gone is
// taken over only once its lease has expired, never while its owner may
// still be waiting for NeoX's answer (that would send the refund twice).

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Claim is a worker's claim of a refund it is about to send.
type Claim struct {
	From       string    // the submission state read: QUEUED or UNKNOWN
	Attempt    int       // the attempt this claim starts (stored attempts + 1)
	Owner      string    // the worker's id
	LeaseUntil time.Time // until when no other worker may take the claim over
}

// ClaimSend moves a refund from c.From to SENDING under the worker's lease
// and opens its attempt row, if nobody claimed it since it was read. It
// reports whether this worker holds the claim.
func (t *Tx) ClaimSend(ctx context.Context, id string, c Claim) (bool, error) {
	now := FormatTime(t.now)
	// On PostgreSQL the row is taken FOR UPDATE SKIP LOCKED: when another
	// instance is claiming it right now, this one moves on at once instead
	// of queueing behind that lock only to find the state changed.
	where := `id = ? AND submission = ? AND attempts = ?`
	if t.pg {
		where = `id = (SELECT id FROM refunds WHERE id = ? AND submission = ? AND attempts = ? FOR UPDATE SKIP LOCKED)`
	}
	ok, err := refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET submission = 'SENDING', attempts = attempts + 1,
		lease_owner = ?, lease_until = ?, updated_at = ? WHERE `+where,
		c.Owner, FormatTime(c.LeaseUntil), now, id, c.From, c.Attempt-1))
	if err != nil || !ok {
		return ok, err
	}
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO refund_attempts (refund_id, n, started_at) VALUES (?, ?, ?)`,
		id, c.Attempt, now); err != nil {
		return false, fmt.Errorf("store: open attempt: %w", err)
	}
	return true, nil
}

// ExpiredClaims lists the refunds in SENDING whose claim belongs to a
// worker other than owner and whose lease has expired at the
// transaction's time; with soleWorker (no other worker can run on the
// database) every other owner's claim counts as expired.
func (t *Tx) ExpiredClaims(ctx context.Context, owner string, soleWorker bool) ([]RefundRecord, error) {
	return refundQuery(ctx, t.stx, `WHERE submission = 'SENDING' AND lease_owner <> ? AND (? = 1 OR lease_until <= ?)`,
		owner, soleWorker, FormatTime(t.now)) // the bool is bound as 0/1 on both databases
}

// ReleaseClaim turns a claim ExpiredClaims returned into UNKNOWN, due now
// (reconciled before any resend), and closes its open attempt as
// interrupted. It reports false when the refund left SENDING meanwhile.
func (t *Tx) ReleaseClaim(ctx context.Context, id, lastError string) (bool, error) {
	now := FormatTime(t.now)
	ok, err := refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET submission = 'UNKNOWN', next_attempt_at = ?,
		last_error = ?, updated_at = ? WHERE id = ? AND submission = 'SENDING'`, now, lastError, now, id))
	if err != nil || !ok {
		return ok, err
	}
	if _, err := t.stx.ExecContext(ctx, `UPDATE refund_attempts SET finished_at = ?, outcome = 'interrupted'
		WHERE refund_id = ? AND finished_at = ''`, now, id); err != nil {
		return false, fmt.Errorf("store: close attempt: %w", err)
	}
	return true, nil
}

// AttemptResult is how one attempt ended.
type AttemptResult struct {
	Outcome    string
	Code       string
	Message    string
	ResponseID string
	Latency    time.Duration
}

// FinishAttempt records how attempt n of a refund ended.
func (t *Tx) FinishAttempt(ctx context.Context, id string, n int, r AttemptResult) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE refund_attempts SET finished_at = ?, outcome = ?, neox_code = ?,
		neox_message = ?, neox_response_id = ?, latency_ms = ? WHERE refund_id = ? AND n = ?`,
		FormatTime(t.now), r.Outcome, r.Code, r.Message, r.ResponseID, r.Latency.Milliseconds(), id, n); err != nil {
		return fmt.Errorf("store: finish attempt: %w", err)
	}
	return nil
}

// AttemptFinished reports whether attempt n of refund id is closed: its
// answer recorded, or interrupted by a takeover.
func (t *Tx) AttemptFinished(ctx context.Context, id string, n int) (bool, error) {
	var finished string
	if err := t.stx.QueryRowContext(ctx, `SELECT finished_at FROM refund_attempts WHERE refund_id = ? AND n = ?`,
		id, n).Scan(&finished); err != nil {
		return false, fmt.Errorf("store: read attempt: %w", err)
	}
	return finished != "", nil
}

// MarkUnknown moves a refund from SENDING to UNKNOWN (no answer from
// NeoX), to be retried at next with the same request id, if it is still
// owner's claim number attempt: a claim taken over after its lease ran
// out is no longer the first owner's to settle.
func (t *Tx) MarkUnknown(ctx context.Context, id, owner string, attempt int, lastError string, next time.Time) (bool, error) {
	return refundChanged(t.stx.ExecContext(ctx, `UPDATE refunds SET submission = 'UNKNOWN', last_error = ?,
		next_attempt_at = ?, updated_at = ? WHERE id = ? AND submission = 'SENDING' AND lease_owner = ? AND attempts = ?`,
		lastError, FormatTime(next), FormatTime(t.now), id, owner, attempt))
}

// SaveRefundedBase keeps the PG payment's refundedAmount seen before the
// first send, and when it was seen.
func (t *Tx) SaveRefundedBase(ctx context.Context, id string, base int64, at time.Time) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE refunds SET neox_refunded_base = ?, neox_base_at = ? WHERE id = ?`,
		base, refundFmtTime(at), id); err != nil {
		return fmt.Errorf("store: keep refunded base: %w", err)
	}
	return nil
}

// SchedulePoll sets when a PROCESSING refund is asked about next, if it is
// still PROCESSING.
func (t *Tx) SchedulePoll(ctx context.Context, id string, next time.Time, lastError string) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE refunds SET next_attempt_at = ?, last_error = ?
		WHERE id = ? AND submission = 'PROCESSING'`, refundFmtTime(next), lastError, id); err != nil {
		return fmt.Errorf("store: schedule poll: %w", err)
	}
	return nil
}

// DueRefund is a refund whose next attempt (send or poll) is due.
type DueRefund struct {
	ID  string
	API string
}

// DueRefunds returns up to limit approved refunds in submission state
// whose next attempt is due at now, oldest first, read in next_attempt_at
// order through the (submission, next_attempt_at) index, and when the next
// one after now is due (zero when none).
func (db *DB) DueRefunds(ctx context.Context, state string, now time.Time, limit int) ([]DueRefund, time.Time, error) {
	at := FormatTime(now)
	rows, err := db.Read.QueryContext(ctx, `SELECT id, api FROM refunds
		WHERE submission = ? AND next_attempt_at <= ? AND approval = 'APPROVED'
		ORDER BY next_attempt_at, id LIMIT ?`, state, at, limit)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer rows.Close()
	var due []DueRefund
	for rows.Next() {
		var r DueRefund
		if err := rows.Scan(&r.ID, &r.API); err != nil {
			return nil, time.Time{}, err
		}
		due = append(due, r)
	}
	if err := rows.Err(); err != nil {
		return nil, time.Time{}, err
	}
	rows.Close()
	var next sql.NullString
	if err := db.Read.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM refunds
		WHERE submission = ? AND next_attempt_at > ? AND approval = 'APPROVED'`, state, at).Scan(&next); err != nil {
		return nil, time.Time{}, err
	}
	nt, err := refundParseTime(next.String)
	return due, nt, err
}

// FreshDueRefunds lists up to limit approved refunds in state that became
// due after since (and are due at now), newest first: approvals made one
// by one while a long backlog is being sent, which the worker hands out
// before the backlog so that they do not wait behind it.
func (db *DB) FreshDueRefunds(ctx context.Context, state string, since, now time.Time, limit int) ([]DueRefund, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT id, api FROM refunds
		WHERE submission = ? AND next_attempt_at > ? AND next_attempt_at <= ? AND approval = 'APPROVED'
		ORDER BY next_attempt_at DESC, id DESC LIMIT ?`, state, FormatTime(since), FormatTime(now), limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var due []DueRefund
	for rows.Next() {
		var r DueRefund
		if err := rows.Scan(&r.ID, &r.API); err != nil {
			return nil, err
		}
		due = append(due, r)
	}
	return due, rows.Err()
}

// AttentionDue lists up to limit approved refunds of api in PROCESSING or
// UNKNOWN, not yet flagged, approved at or before decidedBefore or (when
// UNKNOWN) sent at least unknownAttempts times, oldest decision first.
func (db *DB) AttentionDue(ctx context.Context, api string, decidedBefore time.Time, unknownAttempts, limit int) ([]RefundRecord, error) {
	return refundQuery(ctx, db.Read, `WHERE submission IN ('PROCESSING', 'UNKNOWN') AND approval = 'APPROVED'
		AND api = ? AND attention_since = '' AND (decided_at <= ? OR (submission = 'UNKNOWN' AND attempts >= ?))
		ORDER BY decided_at, id LIMIT ?`, api, FormatTime(decidedBefore), unknownAttempts, limit)
}

// OldestUnflagged is the earliest decision time of an approved, not final,
// unflagged refund of api (zero when none): when the next one becomes due
// for needs attention. One already due but not flagged was mid-call
// (QUEUED or SENDING) and must be looked at again soon, so it counts too.
func (db *DB) OldestUnflagged(ctx context.Context, api string) (time.Time, error) {
	var oldest sql.NullString
	if err := db.Read.QueryRowContext(ctx, `SELECT min(decided_at) FROM refunds
		WHERE submission IN ('QUEUED', 'SENDING', 'PROCESSING', 'UNKNOWN') AND approval = 'APPROVED'
		AND api = ? AND attention_since = ''`, api).Scan(&oldest); err != nil {
		return time.Time{}, err
	}
	return refundParseTime(oldest.String)
}
