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
	"errors"
	"fmt"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/product/col"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// COLLister is the COL client's refund list (*neox.COL has it).
type COLLister interface {
	ListRefunds(ctx context.Context, lang string, q neox.COLListQuery) (neox.COLRefundPage, error)
}

// sweepLang is the language the sweep's NeoX calls ask for: no person
// reads their answers as they come, so NeoX's own default.
const sweepLang = "vi"

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
	neoxState := col.RefundOutcome(c).To // PROCESSING | SUCCEEDED | FAILED
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
	err := s.db.TxAt(ctx, now, func(tx *store.Tx) error {
		var err error
		sw.ID, err = tx.StartSweep(ctx, sw.From, sw.To)
		return err
	})
	if err != nil {
		return Sweep{}, fmt.Errorf("refunds: record sweep: %w", err)
	}
	runErr := s.sweepPages(ctx, lister, &sw)
	if runErr != nil {
		sw.Error = truncate(runErr.Error(), 500)
		s.log.Error("COL sweep failed", "sweep", sw.ID, "pages", sw.Pages, "err", runErr)
	}
	// Record the end even when ctx ended (a shutdown mid-sweep).
	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.db.TxAt(dbCtx, s.now(), func(tx *store.Tx) error {
		if runErr == nil {
			// What the whole window no longer shows is no longer different.
			if err := tx.ClearUnseenFindings(dbCtx, sw.ID, sw.From, sw.To); err != nil {
				return err
			}
		}
		var err error
		if sw.Findings, err = tx.OpenFindingCount(dbCtx); err != nil {
			return err
		}
		sw.Finished = tx.Now()
		if err := tx.FinishSweep(dbCtx, store.SweepRecord(sw)); err != nil {
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
		p, err := lister.ListRefunds(ctx, sweepLang, neox.COLListQuery{PageIndex: page, PageSize: colSweepPageSize, From: sw.From, To: sw.To})
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
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		desk, err := one(tx.Refund(ctx, c.RequestID))
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
		// kind "" clears every open finding about the refund; otherwise
		// the findings of the other kind.
		if err := tx.ClearFindings(ctx, c.RequestID, kind); err != nil || kind == "" {
			return err
		}
		return tx.SaveFinding(ctx, sweepID, store.FindingRecord{RequestID: c.RequestID, Kind: kind,
			DeskApproval: desk.Approval, DeskSubmission: desk.Submission, CollectionTransID: c.CollectionTransID,
			RefundTransID: c.RefundTransID, NeoXApprovalStatus: c.ApprovalStatus, NeoXStatus: c.Status,
			Amount: c.Amount, Note: truncate(c.Note, 500), FailedReason: truncate(c.FailedReason, 500),
			NeoXCreatedAt: c.CreatedAt})
	})
}

// Findings lists the open findings of the COL sweep, oldest first.
func (s *Service) Findings(ctx context.Context) ([]Finding, error) {
	// The desk's side is read now, not as the sweep saw it: a difference
	// the desk has caught up with since (a webhook or poll settled the
	// refund) is not shown, and the next sweep clears it.
	recs, err := s.db.OpenFindings(ctx, maxAttentionRows)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	var out []Finding
	for _, r := range recs {
		f := Finding(r)
		if f.Kind == FindingStateDiffers && !colDiffers(Refund{Approval: f.DeskApproval, Submission: f.DeskSubmission},
			neox.COLRefund{ApprovalStatus: f.NeoXApprovalStatus, Status: f.NeoXStatus}) {
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// LastSweep returns the latest COL sweep, or ErrNotFound when none ran.
func (s *Service) LastSweep(ctx context.Context) (Sweep, error) {
	sw, err := s.db.LastSweep(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return Sweep{}, ErrNotFound
	}
	if err != nil {
		return Sweep{}, fmt.Errorf("refunds: %w", err)
	}
	return Sweep(sw), nil
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
