package refunds

import (
	"context"
	"sync"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// lane is one product's pool of workers for sends (QUEUED and UNKNOWN
// refunds) or for polls (PROCESSING ones). Polls have their own, smaller
// pool so that a backlog of refunds waiting on NeoX never delays sending
// a fresh approval.
type lane struct {
	api  API
	poll bool
}

// dispatchStates are the submission states the worker acts on, sends
// first so they get the first free slots.
var dispatchStates = []string{SubQueued, SubUnknown, SubProcessing}

// dispatchBatch bounds the rows read per state and round; a round happens
// whenever a worker frees up, so a longer backlog is served in turn.
const dispatchBatch = 200

// freshWindow is how recent an approval must be to go ahead of a backlog,
// and freshPerRound how many such refunds one round may put first.
const (
	freshWindow   = 2 * time.Second
	freshPerRound = 8
)

// dispatch hands due rows to idle workers and returns how long to sleep.
// Each state is read in next_attempt_at order through the
// (submission, next_attempt_at) index, so a round costs the rows it hands
// out, not the size of the backlog.
func (s *Service) dispatch(ctx context.Context, jobs map[lane]chan job, mu *sync.Mutex, busy map[string]bool) time.Duration {
	wait := s.opt.PollInterval
	if len(jobs) == 0 {
		return wait
	}
	now := s.now()
	for _, state := range dispatchStates {
		nFresh := 0
		due, next, err := s.db.DueRefunds(ctx, state, now, dispatchBatch)
		if err == nil && state == SubQueued && len(due) > 1 {
			// The refunds approved in the last moments go first, so an
			// approval made one by one while a backlog (a bulk approval)
			// is being sent goes out as soon as a worker frees up instead
			// of after the whole backlog. Few rows a round, so the
			// backlog does not starve.
			var fresh []store.DueRefund
			fresh, err = s.db.FreshDueRefunds(ctx, state, now.Add(-s.fresh), now, freshPerRound)
			due, nFresh = append(fresh, due...), len(fresh)
		}
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("refunds worker: scan", "state", state, "err", err)
			}
			return wait
		}
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(now), time.Millisecond))
		}
		mu.Lock()
		for i, c := range due {
			ch, ok := jobs[lane{API(c.API), state == SubProcessing}]
			if !ok || busy[c.ID] {
				continue
			}
			select {
			case ch <- job{id: c.ID, sub: state, fresh: i < nFresh}:
				busy[c.ID] = true
			default:
				// This lane is full; a freed worker wakes the loop.
			}
		}
		mu.Unlock()
	}
	return wait
}
