package refunds

import (
	"context"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// poll asks NeoX about a PROCESSING refund (the fallback to webhooks).
func (s *Service) poll(ctx context.Context, id string) error {
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if r.Submission != SubProcessing || r.NextAttemptAt.After(s.now()) {
		return nil
	}
	ob, c := s.askProduct(ctx, r)
	s.health.record(r.API, s.now(), c)
	s.opt.Observer.WorkerPoll(r.API, c.outcome)
	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.db.TxAt(dbCtx, s.now(), func(tx *store.Tx) error {
		if err := s.recordCalls(dbCtx, tx, r, []call{c}); err != nil {
			return err
		}
		cur, err := one(tx.Refund(dbCtx, id))
		if err != nil || cur.Submission != SubProcessing {
			return err
		}
		if ob.to != "" {
			moved, err := s.advance(dbCtx, tx, cur, ob, "system", "poll")
			if err != nil || moved {
				return err
			}
		}
		// Still processing (NeoX fields refreshed above): poll again later.
		lastErr := ""
		if c.outcome != "success" {
			lastErr = truncate(c.op+": "+c.message, 500)
		}
		return tx.SchedulePoll(dbCtx, id, s.now().Add(s.pollDelay(cur)), lastErr)
	})
}

// askProduct is the poll's NeoX call, through r's product. A product that
// is not registered, or that panics, is a failed call: the refund stays
// PROCESSING and is polled again later.
func (s *Service) askProduct(ctx context.Context, r Refund) (ob observation, c call) {
	defer func() {
		if v := recover(); v != nil {
			err := fmt.Errorf("refunds: product %s panicked: %v", r.API, v)
			s.log.Error("refunds worker: product panicked", "refund", r.ID, "api", string(r.API), "panic", v,
				"stack", string(debug.Stack()))
			ob, c = observation{}, call{op: "poll", outcome: "unknown", message: err.Error()}
		}
	}()
	p, err := s.product(r.API)
	if err != nil {
		return observation{}, call{op: "poll", outcome: "unknown", message: err.Error()}
	}
	out, pc := p.Poll(ctx, desk{s}, productRefund(r))
	return observe(out), timedCall(pc)
}

// maxPollDelay caps the wait between two polls of a PROCESSING refund.
const maxPollDelay = time.Hour

// pollDelay is how long to wait before asking NeoX again about a refund in
// PROCESSING: PollInterval at first, then a tenth of the time since approval
// (capped at an hour). Webhooks still bring the outcome at once; the polls,
// each a NeoX call with its audit row, thin out for refunds that take days.
func (s *Service) pollDelay(r Refund) time.Duration {
	d := s.opt.PollInterval
	if !r.DecidedAt.IsZero() {
		d = max(d, s.now().Sub(r.DecidedAt)/10)
	}
	return min(d, max(maxPollDelay, s.opt.PollInterval))
}
