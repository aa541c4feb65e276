package refunds

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// dayFigures are the dashboard figures of one day: refunds that became
// final in it (amounts, outcomes, failure reasons, approval-to-final
// durations) and refunds approved in it (request-to-approval durations).
type dayFigures struct {
	refunded   map[apiCurrency]AmountTotal // SUCCEEDED only
	outcomes   map[API]OutcomeCount
	reasons    map[string]int
	toFinal    []float64 // seconds
	toApproval []float64 // seconds
}

type apiCurrency struct {
	api      API
	currency string
}

// dayCache keeps the figures of days that are over. A day's figures never
// change once it is over: final_at and decided_at are set once, to the
// time of the change, and final and decided states never move. So the
// 30-day window costs one day of reading after the first call.
type dayCache struct {
	mu   sync.Mutex
	days map[int64]*dayFigures // by the day's start, Unix seconds
}

// settleMargin is how long after a day ends its figures are still read
// live: a transaction that took its timestamp just before midnight may
// commit just after.
const settleMargin = 2 * time.Minute

// dayFigures returns the figures of [from, to), from the cache when the
// day ended more than settleMargin before now.
func (s *Service) dayFigures(ctx context.Context, tx *store.Tx, from, to, now time.Time) (*dayFigures, error) {
	over := !to.After(now.Add(-settleMargin))
	if over {
		s.days.mu.Lock()
		f := s.days.days[from.Unix()]
		s.days.mu.Unlock()
		if f != nil {
			return f, nil
		}
	}
	f, err := readDay(ctx, tx, from, to)
	if err != nil || !over {
		return f, err
	}
	s.days.mu.Lock()
	if s.days.days == nil {
		s.days.days = map[int64]*dayFigures{}
	}
	s.days.days[from.Unix()] = f
	s.days.mu.Unlock()
	return f, nil
}

// prune forgets days that start before first: no dashboard shows them.
func (c *dayCache) prune(first time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k := range c.days {
		if k < first.Unix() {
			delete(c.days, k)
		}
	}
}

// readDay reads the figures of [from, to) from the refunds_final and
// refunds_decided indexes (migration 0005).
func readDay(ctx context.Context, tx *store.Tx, from, to time.Time) (*dayFigures, error) {
	f := &dayFigures{refunded: map[apiCurrency]AmountTotal{}, outcomes: map[API]OutcomeCount{}, reasons: map[string]int{}}
	day, err := tx.RefundDay(ctx, from, to)
	if err != nil {
		return nil, err
	}
	for _, r := range day.Final {
		if r.HasToFinal {
			f.toFinal = append(f.toFinal, max(r.ToFinal, 0))
		}
		api := API(r.API)
		o := f.outcomes[api]
		if r.Submission == SubSucceeded {
			o.Succeeded++
			k := apiCurrency{api, r.Currency}
			t := f.refunded[k]
			t.Count++
			t.Amount += r.Amount
			f.refunded[k] = t
		} else {
			o.Failed++
		}
		f.outcomes[api] = o
	}
	// NeoX's own words: failedReason (COL), else its message, else its code.
	f.reasons = day.Reasons
	for _, secs := range day.ToApproval {
		f.toApproval = append(f.toApproval, max(secs, 0))
	}
	return f, nil
}

// totals adds up the refunded amounts of days, ordered by API then
// currency.
func totals(apiOrder func(API) int, days ...*dayFigures) []AmountTotal {
	sum := map[apiCurrency]AmountTotal{}
	for _, f := range days {
		for k, t := range f.refunded {
			s := sum[k]
			s.Count += t.Count
			s.Amount += t.Amount
			sum[k] = s
		}
	}
	var out []AmountTotal
	for k, t := range sum {
		out = append(out, AmountTotal{API: k.api, Currency: k.currency, Count: t.Count, Amount: t.Amount})
	}
	slices.SortFunc(out, func(a, b AmountTotal) int {
		if c := apiOrder(a.API) - apiOrder(b.API); c != 0 {
			return c
		}
		return cmp.Compare(a.Currency, b.Currency)
	})
	return out
}
