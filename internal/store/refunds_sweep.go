package store

// The sweep's runs (col_sweeps: COL was the first product that swept)
// and the differences it found (col_sweep_findings, one row per request
// id and kind, with the product whose list showed it).

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// SweepRecord is one run of the sweep.
type SweepRecord struct {
	ID                    int64
	StartedAt, Finished   time.Time
	From, To              time.Time
	Pages, Docs, Findings int
	Error                 string
}

// FindingRecord is one open difference between a product's NeoX refund
// list and the desk. For state_differs the desk's states are read now, not as the
// sweep saw them.
type FindingRecord struct {
	ID                 int64
	RequestID          string
	Kind               string
	API                string // the product whose NeoX list showed it
	DeskApproval       string
	DeskSubmission     string
	CollectionTransID  string
	RefundTransID      string
	NeoXApprovalStatus string
	NeoXStatus         string
	Amount             int64
	Note               string
	FailedReason       string
	NeoXCreatedAt      time.Time
	FirstSeen          time.Time
	LastSeen           time.Time
}

// ErrSweepStarted is StartSweep's refusal: another sweep has started
// since the one the caller saw, or is still running.
var ErrSweepStarted = errors.New("store: another sweep has started")

// SweepAny is StartSweep's after for a sweep asked for now, whatever ran
// before.
const SweepAny = -1

// StartSweep records the start of a sweep over [from, to], now, and
// returns its id. Instances that each schedule the sweep start it once:
// it refuses with ErrSweepStarted when the newest run is not after (the
// id of the newest run the caller based its schedule on, 0 for none; or
// SweepAny), or when the newest run is unfinished and started less than
// running ago (one that old is taken for dead: its instance stopped).
// On PostgreSQL the check and the insert hold a lock of their own until t
// ends, so two instances starting at once take turns and the second sees
// the first's run.
func (t *Tx) StartSweep(ctx context.Context, from, to time.Time, after int64, running time.Duration) (int64, error) {
	if err := t.lockKey(ctx, lockSweep, ""); err != nil {
		return 0, err
	}
	var (
		newest        int64
		started, fini string
	)
	err := t.stx.QueryRowContext(ctx, `SELECT id, started_at, finished_at FROM col_sweeps ORDER BY id DESC LIMIT 1`).
		Scan(&newest, &started, &fini)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		newest = 0
	case err != nil:
		return 0, fmt.Errorf("store: read the newest sweep: %w", err)
	}
	if after != SweepAny && newest != after {
		return 0, fmt.Errorf("%w: run %d, not after %d", ErrSweepStarted, newest, after)
	}
	if newest != 0 && fini == "" && started > FormatTime(t.now.Add(-running)) {
		return 0, fmt.Errorf("%w: run %d since %s", ErrSweepStarted, newest, started)
	}
	var id int64
	err = t.stx.QueryRowContext(ctx, `INSERT INTO col_sweeps (started_at, window_from, window_to) VALUES (?, ?, ?) RETURNING id`,
		FormatTime(t.now), FormatTime(from), FormatTime(to)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: record sweep: %w", err)
	}
	return id, nil
}

// ClearUnseenFindings clears, now, the open findings from api's list
// about refunds NeoX created in [from, to] that sweep did not see again:
// the whole window of that list no longer shows them.
func (t *Tx) ClearUnseenFindings(ctx context.Context, sweepID int64, api string, from, to time.Time) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE col_sweep_findings SET cleared_at = ?
		WHERE cleared_at = '' AND api = ? AND last_sweep_id <> ? AND neox_created_at >= ? AND neox_created_at <= ?`,
		FormatTime(t.now), api, sweepID, FormatTime(from), FormatTime(to)); err != nil {
		return fmt.Errorf("store: clear findings: %w", err)
	}
	return nil
}

// OpenFindingCount is how many findings are open.
func (t *Tx) OpenFindingCount(ctx context.Context) (int, error) {
	var n int
	if err := t.stx.QueryRowContext(ctx, `SELECT count(*) FROM col_sweep_findings WHERE cleared_at = ''`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count findings: %w", err)
	}
	return n, nil
}

// FinishSweep records how sweep sw ended.
func (t *Tx) FinishSweep(ctx context.Context, sw SweepRecord) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE col_sweeps SET finished_at = ?, pages = ?, docs = ?, findings = ?, error = ?
		WHERE id = ?`, refundFmtTime(sw.Finished), sw.Pages, sw.Docs, sw.Findings, sw.Error, sw.ID); err != nil {
		return fmt.Errorf("store: finish sweep: %w", err)
	}
	return nil
}

// ClearFindings clears, now, the open findings about requestID except
// those of kind keep ("" clears all).
func (t *Tx) ClearFindings(ctx context.Context, requestID, keep string) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE col_sweep_findings SET cleared_at = ?
		WHERE request_id = ? AND kind <> ? AND cleared_at = ''`, FormatTime(t.now), requestID, keep); err != nil {
		return fmt.Errorf("store: clear findings: %w", err)
	}
	return nil
}

// SaveFinding records what sweep sweepID saw of a difference, now: a new
// row, or the update of the open one (a cleared one reopens, first seen now).
func (t *Tx) SaveFinding(ctx context.Context, sweepID int64, f FindingRecord) error {
	now := FormatTime(t.now)
	_, err := t.stx.ExecContext(ctx, `INSERT INTO col_sweep_findings (request_id, kind, desk_approval, desk_submission,
		collection_trans_id, refund_trans_id, neox_approval_status, neox_status, amount, note, failed_reason,
		neox_created_at, first_seen_at, last_seen_at, last_sweep_id, api)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (request_id, kind) DO UPDATE SET api = excluded.api, desk_approval = excluded.desk_approval,
			desk_submission = excluded.desk_submission, collection_trans_id = excluded.collection_trans_id,
			refund_trans_id = excluded.refund_trans_id, neox_approval_status = excluded.neox_approval_status,
			neox_status = excluded.neox_status, amount = excluded.amount, note = excluded.note,
			failed_reason = excluded.failed_reason, neox_created_at = excluded.neox_created_at,
			last_seen_at = excluded.last_seen_at, last_sweep_id = excluded.last_sweep_id, cleared_at = '',
			first_seen_at = CASE WHEN col_sweep_findings.cleared_at <> '' THEN excluded.first_seen_at
				ELSE col_sweep_findings.first_seen_at END`,
		f.RequestID, f.Kind, f.DeskApproval, f.DeskSubmission, f.CollectionTransID, f.RefundTransID, f.NeoXApprovalStatus,
		f.NeoXStatus, f.Amount, f.Note, f.FailedReason, FormatTime(f.NeoXCreatedAt), now, now, sweepID, f.API)
	if err != nil {
		return fmt.Errorf("store: save finding: %w", err)
	}
	return nil
}

// OpenFindings lists up to limit open findings, oldest first.
func (db *DB) OpenFindings(ctx context.Context, limit int) ([]FindingRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT f.id, f.request_id, f.kind, f.api,
		CASE WHEN f.kind = 'state_differs' THEN coalesce(r.approval, '') ELSE f.desk_approval END,
		CASE WHEN f.kind = 'state_differs' THEN coalesce(r.submission, '') ELSE f.desk_submission END,
		f.collection_trans_id, f.refund_trans_id, f.neox_approval_status, f.neox_status, f.amount, f.note,
		f.failed_reason, f.neox_created_at, f.first_seen_at, f.last_seen_at
		FROM col_sweep_findings f LEFT JOIN refunds r ON r.id = f.request_id
		WHERE f.cleared_at = '' ORDER BY f.first_seen_at, f.id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: findings: %w", err)
	}
	defer rows.Close()
	var out []FindingRecord
	for rows.Next() {
		var f FindingRecord
		var created, first, last string
		if err := rows.Scan(&f.ID, &f.RequestID, &f.Kind, &f.API, &f.DeskApproval, &f.DeskSubmission, &f.CollectionTransID,
			&f.RefundTransID, &f.NeoXApprovalStatus, &f.NeoXStatus, &f.Amount, &f.Note, &f.FailedReason,
			&created, &first, &last); err != nil {
			return nil, err
		}
		for _, p := range []struct {
			s string
			t *time.Time
		}{{created, &f.NeoXCreatedAt}, {first, &f.FirstSeen}, {last, &f.LastSeen}} {
			if *p.t, err = refundParseTime(p.s); err != nil {
				return nil, err
			}
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// LastSweep returns the latest sweep, or ErrNotFound when none ran.
func (db *DB) LastSweep(ctx context.Context) (SweepRecord, error) {
	var sw SweepRecord
	var st, fin, from, to string
	err := db.Read.QueryRowContext(ctx, `SELECT id, started_at, finished_at, window_from, window_to, pages, docs,
		findings, error FROM col_sweeps ORDER BY id DESC LIMIT 1`).Scan(&sw.ID, &st, &fin, &from, &to, &sw.Pages,
		&sw.Docs, &sw.Findings, &sw.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return SweepRecord{}, ErrNotFound
	}
	if err != nil {
		return SweepRecord{}, fmt.Errorf("store: last sweep: %w", err)
	}
	for _, p := range []struct {
		s string
		t *time.Time
	}{{st, &sw.StartedAt}, {fin, &sw.Finished}, {from, &sw.From}, {to, &sw.To}} {
		if *p.t, err = refundParseTime(p.s); err != nil {
			return SweepRecord{}, err
		}
	}
	return sw, nil
}
