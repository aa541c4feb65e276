package store

// The bulk checker's statements (migration 0036). A batch uploaded is kept
// CHECKING; a checker claims it with a lease (owner + expiry) in a committed
// conditional UPDATE, so of several checkers (several servers on
// PostgreSQL) exactly one holds it; it renews the lease each time it writes
// verdicts, and a lease that ran out (its owner died) is taken over by the
// next checker, which checks only the rows still CHECKING.

import (
	"context"
	"fmt"
	"time"
)

// BatchProgress is how far a batch's check has come.
type BatchProgress struct {
	Rows    int // every row of the file
	Pending int // rows not checked yet (CHECKING)
}

// BatchProgress counts a batch's rows and those still CHECKING.
func (db *DB) BatchProgress(ctx context.Context, id string) (BatchProgress, error) {
	var p BatchProgress
	err := db.Read.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(CASE WHEN status = 'CHECKING' THEN 1 ELSE 0 END), 0)
		FROM refund_batch_rows WHERE batch_id = ?`, id).Scan(&p.Rows, &p.Pending)
	if err != nil {
		return p, fmt.Errorf("store: batch progress: %w", err)
	}
	return p, nil
}

// CheckingBatches lists the ids of batches in CHECKING, oldest first, at
// most limit: the candidates a checker tries to claim.
func (db *DB) CheckingBatches(ctx context.Context, limit int) ([]string, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT id FROM refund_batches WHERE state = 'CHECKING'
		ORDER BY created_at, id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: checking batches: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("store: checking batches: %w", err)
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// ClaimBatchCheck gives owner the lease of a CHECKING batch until until,
// if nobody holds it: it is unclaimed, owner's already, its lease has run
// out at the transaction's time, or sole (no other checker can run on the
// database: every other owner is a dead process). It reports whether owner
// holds the lease.
func (t *Tx) ClaimBatchCheck(ctx context.Context, id, owner string, until time.Time, sole bool) (bool, error) {
	// On PostgreSQL the row is taken FOR UPDATE SKIP LOCKED: an instance
	// claiming it right now makes this one move on, not queue behind it.
	where := `id = ?`
	if t.pg {
		where = `id = (SELECT id FROM refund_batches WHERE id = ? FOR UPDATE SKIP LOCKED)`
	}
	return batchChanged(t.stx.ExecContext(ctx, `UPDATE refund_batches SET lease_owner = ?, lease_until = ?
		WHERE `+where+` AND state = 'CHECKING' AND (lease_owner = '' OR lease_owner = ? OR lease_until <= ? OR ? = 1)`,
		owner, FormatTime(until), id, owner, FormatTime(t.now), sole))
}

// RenewBatchLease extends owner's lease of a CHECKING batch to until. It
// reports false when the batch is no longer owner's to check (cancelled,
// or taken over after the lease ran out).
func (t *Tx) RenewBatchLease(ctx context.Context, id, owner string, until time.Time) (bool, error) {
	return batchChanged(t.stx.ExecContext(ctx, `UPDATE refund_batches SET lease_until = ?
		WHERE id = ? AND state = 'CHECKING' AND lease_owner = ?`, FormatTime(until), id, owner))
}

// UncheckedRows lists a batch's rows still CHECKING, in file order.
func (db *DB) UncheckedRows(ctx context.Context, batchID string) ([]BatchRowRecord, error) {
	return db.batchRows(ctx, batchID, `AND status = 'CHECKING'`)
}

// SetBatchRowVerdict records a row's check: its status (OK or ERROR), its
// message and the amount the refund would have; a row already checked
// (by a checker that was thought dead) keeps its first verdict.
func (t *Tx) SetBatchRowVerdict(ctx context.Context, batchID string, r BatchRowRecord) error {
	_, err := t.stx.ExecContext(ctx, `UPDATE refund_batch_rows SET status = ?, message = ?, amount = ?
		WHERE batch_id = ? AND row_no = ? AND status = 'CHECKING'`, r.Status, r.Message, r.Amount, batchID, r.RowNo)
	if err != nil {
		return fmt.Errorf("store: batch row verdict: %w", err)
	}
	return nil
}

// BatchStatusCounts counts a batch's rows by status.
func (t *Tx) BatchStatusCounts(ctx context.Context, batchID string) (map[string]int, error) {
	rows, err := t.stx.QueryContext(ctx, `SELECT status, count(*) FROM refund_batch_rows WHERE batch_id = ? GROUP BY status`, batchID)
	if err != nil {
		return nil, fmt.Errorf("store: batch counts: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, fmt.Errorf("store: batch counts: %w", err)
		}
		out[s] = n
	}
	return out, rows.Err()
}

// FinishBatchCheck moves owner's CHECKING batch to PREVIEW once none of
// its rows is CHECKING. It reports false otherwise (rows left, cancelled,
// or no longer owner's).
func (t *Tx) FinishBatchCheck(ctx context.Context, id, owner string) (bool, error) {
	return batchChanged(t.stx.ExecContext(ctx, `UPDATE refund_batches SET state = 'PREVIEW', lease_owner = '', lease_until = '',
		checked_at = ? WHERE id = ? AND state = 'CHECKING' AND lease_owner = ?
		AND NOT EXISTS (SELECT 1 FROM refund_batch_rows WHERE batch_id = ? AND status = 'CHECKING')`,
		FormatTime(t.now), id, owner, id))
}

// CancelBatchCheck moves a CHECKING batch to CANCELLED and blanks the
// receivers' account numbers its rows kept (it will never be submitted).
// It reports false when the batch was not CHECKING.
func (t *Tx) CancelBatchCheck(ctx context.Context, id string) (bool, error) {
	ok, err := batchChanged(t.stx.ExecContext(ctx, `UPDATE refund_batches SET state = 'CANCELLED', lease_owner = '', lease_until = '',
		checked_at = ? WHERE id = ? AND state = 'CHECKING'`, FormatTime(t.now), id))
	if err != nil || !ok {
		return ok, err
	}
	if _, err := t.stx.ExecContext(ctx, `UPDATE refund_batch_rows SET bank_account_number = '' WHERE batch_id = ?`, id); err != nil {
		return false, fmt.Errorf("store: cancel batch: %w", err)
	}
	return true, nil
}

// batchChanged reports whether an UPDATE changed a row.
func batchChanged(res interface{ RowsAffected() (int64, error) }, err error) (bool, error) {
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	return n > 0, nil
}
