package refunds

// The sweep: once a day the worker reads, for every product that can list
// its refunds (a product.Sweeper: COL's GET v2/col/refund-requests, the
// documented reconciliation endpoint), NeoX's refund list over a window
// and compares it with the desk. Our refund id is NeoX's request id. It
// lists, for a manager to review:
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
// sweep that sees the difference gone. One run sweeps every such product
// (one schedule, one record); a failed run is recorded and shown, never
// fatal, and retried sooner than the next daily run. What a product
// lists and how it maps NeoX's states is the product's (product/col).

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Defaults of the sweep (COL_SWEEP_INTERVAL, COL_SWEEP_WINDOW).
const (
	DefaultSweepEvery  = 24 * time.Hour
	DefaultSweepWindow = 7 * 24 * time.Hour
	sweepRetry         = time.Hour
)

// Finding kinds.
const (
	FindingUnknownToDesk = "unknown_to_desk"
	FindingStateDiffers  = "state_differs"
)

// ErrSweepRunning is returned by SweepNow while another sweep runs, on this
// instance or another (and by the schedule when another instance started
// the sweep it was waiting for).
var ErrSweepRunning = errors.New("refunds: a sweep is already running")

// Sweep is one run of the sweep, over every product that sweeps.
type Sweep struct {
	ID                    int64
	StartedAt, Finished   time.Time
	From, To              time.Time
	Pages, Docs, Findings int
	Error                 string
}

// Finding is one difference between a product's NeoX refund list and the
// desk.
type Finding struct {
	ID                 int64
	RequestID          string
	Kind               string
	API                string // the product whose NeoX list showed it
	DeskApproval       string // "" when the desk does not know the refund
	DeskSubmission     string
	CollectionTransID  string // what NeoX's refund refunds (product.Swept.TargetRef)
	RefundTransID      string // NeoX's refund id
	NeoXApprovalStatus string
	NeoXStatus         string
	Amount             int64
	Note               string
	FailedReason       string
	NeoXCreatedAt      time.Time
	FirstSeen          time.Time
	LastSeen           time.Time
}

// differs reports whether NeoX's state of a refund (neoxState, mapped by
// its product like a poll answer) disagrees with the desk's.
func differs(desk Refund, neoxState string) bool {
	if desk.Approval != ApprovalApproved || desk.Submission == SubNotSent {
		return true // NeoX holds a refund the desk never sent
	}
	if isFinalSub(desk.Submission) || isFinalSub(neoxState) {
		return desk.Submission != neoxState
	}
	return false // both still on the way
}

// sweeper is a product that is swept.
type sweeper interface {
	product.Product
	product.Sweeper
}

// sweepers lists the configured products that sweep, in the registry's
// order.
func (s *Service) sweepers() []sweeper {
	var out []sweeper
	for _, p := range s.products.All() {
		if sp, ok := p.(sweeper); ok && p.Configured() && sp.Sweeps() {
			out = append(out, sp)
		}
	}
	return out
}

// sweeperOf is the product of api if it sweeps.
func (s *Service) sweeperOf(api API) (product.Sweeper, bool) {
	p, ok := s.products.Get(string(api))
	if !ok {
		return nil, false
	}
	sp, ok := p.(product.Sweeper)
	return sp, ok
}

// SweepNow runs one sweep now over the window ending now, of every
// product that sweeps. It returns the recorded run; a NeoX or database
// failure is recorded in it too. Errors: ErrNotConfigured (no product
// sweeps), ErrSweepRunning.
func (s *Service) SweepNow(ctx context.Context) (Sweep, error) {
	return s.sweepNow(ctx, store.SweepAny)
}

// sweepNow is SweepNow for a schedule based on run after (its id, 0 for
// none): when another instance has started a sweep since, it returns
// ErrSweepRunning and does not sweep.
func (s *Service) sweepNow(ctx context.Context, after int64) (Sweep, error) {
	sps := s.sweepers()
	if len(sps) == 0 {
		return Sweep{}, ErrNotConfigured
	}
	if !s.sweepMu.TryLock() {
		return Sweep{}, ErrSweepRunning
	}
	defer s.sweepMu.Unlock()

	now := s.now()
	sw := Sweep{StartedAt: now, From: now.Add(-s.opt.SweepWindow), To: now}
	err := s.db.TxAt(ctx, now, func(tx *store.Tx) error {
		var err error
		sw.ID, err = tx.StartSweep(ctx, sw.From, sw.To, after, sweepRetry)
		return err
	})
	if errors.Is(err, store.ErrSweepStarted) {
		return Sweep{}, ErrSweepRunning
	}
	if err != nil {
		return Sweep{}, fmt.Errorf("refunds: record sweep: %w", err)
	}
	var errs []error
	var names, read []string // read: the products whose whole window was read
	for _, sp := range sps {
		names = append(names, sp.Name())
		pages, err := s.sweepOne(ctx, sp, &sw)
		sw.Pages += pages
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", sp.Name(), err))
		} else {
			read = append(read, sp.Name())
		}
	}
	runErr := errors.Join(errs...)
	if runErr != nil {
		sw.Error = truncate(runErr.Error(), 500)
		s.log.Error("sweep failed", "sweep", sw.ID, "products", names, "pages", sw.Pages, "err", runErr)
	}
	// Record the end even when ctx ended (a shutdown mid-sweep).
	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err = s.db.TxAt(dbCtx, s.now(), func(tx *store.Tx) error {
		// What a product's whole window no longer shows is no longer
		// different; a list read only in part clears nothing.
		for _, api := range read {
			if err := tx.ClearUnseenFindings(dbCtx, sw.ID, api, sw.From, sw.To); err != nil {
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
		d := map[string]any{"api": strings.Join(names, ","), "sweep": sw.ID, "pages": sw.Pages, "docs": sw.Docs,
			"findings": sw.Findings, "from": fmtTime(sw.From), "to": fmtTime(sw.To)}
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

// sweepOne reads sp's list for sw and compares each refund in it. A
// product that panics has failed its sweep: the run is recorded, and the
// worker lives on.
func (s *Service) sweepOne(ctx context.Context, sp sweeper, sw *Sweep) (pages int, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("product panicked: %v", v)
			s.log.Error("sweep: product panicked", "api", sp.Name(), "panic", v, "stack", string(debug.Stack()))
		}
	}()
	return sp.Sweep(ctx, sw.From, sw.To, func(x product.Swept) error {
		sw.Docs++
		return s.compare(ctx, sw.ID, API(sp.Name()), sp, x)
	})
}

// compare records what one refund in api's NeoX list says against the
// desk.
func (s *Service) compare(ctx context.Context, sweepID int64, api API, sp product.Sweeper, x product.Swept) error {
	if x.RequestID == "" {
		return nil
	}
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		desk, err := one(tx.Refund(ctx, x.RequestID))
		kind := ""
		switch {
		case errors.Is(err, ErrNotFound):
			kind = FindingUnknownToDesk
		case err != nil:
			return err
		case desk.API != api:
			kind = FindingUnknownToDesk
			desk = Refund{}
		case differs(desk, sp.SweptState(x.ApprovalStatus, x.Status)):
			kind = FindingStateDiffers
		}
		// kind "" clears every open finding about the refund; otherwise
		// the findings of the other kind.
		if err := tx.ClearFindings(ctx, x.RequestID, kind); err != nil || kind == "" {
			return err
		}
		return tx.SaveFinding(ctx, sweepID, store.FindingRecord{RequestID: x.RequestID, Kind: kind, API: string(api),
			DeskApproval: desk.Approval, DeskSubmission: desk.Submission, CollectionTransID: x.TargetRef,
			RefundTransID: x.NeoXRefundID, NeoXApprovalStatus: x.ApprovalStatus, NeoXStatus: x.Status,
			Amount: x.Amount, Note: truncate(x.Note, 500), FailedReason: truncate(x.FailedReason, 500),
			NeoXCreatedAt: x.CreatedAt})
	})
}

// Findings lists the open findings of the sweep, oldest first.
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
		if f.Kind == FindingStateDiffers {
			// A product that no longer sweeps keeps its findings shown.
			if sp, ok := s.sweeperOf(API(f.API)); ok && !differs(Refund{Approval: f.DeskApproval, Submission: f.DeskSubmission},
				sp.SweptState(f.NeoXApprovalStatus, f.NeoXStatus)) {
				continue
			}
		}
		out = append(out, f)
	}
	return out, nil
}

// LastSweep returns the latest sweep, or ErrNotFound when none ran.
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

// Sweepers names the products that sweep, in the registry's order; when
// none does, the registered products that could if configured (the page
// says which sweep is off).
func (s *Service) Sweepers() []string {
	var on, could []string
	for _, p := range s.products.All() {
		if sp, ok := p.(product.Sweeper); ok {
			could = append(could, p.Name())
			if p.Configured() && sp.Sweeps() {
				on = append(on, p.Name())
			}
		}
	}
	if len(on) > 0 {
		return on
	}
	return could
}

// SweepEnabled reports whether the worker sweeps (a configured product
// sweeps, and the interval is not off), and how often.
func (s *Service) SweepEnabled() (bool, time.Duration) {
	return len(s.sweepers()) > 0 && s.opt.SweepEvery > 0, s.opt.SweepEvery
}

// nextSweep is when the next sweep is due after last: a day (the interval)
// after a good one, sooner after a failed or unfinished one.
func (s *Service) nextSweep(last Sweep) time.Time {
	if last.Error != "" || last.Finished.IsZero() {
		return last.StartedAt.Add(min(s.opt.SweepEvery, sweepRetry))
	}
	return last.StartedAt.Add(s.opt.SweepEvery)
}

// sweepLoop runs the sweep for as long as ctx lasts: at start when the
// last one is due (the schedule survives restarts), then every interval.
func (s *Service) sweepLoop(ctx context.Context) {
	for {
		due := s.now()
		var after int64 // the run the schedule is based on: another instance's start since makes this one's stand down
		switch last, err := s.LastSweep(ctx); {
		case err == nil:
			due, after = s.nextSweep(last), last.ID
		case !errors.Is(err, ErrNotFound):
			if ctx.Err() != nil {
				return
			}
			s.log.Error("sweep: read the last run", "err", err)
			due = s.now().Add(sweepRetry)
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
		if _, err := s.sweepNow(ctx, after); err != nil && !errors.Is(err, ErrSweepRunning) && ctx.Err() == nil {
			s.log.Error("sweep", "err", err)
			// Not even recorded: wait before trying again.
			t := time.NewTimer(sweepRetry)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}
}
