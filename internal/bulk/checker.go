package bulk

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Defaults of CheckOptions.
const (
	DefaultLookups = 8                // BULK_LOOKUP_CONCURRENCY
	MaxLookups     = 64               // the most BULK_LOOKUP_CONCURRENCY accepts
	defaultLease   = 30 * time.Second // a checker's claim on a batch, renewed as it writes
	defaultFlush   = 250 * time.Millisecond
	defaultRows    = 100
	defaultBatches = 4
)

// CheckOptions tune the background check of uploaded batches (Run).
type CheckOptions struct {
	// Lookups is how many rows this process checks at once, over all the
	// batches it checks: each check asks NeoX (BULK_LOOKUP_CONCURRENCY);
	// 0 means DefaultLookups.
	Lookups int
	// Lease is how long a checker's claim on a batch holds unless renewed
	// (it is renewed with every write, at least every Lease/4): a batch
	// whose checker died is taken over by another once it has run out.
	// 0 means 30 s.
	Lease time.Duration
	// Sole says no other checker can run on the database (SQLite: one
	// server per file), so a batch left CHECKING by anyone else is a dead
	// process's, resumed at once whatever its lease says.
	Sole bool
	// FlushRows and FlushEvery: verdicts are written every FlushRows rows
	// or every FlushEvery, whichever comes first; 0 means 100 and 250 ms.
	FlushRows  int
	FlushEvery time.Duration
	// Poll is how often batches left CHECKING (a lease run out on another
	// instance) are looked for between uploads; 0 means Lease/2.
	Poll time.Duration
	// Batches is how many batches this process checks at once (sharing
	// Lookups); 0 means 4.
	Batches int
	// Owner names this checker in leases; "" means a random id.
	Owner string
	// Texts renders a row's error in a language (the uploader's); nil
	// writes the error's own text.
	Texts func(lang string) Texts
	// Logger hears about failures; nil means slog.Default().
	Logger *slog.Logger
}

func (o CheckOptions) withDefaults() CheckOptions {
	if o.Lookups <= 0 {
		o.Lookups = DefaultLookups
	}
	if o.Lease <= 0 {
		o.Lease = defaultLease
	}
	if o.FlushRows <= 0 {
		o.FlushRows = defaultRows
	}
	if o.FlushEvery <= 0 {
		o.FlushEvery = defaultFlush
	}
	if o.Poll <= 0 {
		o.Poll = o.Lease / 2
	}
	if o.Batches <= 0 {
		o.Batches = defaultBatches
	}
	if o.Owner == "" {
		b := make([]byte, 8)
		_, _ = rand.Read(b)
		o.Owner = "bulk-" + hex.EncodeToString(b)
	}
	if o.Texts == nil {
		o.Texts = func(string) Texts { return func(err error) string { return err.Error() } }
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Wake tells Run a batch waits to be checked.
func (s *Service) Wake() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Run checks uploaded batches in the background until ctx is done, then
// writes the verdicts it has, lets go of its batches (another instance may
// take them over at once) and returns once every goroutine has stopped.
// At start, and at every upload (Wake) or Poll, it claims the batches left
// CHECKING that nobody holds (CheckOptions.Sole: every one), up to
// Batches at once, and checks their unchecked rows, Lookups at once over
// all of them, writing verdicts as it goes: a batch a stopped process left
// half checked is resumed from its first unchecked row.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(s.opt.Poll)
	defer tick.Stop()
	for {
		if err := s.claim(ctx, &wg); err != nil && ctx.Err() == nil {
			s.opt.Logger.Error("bulk: claim batches to check", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-s.wake:
		case <-tick.C:
		}
	}
}

// claim takes the batches it can and starts checking each.
func (s *Service) claim(ctx context.Context, wg *sync.WaitGroup) error {
	ids, err := s.db.CheckingBatches(ctx, 50)
	if err != nil {
		return err
	}
	for _, id := range ids {
		s.mu.Lock()
		_, mine := s.running[id]
		full := len(s.running) >= s.opt.Batches
		if !mine && !full {
			s.running[id] = func() {} // the slot, until claimed
		}
		s.mu.Unlock()
		if mine {
			continue
		}
		if full {
			return nil
		}
		var ok bool
		err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
			var err error
			ok, err = tx.ClaimBatchCheck(ctx, id, s.owner, s.now().Add(s.opt.Lease), s.opt.Sole)
			return err
		})
		if err != nil || !ok {
			s.mu.Lock()
			delete(s.running, id)
			s.mu.Unlock()
			if err != nil {
				return err
			}
			continue
		}
		bctx, cancel := context.WithCancel(ctx)
		s.mu.Lock()
		s.running[id] = cancel
		s.mu.Unlock()
		wg.Go(func() {
			defer s.Wake() // a slot is free: look again
			defer func() {
				cancel()
				s.mu.Lock()
				delete(s.running, id)
				s.mu.Unlock()
			}()
			if err := s.checkBatch(bctx, id); err != nil && !errors.Is(err, errLost) && ctx.Err() == nil {
				s.opt.Logger.Error("bulk: check batch", "batch", id, "err", err)
			}
		})
	}
	return nil
}

// errLost: the batch is no longer this checker's (cancelled, or taken over
// after its lease ran out).
var errLost = errors.New("bulk: batch no longer ours to check")

// checkBatch checks the unchecked rows of a batch this checker has
// claimed and moves it to PREVIEW when none is left.
func (s *Service) checkBatch(ctx context.Context, id string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b, err := s.db.Batch(ctx, id)
	if err != nil {
		return err
	}
	rows, err := s.db.UncheckedRows(ctx, id)
	if err != nil {
		return err
	}
	actor := s.uploader(ctx, b)
	text := s.opt.Texts(b.Lang)
	groups := s.groups(actor, rows)

	results := make(chan store.BatchRowRecord, s.opt.Lookups)
	fed := make(chan struct{})
	go func() {
		defer close(fed)
		var wg sync.WaitGroup
		defer func() { wg.Wait(); close(results) }()
		for _, g := range groups {
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				defer func() { <-s.sem }()
				lk := g.lookup(ctx, s.refunds, actor.Lang)
				for _, r := range g.rows {
					err := s.check(ctx, actor, &r, lk)
					if ctx.Err() != nil {
						return // stopped: the row stays CHECKING for whoever resumes
					}
					r.Status = StatusOK
					if err != nil {
						r.Status, r.Message = StatusError, text(err)
					}
					select {
					case results <- r:
					case <-ctx.Done():
						return
					}
				}
			})
		}
	}()
	defer func() { <-fed }()

	var pending []store.BatchRowRecord
	renewed := time.Now()
	flush := func(ctx context.Context, force bool) error {
		if len(pending) == 0 && !force && time.Since(renewed) < s.opt.Lease/4 {
			return nil
		}
		if err := s.saveVerdicts(ctx, id, pending, s.now().Add(s.opt.Lease)); err != nil {
			return err
		}
		pending, renewed = pending[:0], time.Now()
		return nil
	}
	tick := time.NewTicker(s.opt.FlushEvery)
	defer tick.Stop()
	for {
		select {
		case r, ok := <-results:
			if !ok {
				if ctx.Err() != nil {
					return s.letGo(ctx, id, pending)
				}
				if err := flush(ctx, true); err != nil {
					return err
				}
				return s.finish(ctx, id)
			}
			pending = append(pending, r)
			if len(pending) >= s.opt.FlushRows {
				if err := flush(ctx, false); err != nil {
					return err
				}
			}
		case <-tick.C:
			if err := flush(ctx, false); errors.Is(err, errLost) {
				return nil // cancelled or taken over: its new owner carries on
			} else if err != nil {
				s.opt.Logger.Warn("bulk: write verdicts (retried)", "batch", id, "err", err)
			}
		case <-ctx.Done():
			return s.letGo(ctx, id, pending)
		}
	}
}

// group is the rows of a file a check takes together: one row, or the
// rows naming one transaction, which share NeoX's answer for it (a PG
// transaction's payments are all in one QUERY_PT answer; a GC order or a
// COL transaction named twice is asked once). A group holds one lookup
// slot while its rows are checked one after another with that answer, so
// no slot waits on another's lookup. Only transactions named by two rows
// or more are looked up for sharing (the lookup also refreshes the desk's
// transaction cache, a write a single row would not repay); a failed
// lookup shares nothing: each row then asks NeoX itself and gets its own
// error, as the form would. The answer lives as long as one check of one
// file: Create asks NeoX again at the submit.
type group struct {
	rows   []store.BatchRowRecord
	shared bool
}

func groupKey(r store.BatchRowRecord) string {
	return r.API + "\x00" + r.TransactionRef + "\x00" + r.SubMerchantID
}

// groups splits rows into groups, in the order of their first rows.
func (s *Service) groups(actor refunds.Actor, rows []store.BatchRowRecord) []group {
	share := s.permit(actor) == nil // refused anyway: ask NeoX nothing for sharing
	var out []group
	at := map[string]int{}
	for _, r := range rows {
		k := groupKey(r)
		if i, ok := at[k]; ok && share {
			out[i].rows = append(out[i].rows, r)
			out[i].shared = true
			continue
		}
		at[k] = len(out)
		out = append(out, group{rows: []store.BatchRowRecord{r}})
	}
	return out
}

// lookup asks NeoX for a shared group's transaction; nil for a row alone
// or when the lookup failed.
func (g group) lookup(ctx context.Context, rs *refunds.Service, lang string) *refunds.Lookup {
	if !g.shared {
		return nil
	}
	r := g.rows[0]
	l, err := rs.LookupSubMerchant(ctx, lang, refunds.API(r.API), r.TransactionRef, r.SubMerchantID)
	if err != nil {
		return nil
	}
	return &l
}

// letGo writes the verdicts a stopping checker has and ends its lease
// now, so another instance resumes the batch at once.
func (s *Service) letGo(ctx context.Context, id string, pending []store.BatchRowRecord) error {
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.saveVerdicts(wctx, id, pending, s.now()); err != nil && !errors.Is(err, errLost) {
		return err
	}
	return nil
}

// saveVerdicts writes rows' verdicts and renews the lease to until, in
// one transaction; errLost when the batch is no longer this checker's.
func (s *Service) saveVerdicts(ctx context.Context, id string, rows []store.BatchRowRecord, until time.Time) error {
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		ok, err := tx.RenewBatchLease(ctx, id, s.owner, until)
		if err != nil {
			return err
		}
		if !ok {
			return errLost
		}
		for _, r := range rows {
			if err := tx.SetBatchRowVerdict(ctx, id, r); err != nil {
				return err
			}
		}
		return nil
	})
}

// finish moves a fully checked batch to PREVIEW, with its audit event.
func (s *Service) finish(ctx context.Context, id string) error {
	err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		ok, err := tx.FinishBatchCheck(ctx, id, s.owner)
		if err != nil || !ok {
			return err // cancelled or taken over meanwhile
		}
		n, err := tx.BatchStatusCounts(ctx, id)
		if err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorName: "system", Action: audit.ActionBatchChecked,
			Outcome: audit.OutcomeSuccess, TargetType: "batch", TargetID: id,
			Details: map[string]any{"rows": n[StatusOK] + n[StatusError], "valid": n[StatusOK], "errors": n[StatusError]}})
	})
	if err != nil {
		return fmt.Errorf("bulk: finish check: %w", err)
	}
	return nil
}

// uploader is the batch's uploader as the checks see them: their role
// now (a user disabled or moved to a role that may not request refunds
// since the upload gets every row refused), the batch's language.
func (s *Service) uploader(ctx context.Context, b store.BatchRecord) refunds.Actor {
	a := refunds.Actor{ID: b.UploadedBy, Name: b.UploadedByName, Lang: b.Lang}
	if u, err := s.db.UserByID(ctx, b.UploadedBy); err == nil && !u.Disabled {
		a.Role = policy.Role(u.Role)
	}
	return a
}

// Cancel stops the check of actor's batch: it becomes CANCELLED (nothing
// of it can be submitted) and this process stops asking NeoX for it at
// once (another instance checking it stops at its next write). A batch
// not CHECKING is returned unchanged. Errors: ErrNotFound, ErrNotYours,
// ErrForbidden.
func (s *Service) Cancel(ctx context.Context, actor refunds.Actor, id string) (Batch, error) {
	if err := s.permit(actor); err != nil {
		return Batch{}, err
	}
	b, err := s.own(ctx, actor, id)
	if err != nil || b.State != StateChecking {
		return Batch{BatchRecord: b}, err
	}
	p, err := s.db.BatchProgress(ctx, id)
	if err != nil {
		return Batch{}, fmt.Errorf("bulk: %w", err)
	}
	err = s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		ok, err := tx.CancelBatchCheck(ctx, id)
		if err != nil || !ok {
			return err // finished (or cancelled) meanwhile
		}
		return s.rec.Record(ctx, tx, audit.Event{ActorID: actor.ID, ActorName: actor.Name, ActorRole: string(actor.Role),
			Action: audit.ActionBatchCancelled, Outcome: audit.OutcomeSuccess, TargetType: "batch", TargetID: id,
			Details: map[string]any{"rows": p.Rows, "checked": p.Rows - p.Pending}})
	})
	if err != nil {
		return Batch{}, fmt.Errorf("bulk: cancel: %w", err)
	}
	s.mu.Lock()
	if stop := s.running[id]; stop != nil {
		stop()
	}
	s.mu.Unlock()
	rec, err := s.own(ctx, actor, id)
	return Batch{BatchRecord: rec}, err
}

// Progress returns actor's batch without its rows, and how far its check
// has come. Errors: ErrNotFound, ErrNotYours.
func (s *Service) Progress(ctx context.Context, actor refunds.Actor, id string) (Batch, store.BatchProgress, error) {
	b, err := s.own(ctx, actor, id)
	if err != nil {
		return Batch{}, store.BatchProgress{}, err
	}
	p, err := s.db.BatchProgress(ctx, id)
	if err != nil {
		return Batch{}, p, fmt.Errorf("bulk: %w", err)
	}
	return Batch{BatchRecord: b, Pending: p.Pending}, p, nil
}
