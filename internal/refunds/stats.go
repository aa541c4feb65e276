package refunds

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"math"
	"slices"
	"time"
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
}

// DashboardStatuses is the order in which statuses are shown.
var DashboardStatuses = []string{ApprovalPending, ApprovalRejected, ApprovalCancelled,
	SubQueued, SubSending, SubProcessing, SubUnknown, SubSucceeded, SubFailed}

// Dashboard computes the home-page figures. Every query is answered from
// an index (migration 0005); medians read the window's durations only.
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
	tx, err := s.db.Read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return Dashboard{}, fmt.Errorf("refunds: dashboard: %w", err)
	}
	defer tx.Rollback()
	if q.RequestedBy > 0 {
		err = d.loadMine(ctx, tx, q.RequestedBy)
	} else {
		err = d.loadManager(ctx, tx)
	}
	if err != nil {
		return Dashboard{}, fmt.Errorf("refunds: dashboard: %w", err)
	}
	return d, nil
}

func (d *Dashboard) loadMine(ctx context.Context, tx *sql.Tx, maker int64) error {
	rows, err := tx.QueryContext(ctx, `SELECT CASE approval WHEN 'APPROVED' THEN submission ELSE approval END, count(*)
		FROM refunds WHERE requested_by = ? GROUP BY 1`, maker)
	if err != nil {
		return err
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return err
		}
		counts[st] += n
		d.MineTotal += n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, st := range DashboardStatuses {
		d.Mine = append(d.Mine, StatusCount{Status: st, Count: counts[st]})
	}
	return nil
}

func (d *Dashboard) loadManager(ctx context.Context, tx *sql.Tx) error {
	var err error
	if d.Pending, err = backlog(ctx, tx, `SELECT count(*), coalesce(min(requested_at), '') FROM refunds
		WHERE approval = 'PENDING'`); err != nil {
		return err
	}
	if d.Unknown, err = backlog(ctx, tx, `SELECT count(*), coalesce(min(decided_at), '') FROM refunds
		WHERE submission = 'UNKNOWN' AND submission IN ('UNKNOWN', 'PROCESSING')`); err != nil {
		return err
	}
	if d.Processing, err = backlog(ctx, tx, `SELECT count(*), coalesce(min(decided_at), '') FROM refunds
		WHERE submission = 'PROCESSING' AND submission IN ('UNKNOWN', 'PROCESSING')`); err != nil {
		return err
	}
	end := d.TodayFrom.AddDate(0, 0, 1)
	if d.Today, err = refunded(ctx, tx, d.TodayFrom, end); err != nil {
		return err
	}
	if d.Month, err = refunded(ctx, tx, d.MonthFrom, d.MonthFrom.AddDate(0, 1, 0)); err != nil {
		return err
	}
	if err := d.loadOutcomes(ctx, tx, end); err != nil {
		return err
	}
	d.ToApproval, err = median(ctx, tx, `SELECT (julianday(decided_at) - julianday(requested_at)) * 86400.0
		FROM refunds WHERE approval = 'APPROVED' AND decided_at <> '' AND decided_at >= ? AND decided_at < ?`,
		fmtTime(d.WindowFrom), fmtTime(end))
	return err
}

func backlog(ctx context.Context, tx *sql.Tx, query string) (Backlog, error) {
	var b Backlog
	var oldest string
	if err := tx.QueryRowContext(ctx, query).Scan(&b.Count, &oldest); err != nil {
		return Backlog{}, err
	}
	var err error
	b.OldestAt, err = parseTime(oldest)
	return b, err
}

// refunded sums SUCCEEDED refunds that became final in [from, to).
func refunded(ctx context.Context, tx *sql.Tx, from, to time.Time) ([]AmountTotal, error) {
	rows, err := tx.QueryContext(ctx, `SELECT api, currency, count(*), sum(amount) FROM refunds
		WHERE submission = 'SUCCEEDED' AND final_at <> '' AND final_at >= ? AND final_at < ?
		GROUP BY api, currency`, fmtTime(from), fmtTime(to))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AmountTotal
	for rows.Next() {
		var a AmountTotal
		var api string
		if err := rows.Scan(&api, &a.Currency, &a.Count, &a.Amount); err != nil {
			return nil, err
		}
		a.API = API(api)
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b AmountTotal) int {
		if c := apiOrder(a.API) - apiOrder(b.API); c != 0 {
			return c
		}
		return cmp.Compare(a.Currency, b.Currency)
	})
	return out, rows.Err()
}

func (d *Dashboard) loadOutcomes(ctx context.Context, tx *sql.Tx, end time.Time) error {
	from, to := fmtTime(d.WindowFrom), fmtTime(end)
	// One pass over the window's settled refunds gives the outcome counts
	// and the approval-to-final durations.
	rows, err := tx.QueryContext(ctx, `SELECT api, submission, (julianday(final_at) - julianday(decided_at)) * 86400.0
		FROM refunds WHERE submission IN ('SUCCEEDED', 'FAILED') AND final_at <> '' AND final_at >= ? AND final_at < ?`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	by := map[API]*OutcomeCount{}
	for _, a := range []API{APIPG, APIGC, APICOL} {
		by[a] = &OutcomeCount{API: a}
	}
	var secs []float64
	for rows.Next() {
		var api, sub string
		var v sql.NullFloat64
		if err := rows.Scan(&api, &sub, &v); err != nil {
			return err
		}
		if v.Valid {
			secs = append(secs, max(v.Float64, 0))
		}
		o, ok := by[API(api)]
		if !ok {
			continue
		}
		if sub == SubSucceeded {
			o.Succeeded++
		} else {
			o.Failed++
			d.FailedTotal++
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	d.ToFinal = medianOf(secs)
	for _, a := range []API{APIPG, APIGC, APICOL} {
		d.Outcomes = append(d.Outcomes, *by[a])
	}
	// NeoX's own words: failedReason (COL), else its message, else its code.
	rows, err = tx.QueryContext(ctx, `SELECT reason, count(*) AS n FROM (
			SELECT CASE WHEN failed_reason <> '' THEN failed_reason
			            WHEN neox_message <> '' THEN neox_message
			            WHEN neox_code <> '' THEN 'code ' || neox_code
			            ELSE '' END AS reason
			FROM refunds WHERE submission = 'FAILED' AND final_at <> '' AND final_at >= ? AND final_at < ?)
		GROUP BY reason ORDER BY n DESC, reason LIMIT 5`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var rc ReasonCount
		if err := rows.Scan(&rc.Reason, &rc.Count); err != nil {
			return err
		}
		d.FailureReasons = append(d.FailureReasons, rc)
	}
	return rows.Err()
}

// median reads durations in seconds and returns their median. The window
// bounds how many are read (one per refund decided or settled in it).
func median(ctx context.Context, tx *sql.Tx, query string, args ...any) (Median, error) {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return Median{}, err
	}
	defer rows.Close()
	var secs []float64
	for rows.Next() {
		var v sql.NullFloat64
		if err := rows.Scan(&v); err != nil {
			return Median{}, err
		}
		if v.Valid {
			secs = append(secs, max(v.Float64, 0))
		}
	}
	if err := rows.Err(); err != nil {
		return Median{}, err
	}
	return medianOf(secs), nil
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
	// julianday keeps about a millisecond of precision: round to it.
	return Median{Value: time.Duration(math.Round(m*1000)) * time.Millisecond, Samples: n}
}

func apiOrder(a API) int {
	switch a {
	case APIPG:
		return 0
	case APIGC:
		return 1
	}
	return 2
}
