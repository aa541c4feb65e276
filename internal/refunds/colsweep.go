package refunds

// The COL sweep: once a day the worker reads NeoX's COL refund list
// (GET v2/col/refund-requests, the documented reconciliation endpoint) over
// a window and compares it with the desk. Our refund id is NeoX's
// requestId. It lists, for a manager to review:
//   - unknown_to_desk: NeoX holds a refund request the desk has no record of
//     (made in NeoX's portal, by another system, or lost from the desk);
//   - state_differs: NeoX's state and the desk's disagree: the desk waits
//     (PROCESSING, UNKNOWN, …) while NeoX is final, the desk is final one
//     way and NeoX the other way or not final, or NeoX holds a refund the
//     desk never sent (pending, rejected, cancelled here).
//
// The sweep changes no refund: polling and webhooks settle refunds, and a
// difference that lasts is for a person. A finding is one row per
// (requestId, kind), updated by later sweeps and cleared by the first
// sweep that sees the difference gone. A failed sweep is recorded and shown,
// never fatal, and retried sooner than the next daily run.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// COLLister is the COL client's refund list (*neox.COL has it).
type COLLister interface {
	ListRefunds(ctx context.Context, q neox.COLListQuery) (neox.COLRefundPage, error)
}

// Defaults of the COL sweep.
const (
	DefaultCOLSweepEvery  = 24 * time.Hour
	DefaultCOLSweepWindow = 7 * 24 * time.Hour
	colSweepPageSize      = neox.MaxCOLPageSize
	colSweepMaxPages      = 200 // 100k refunds a window; more is reported as an error
	colSweepRetry         = time.Hour
)

// Finding kinds.
const (
	FindingUnknownToDesk = "unknown_to_desk"
	FindingStateDiffers  = "state_differs"
)

// ErrSweepRunning is returned by SweepCOL while another sweep runs.
var ErrSweepRunning = errors.New("refunds: a COL sweep is already running")

// Sweep is one run of the COL sweep.
type Sweep struct {
	ID                    int64
	StartedAt, Finished   time.Time
	From, To              time.Time
	Pages, Docs, Findings int
	Error                 string
}

// Finding is one difference between NeoX's COL refund list and the desk.
type Finding struct {
	ID                 int64
	RequestID          string
	Kind               string
	DeskApproval       string // "" when the desk does not know the refund
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

// colDiffers reports whether NeoX's view of a refund (mapped like a poll
// answer) disagrees with the desk's, and how NeoX's view maps.
func colDiffers(desk Refund, c neox.COLRefund) bool {
	neoxState := colRefundObservation(c).to // PROCESSING | SUCCEEDED | FAILED
	if desk.Approval != ApprovalApproved || desk.Submission == SubNotSent {
		return true // NeoX holds a refund the desk never sent
	}
	if isFinalSub(desk.Submission) || isFinalSub(neoxState) {
		return desk.Submission != neoxState
	}
	return false // both still on the way
}

// SweepCOL runs one COL sweep now over the window ending now. It returns
// the recorded run; a NeoX or database failure is recorded in it too.
// Errors: ErrNotConfigured (no COL, or a client without the list),
// ErrSweepRunning.
func (s *Service) SweepCOL(ctx context.Context) (Sweep, error) {
	lister, ok := s.gw.COL.(COLLister)
	if !ok || s.gw.COL == nil {
		return Sweep{}, ErrNotConfigured
	}
	if !s.sweepMu.TryLock() {
		return Sweep{}, ErrSweepRunning
	}
	defer s.sweepMu.Unlock()

	now := s.now()
	sw := Sweep{StartedAt: now, From: now.Add(-s.opt.COLSweepWindow), To: now}
	res, err := s.db.Write.ExecContext(ctx, `INSERT INTO col_sweeps (started_at, window_from, window_to) VALUES (?, ?, ?)`,
		fmtTime(sw.StartedAt), fmtTime(sw.From), fmtTime(sw.To))
	if err != nil {
		return Sweep{}, fmt.Errorf("refunds: record sweep: %w", err)
	}
	if sw.ID, err = res.LastInsertId(); err != nil {
		return Sweep{}, err
	}
	runErr := s.sweepPages(ctx, lister, &sw)
	if runErr != nil {
		sw.Error = truncate(runErr.Error(), 500)
		s.log.Error("COL sweep failed", "sweep", sw.ID, "pages", sw.Pages, "err", runErr)
	}
	// Record the end even when ctx ended (a shutdown mid-sweep).
	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.db.Tx(dbCtx, func(tx *store.Tx) error {
		if runErr == nil {
			// What the whole window no longer shows is no longer different.
			if _, err := tx.ExecContext(dbCtx, `UPDATE col_sweep_findings SET cleared_at = ?
				WHERE cleared_at = '' AND last_sweep_id <> ? AND neox_created_at >= ? AND neox_created_at <= ?`,
				fmtTime(s.now()), sw.ID, fmtTime(sw.From), fmtTime(sw.To)); err != nil {
				return err
			}
		}
		if err := tx.QueryRowContext(dbCtx, `SELECT count(*) FROM col_sweep_findings WHERE cleared_at = ''`).Scan(&sw.Findings); err != nil {
			return err
		}
		sw.Finished = s.now()
		if _, err := tx.ExecContext(dbCtx, `UPDATE col_sweeps SET finished_at = ?, pages = ?, docs = ?, findings = ?, error = ?
			WHERE id = ?`, fmtTime(sw.Finished), sw.Pages, sw.Docs, sw.Findings, sw.Error, sw.ID); err != nil {
			return err
		}
		outcome := audit.OutcomeSuccess
		d := map[string]any{"api": "COL", "sweep": sw.ID, "pages": sw.Pages, "docs": sw.Docs, "findings": sw.Findings,
			"from": fmtTime(sw.From), "to": fmtTime(sw.To)}
		if sw.Error != "" {
			outcome, d["error"] = audit.OutcomeFailure, sw.Error
		}
		return s.rec.Record(dbCtx, tx, audit.Event{ActorName: "system", Action: audit.ActionCOLSweep, Outcome: outcome,
			TargetType: "col_sweep", TargetID: fmt.Sprint(sw.ID), Details: d})
	})
	if err != nil {
		return sw, fmt.Errorf("refunds: record sweep: %w", err)
	}
	return sw, nil
}

// sweepPages reads every page of the window and records each difference.
func (s *Service) sweepPages(ctx context.Context, lister COLLister, sw *Sweep) error {
	for page := 1; ; page++ {
		if page > colSweepMaxPages {
			return fmt.Errorf("more than %d pages of %d refunds in the window; shorten COL_SWEEP_WINDOW", colSweepMaxPages, colSweepPageSize)
		}
		p, err := lister.ListRefunds(ctx, neox.COLListQuery{PageIndex: page, PageSize: colSweepPageSize, From: sw.From, To: sw.To})
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		sw.Pages++
		sw.Docs += len(p.Docs)
		for _, c := range p.Docs {
			if err := s.compareCOL(ctx, sw.ID, c); err != nil {
				return err
			}
		}
		if page >= p.TotalPages || len(p.Docs) == 0 {
			return nil
		}
	}
}

// compareCOL records what one NeoX refund says against the desk.
func (s *Service) compareCOL(ctx context.Context, sweepID int64, c neox.COLRefund) error {
	if c.RequestID == "" {
		return nil
	}
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		desk, err := getRefund(ctx, tx, c.RequestID)
		kind := ""
		switch {
		case errors.Is(err, ErrNotFound):
			kind = FindingUnknownToDesk
		case err != nil:
			return err
		case desk.API != APICOL:
			kind = FindingUnknownToDesk
			desk = Refund{}
		case colDiffers(desk, c):
			kind = FindingStateDiffers
		}
		now := fmtTime(s.now())
		if kind == "" {
			_, err := tx.ExecContext(ctx, `UPDATE col_sweep_findings SET cleared_at = ? WHERE request_id = ? AND cleared_at = ''`,
				now, c.RequestID)
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE col_sweep_findings SET cleared_at = ?
			WHERE request_id = ? AND kind <> ? AND cleared_at = ''`, now, c.RequestID, kind); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO col_sweep_findings (request_id, kind, desk_approval, desk_submission,
			collection_trans_id, refund_trans_id, neox_approval_status, neox_status, amount, note, failed_reason,
			neox_created_at, first_seen_at, last_seen_at, last_sweep_id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (request_id, kind) DO UPDATE SET desk_approval = excluded.desk_approval,
				desk_submission = excluded.desk_submission, collection_trans_id = excluded.collection_trans_id,
				refund_trans_id = excluded.refund_trans_id, neox_approval_status = excluded.neox_approval_status,
				neox_status = excluded.neox_status, amount = excluded.amount, note = excluded.note,
				failed_reason = excluded.failed_reason, neox_created_at = excluded.neox_created_at,
				last_seen_at = excluded.last_seen_at, last_sweep_id = excluded.last_sweep_id, cleared_at = '',
				first_seen_at = CASE WHEN col_sweep_findings.cleared_at <> '' THEN excluded.first_seen_at
					ELSE col_sweep_findings.first_seen_at END`,
			c.RequestID, kind, desk.Approval, desk.Submission, c.CollectionTransID, c.RefundTransID, c.ApprovalStatus,
			c.Status, c.Amount, truncate(c.Note, 500), truncate(c.FailedReason, 500), fmtTime(c.CreatedAt), now, now, sweepID)
		return err
	})
}

// Findings lists the open findings of the COL sweep, oldest first.
func (s *Service) Findings(ctx context.Context) ([]Finding, error) {
	// The desk's side is read now, not as the sweep saw it: a difference
	// the desk has caught up with since (a webhook or poll settled the
	// refund) is not shown, and the next sweep clears it.
	rows, err := s.db.Read.QueryContext(ctx, `SELECT f.id, f.request_id, f.kind,
		CASE WHEN f.kind = 'state_differs' THEN coalesce(r.approval, '') ELSE f.desk_approval END,
		CASE WHEN f.kind = 'state_differs' THEN coalesce(r.submission, '') ELSE f.desk_submission END,
		f.collection_trans_id, f.refund_trans_id, f.neox_approval_status, f.neox_status, f.amount, f.note,
		f.failed_reason, f.neox_created_at, f.first_seen_at, f.last_seen_at
		FROM col_sweep_findings f LEFT JOIN refunds r ON r.id = f.request_id
		WHERE f.cleared_at = '' ORDER BY f.first_seen_at, f.id LIMIT ?`, maxAttentionRows)
	if err != nil {
		return nil, fmt.Errorf("refunds: findings: %w", err)
	}
	defer rows.Close()
	var out []Finding
	for rows.Next() {
		var f Finding
		var created, first, last string
		if err := rows.Scan(&f.ID, &f.RequestID, &f.Kind, &f.DeskApproval, &f.DeskSubmission, &f.CollectionTransID,
			&f.RefundTransID, &f.NeoXApprovalStatus, &f.NeoXStatus, &f.Amount, &f.Note, &f.FailedReason,
			&created, &first, &last); err != nil {
			return nil, err
		}
		for _, p := range []struct {
			s string
			t *time.Time
		}{{created, &f.NeoXCreatedAt}, {first, &f.FirstSeen}, {last, &f.LastSeen}} {
			if *p.t, err = parseTime(p.s); err != nil {
				return nil, err
			}
		}
		if f.Kind == FindingStateDiffers && !colDiffers(Refund{Approval: f.DeskApproval, Submission: f.DeskSubmission},
			neox.COLRefund{ApprovalStatus: f.NeoXApprovalStatus, Status: f.NeoXStatus}) {
			continue
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// LastSweep returns the latest COL sweep, or ErrNotFound when none ran.
func (s *Service) LastSweep(ctx context.Context) (Sweep, error) {
	var sw Sweep
	var st, fin, from, to string
	err := s.db.Read.QueryRowContext(ctx, `SELECT id, started_at, finished_at, window_from, window_to, pages, docs,
		findings, error FROM col_sweeps ORDER BY id DESC LIMIT 1`).Scan(&sw.ID, &st, &fin, &from, &to, &sw.Pages,
		&sw.Docs, &sw.Findings, &sw.Error)
	if errors.Is(err, sql.ErrNoRows) {
		return Sweep{}, ErrNotFound
	}
	if err != nil {
		return Sweep{}, fmt.Errorf("refunds: last sweep: %w", err)
	}
	for _, p := range []struct {
		s string
		t *time.Time
	}{{st, &sw.StartedAt}, {fin, &sw.Finished}, {from, &sw.From}, {to, &sw.To}} {
		if *p.t, err = parseTime(p.s); err != nil {
			return Sweep{}, err
		}
	}
	return sw, nil
}

// COLSweepEnabled reports whether the worker sweeps COL, and how often.
func (s *Service) COLSweepEnabled() (bool, time.Duration) {
	_, ok := s.gw.COL.(COLLister)
	return ok && s.gw.COL != nil && s.opt.COLSweepEvery > 0, s.opt.COLSweepEvery
}

// nextSweep is when the next sweep is due after last: a day (the interval)
// after a good one, sooner after a failed or unfinished one.
func (s *Service) nextSweep(last Sweep) time.Time {
	if last.Error != "" || last.Finished.IsZero() {
		return last.StartedAt.Add(min(s.opt.COLSweepEvery, colSweepRetry))
	}
	return last.StartedAt.Add(s.opt.COLSweepEvery)
}

// sweepLoop runs the COL sweep for as long as ctx lasts: at start when the
// last one is due (the schedule survives restarts), then every interval.
func (s *Service) sweepLoop(ctx context.Context) {
	for {
		due := s.now()
		switch last, err := s.LastSweep(ctx); {
		case err == nil:
			due = s.nextSweep(last)
		case !errors.Is(err, ErrNotFound):
			if ctx.Err() != nil {
				return
			}
			s.log.Error("COL sweep: read the last run", "err", err)
			due = s.now().Add(colSweepRetry)
		}
		if wait := due.Sub(s.now()); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if ctx.Err() != nil {
			return
		}
		if _, err := s.SweepCOL(ctx); err != nil && !errors.Is(err, ErrSweepRunning) && ctx.Err() == nil {
			s.log.Error("COL sweep", "err", err)
			// Not even recorded: wait before trying again.
			t := time.NewTimer(colSweepRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}
