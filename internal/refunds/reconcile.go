package refunds

import (
	"context"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// reconcile asks NeoX whether an earlier attempt reached it. done means the
// observation is adopted and nothing is sent.
func (s *Service) reconcile(ctx context.Context, r Refund) (observation, bool, []call) {
	t0 := time.Now()
	switch r.API {
	case APICOL:
		got, err := s.gw.COL.GetRefund(ctx, r.ID)
		c := s.timed("get_refund", t0, err, got.NeoResponseID)
		if err != nil {
			return observation{}, false, []call{c} // not found, or unsure: resend the same id
		}
		return colRefundObservation(got), true, []call{c}
	case APIGC:
		o, err := s.gw.GC.GetCollectionOrder(ctx, r.TransactionRef, r.SubMerchantID)
		c := s.timed("get_order", t0, err, "")
		if err != nil {
			return observation{}, false, []call{c}
		}
		if to, ok := gcOrderObservation(o.Status); ok {
			return observation{to: to, status: o.Status}, true, []call{c}
		}
		return observation{}, false, []call{c}
	case APIPG:
		pays, err := s.gw.PG.QueryPT(ctx, r.TransactionRef)
		c := s.timed("query_pt", t0, err, "")
		if err != nil {
			return observation{}, false, []call{c}
		}
		if ok, _ := s.pgSettled(ctx, r, pays); ok {
			return observation{to: SubSucceeded, status: "SETTLED_BY_QUERY_PT"}, true, []call{c}
		}
		// Not visibly settled: resend with the same id; NeoX answers
		// "duplicate" if it holds it already.
		return observation{}, false, []call{c}
	}
	return observation{}, false, nil
}

// poll asks NeoX about a PROCESSING refund (the fallback to webhooks).
func (s *Service) poll(ctx context.Context, id string) error {
	r, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	if r.Submission != SubProcessing || r.NextAttemptAt.After(s.now()) {
		return nil
	}
	ctx = neox.WithLanguage(ctx, r.Lang)
	t0 := time.Now()
	var ob observation
	var c call
	switch r.API {
	case APICOL:
		got, err := s.gw.COL.GetRefund(ctx, r.ID)
		c = s.timed("get_refund", t0, err, got.NeoResponseID)
		if err == nil {
			ob = colRefundObservation(got)
		}
	case APIGC:
		o, err := s.gw.GC.GetCollectionOrder(ctx, r.TransactionRef, r.SubMerchantID)
		c = s.timed("get_order", t0, err, "")
		if to, ok := gcOrderObservation(o.Status); err == nil && ok && to != SubProcessing {
			ob = observation{to: to, status: o.Status}
		}
	case APIPG:
		pays, err := s.gw.PG.QueryPT(ctx, r.TransactionRef)
		c = s.timed("query_pt", t0, err, "")
		if err == nil {
			if ok, _ := s.pgSettled(ctx, r, pays); ok {
				ob = observation{to: SubSucceeded, status: "SETTLED_BY_QUERY_PT"}
			}
		}
	}
	s.health.record(r.API, s.now(), c)
	dbCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return s.db.TxAt(dbCtx, s.now(), func(tx *store.Tx) error {
		if err := s.auditCall(dbCtx, tx, r, c); err != nil {
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
