package refunds

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// DashboardWindowDays is the length of the rolling window (in days, ending
// today) behind success rates, medians and failure reasons.
const DashboardWindowDays = 30

// DashboardQuery says whose dashboard to build and when "now" is.
type DashboardQuery struct {
	Now  time.Time
	Zone *time.Location // where "today" and "this month" start; nil means UTC
	// RequestedBy > 0 builds a maker's dashboard (their own requests only);
	// 0 builds the managers' one.
	RequestedBy int64
}

// StatusCount is how many refunds show one status. Status is the approval
// state unless approved, then the submission state: the same values the
// refunds list filters on.
type StatusCount struct {
	Status string
	Count  int
}

// AmountTotal is the refunded amount of one API and currency.
type AmountTotal struct {
	API      API
	Currency string
	Count    int
	Amount   int64
}

// OutcomeCount is how NeoX answered one API's refunds in the window.
type OutcomeCount struct {
	API       API
	Succeeded int
	Failed    int
}

// Total is Succeeded + Failed.
func (o OutcomeCount) Total() int { return o.Succeeded + o.Failed }

// ReasonCount is how often NeoX gave one failure reason.
type ReasonCount struct {
	Reason string
	Count  int
}

// Backlog is a set of refunds waiting on something, with the oldest.
type Backlog struct {
	Count    int
	OldestAt time.Time // zero when Count is 0
}

// Median is a median duration over Samples values (0 when none).
type Median struct {
	Value   time.Duration
	Samples int
}

// Dashboard holds the figures of the home page. Periods are half-open
// [from, to) in the query's zone; "refunded" means NeoX said SUCCEEDED,
// counted on the day it became final.
type Dashboard struct {
	Now        time.Time
	TodayFrom  time.Time
	MonthFrom  time.Time
	WindowFrom time.Time // start of the DashboardWindowDays window

	// Maker's view (RequestedBy > 0).
	Mine      []StatusCount // every status in DashboardStatuses order
	MineTotal int

	// Managers' view (RequestedBy == 0).
	Pending        Backlog // awaiting in-house approval
	Today, Month   []AmountTotal
	Outcomes       []OutcomeCount // per API, window
	ToApproval     Median         // requested → approved, window (by decision time)
	ToFinal        Median         // approved → SUCCEEDED/FAILED, window (by final time)
	FailureReasons []ReasonCount  // top 5, window
	FailedTotal    int            // every failure in the window
	Unknown        Backlog        // outcome of a NeoX call not known
	Processing     Backlog        // accepted by NeoX, waiting on its approval or settlement
	Attention      Backlog        // needs attention: waiting for a manager (oldest by when it was flagged)
	Suspicious     Backlog        // signed NeoX notifications kept for review, not applied (oldest first received)
}

// DashboardStatuses is the order in which statuses are shown.
var DashboardStatuses = []string{ApprovalPending, ApprovalRejected, ApprovalCancelled,
	SubQueued, SubSending, SubProcessing, SubUnknown, SubSucceeded, SubFailed}

// Dashboard computes the home-page figures. Every query is answered from
// an index (migration 0005). Figures of whole days are computed once and
// kept (see dayCache), so only today's refunds are read on every call.
func (s *Service) Dashboard(ctx context.Context, q DashboardQuery) (Dashboard, error) {
	zone := q.Zone
	if zone == nil {
		zone = time.UTC
	}
	now := q.Now
	if now.IsZero() {
		now = s.now()
	}
	local := now.In(zone)
	today := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, zone)
	d := Dashboard{Now: now, TodayFrom: today,
		MonthFrom:  time.Date(local.Year(), local.Month(), 1, 0, 0, 0, 0, zone),
		WindowFrom: today.AddDate(0, 0, -(DashboardWindowDays - 1))}
	// One read transaction: every figure comes from the same snapshot.
	err := s.db.View(ctx, now, func(tx *store.Tx) error {
		if q.RequestedBy > 0 {
			return d.loadMine(ctx, tx, q.RequestedBy)
		}
		return s.loadManager(ctx, tx, &d)
	})
	if err != nil {
		return Dashboard{}, fmt.Errorf("refunds: dashboard: %w", err)
	}
	return d, nil
}

// loadMine reads a maker's requests by status from refund_maker_counts,
// which triggers keep in step with every change (migration 0009).
func (d *Dashboard) loadMine(ctx context.Context, tx *store.Tx, maker int64) error {
	counts, err := tx.MakerCounts(ctx, maker)
	if err != nil {
		return err
	}
	for _, n := range counts {
		d.MineTotal += n
	}
	for _, st := range DashboardStatuses {
		d.Mine = append(d.Mine, StatusCount{Status: st, Count: counts[st]})
	}
	return nil
}

func (s *Service) loadManager(ctx context.Context, tx *store.Tx, d *Dashboard) error {
	b, err := tx.Backlogs(ctx)
	if err != nil {
		return err
	}
	d.Pending, d.Unknown, d.Processing = Backlog(b.Pending), Backlog(b.Unknown), Backlog(b.Processing)
	d.Attention, d.Suspicious = Backlog(b.Attention), Backlog(b.Review)

	// The period figures are kept per day: the days before today come
	// from the cache (computed once), today is read live.
	first := d.MonthFrom
	if d.WindowFrom.Before(first) {
		first = d.WindowFrom
	}
	var month, window []*dayFigures
	for day := first; day.Before(d.TodayFrom.AddDate(0, 0, 1)); day = day.AddDate(0, 0, 1) {
		f, err := s.dayFigures(ctx, tx, day, day.AddDate(0, 0, 1), d.Now)
		if err != nil {
			return err
		}
		if !day.Before(d.MonthFrom) {
			month = append(month, f)
		}
		if !day.Before(d.WindowFrom) {
			window = append(window, f)
		}
		if day.Equal(d.TodayFrom) {
			d.Today = totals(s.apiOrder, f)
		}
	}
	s.days.prune(first)
	d.Month = totals(s.apiOrder, month...)

	by := map[API]*OutcomeCount{}
	reasons := map[string]int{}
	var toFinal, toApproval []float64
	for _, f := range window {
		for api, o := range f.outcomes {
			t := by[api]
			if t == nil {
				t = &OutcomeCount{API: api}
				by[api] = t
			}
			t.Succeeded += o.Succeeded
			t.Failed += o.Failed
			d.FailedTotal += o.Failed
		}
		for r, n := range f.reasons {
			reasons[r] += n
		}
		toFinal = append(toFinal, f.toFinal...)
		toApproval = append(toApproval, f.toApproval...)
	}
	for _, name := range s.products.Names() {
		a := API(name)
		o := OutcomeCount{API: a}
		if t := by[a]; t != nil {
			o = *t
		}
		d.Outcomes = append(d.Outcomes, o)
	}
	d.ToFinal, d.ToApproval = medianOf(toFinal), medianOf(toApproval)
	// NeoX's most frequent reasons first, then alphabetically.
	for r, n := range reasons {
		d.FailureReasons = append(d.FailureReasons, ReasonCount{Reason: r, Count: n})
	}
	slices.SortFunc(d.FailureReasons, func(a, b ReasonCount) int {
		if c := cmp.Compare(b.Count, a.Count); c != 0 {
			return c
		}
		return cmp.Compare(a.Reason, b.Reason)
	})
	d.FailureReasons = d.FailureReasons[:min(len(d.FailureReasons), 5)]
	return nil
}

// medianOf returns the median of durations in seconds (sorting secs).
func medianOf(secs []float64) Median {
	if len(secs) == 0 {
		return Median{}
	}
	slices.Sort(secs)
	n := len(secs)
	m := secs[n/2]
	if n%2 == 0 {
		m = (secs[n/2-1] + secs[n/2]) / 2
	}
	// The store computes durations to about a millisecond: round to it.
	return Median{Value: time.Duration(math.Round(m*1000)) * time.Millisecond, Samples: n}
}

// apiOrder is a product's place in the registry (pages list products in
// that order); a product no longer registered comes last.
func (s *Service) apiOrder(a API) int {
	for i, name := range s.products.Names() {
		if name == string(a) {
			return i
		}
	}
	return len(s.products.Names())
}
