package store

// The home dashboard's reads (refunds.Service.Dashboard), run inside one
// read transaction (DB.View) so every figure comes from the same snapshot.
// Each is answered from an index of migrations 0005, 0009 and 0011; the
// SQLite-only parts (INDEXED BY, julianday) stay here.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// MakerCounts reads a maker's requests by displayed status from
// refund_maker_counts, which triggers keep in step with every change
// (migration 0009).
func (t *Tx) MakerCounts(ctx context.Context, maker int64) (map[string]int, error) {
	rows, err := t.stx.QueryContext(ctx, `SELECT status, n FROM refund_maker_counts WHERE requested_by = ?`, maker)
	if err != nil {
		return nil, fmt.Errorf("store: maker counts: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		counts[st] += n
	}
	return counts, rows.Err()
}

// Backlog is a set of things waiting, with the oldest one's time.
type Backlog struct {
	Count    int
	OldestAt time.Time // zero when Count is 0
}

// RefundBacklogs are what waits on a person or on NeoX.
type RefundBacklogs struct {
	Pending    Backlog // awaiting approval, by request time
	Unknown    Backlog // outcome not known, by decision time
	Processing Backlog // accepted by NeoX, by decision time
	Attention  Backlog // needs attention, by when flagged
	Review     Backlog // webhook deliveries kept for review, by first receipt
}

// Backlogs reads the managers' backlogs.
func (t *Tx) Backlogs(ctx context.Context) (RefundBacklogs, error) {
	var b RefundBacklogs
	// INDEXED BY is SQLite's; PostgreSQL's planner picks the partial index.
	stuck := "INDEXED BY refunds_stuck"
	if t.pg {
		stuck = ""
	}
	for _, q := range []struct {
		to    *Backlog
		query string
	}{
		{&b.Pending, `SELECT count(*), coalesce(min(requested_at), '') FROM refunds WHERE approval = 'PENDING'`},
		// INDEXED BY: the planner prefers the wider list index on
		// submission (migration 0006) and then reads every row for
		// decided_at, 30–60 ms at 1M refunds against about 1 ms from the
		// partial index.
		{&b.Unknown, `SELECT count(*), coalesce(min(decided_at), '') FROM refunds ` + stuck + `
			WHERE submission = 'UNKNOWN' AND submission IN ('UNKNOWN', 'PROCESSING')`},
		{&b.Processing, `SELECT count(*), coalesce(min(decided_at), '') FROM refunds ` + stuck + `
			WHERE submission = 'PROCESSING' AND submission IN ('UNKNOWN', 'PROCESSING')`},
		{&b.Attention, `SELECT count(*), coalesce(min(attention_since), '') FROM refunds ` + refundAttentionWhere},
		{&b.Review, `SELECT count(*), coalesce(min(received_at), '') FROM webhook_events
			WHERE applied IN ('suspicious', 'contradicts')`},
	} {
		var oldest string
		if err := t.stx.QueryRowContext(ctx, q.query).Scan(&q.to.Count, &oldest); err != nil {
			return RefundBacklogs{}, fmt.Errorf("store: backlog: %w", err)
		}
		var err error
		if q.to.OldestAt, err = refundParseTime(oldest); err != nil {
			return RefundBacklogs{}, err
		}
	}
	return b, nil
}

// FinalRefund is one refund that became final in a day.
type FinalRefund struct {
	API        string
	Currency   string
	Submission string // SUCCEEDED | FAILED
	Amount     int64
	// ToFinal is the seconds from approval to the final state; false when
	// either time is missing.
	ToFinal    float64
	HasToFinal bool
}

// DayRecord is what the dashboard reads of one day.
type DayRecord struct {
	Final      []FinalRefund
	Reasons    map[string]int // NeoX's failure reasons: failedReason, else message, else "code N"
	ToApproval []float64      // seconds from request to approval of refunds approved in the day
}

// RefundDay reads the refunds that became final, and those approved, in
// [from, to), from the refunds_final and refunds_decided indexes
// (migration 0005). Durations come from julianday, about a millisecond
// precise.
func (t *Tx) RefundDay(ctx context.Context, from, to time.Time) (DayRecord, error) {
	d := DayRecord{Reasons: map[string]int{}}
	lo, hi := FormatTime(from), FormatTime(to)
	rows, err := t.stx.QueryContext(ctx, `SELECT api, currency, submission, amount,
			`+t.secondsBetween("decided_at", "final_at")+`
		FROM refunds WHERE submission IN ('SUCCEEDED', 'FAILED') AND final_at <> '' AND final_at >= ? AND final_at < ?`, lo, hi)
	if err != nil {
		return DayRecord{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var f FinalRefund
		var secs sql.NullFloat64
		if err := rows.Scan(&f.API, &f.Currency, &f.Submission, &f.Amount, &secs); err != nil {
			return DayRecord{}, err
		}
		f.ToFinal, f.HasToFinal = secs.Float64, secs.Valid
		d.Final = append(d.Final, f)
	}
	if err := rows.Err(); err != nil {
		return DayRecord{}, err
	}
	rows.Close()

	rows, err = t.stx.QueryContext(ctx, `SELECT reason, count(*) FROM (
			SELECT `+refundFailureReason+` AS reason
			FROM refunds WHERE submission = 'FAILED' AND final_at <> '' AND final_at >= ? AND final_at < ?) AS f
		GROUP BY reason`, lo, hi)
	if err != nil {
		return DayRecord{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var r string
		var n int
		if err := rows.Scan(&r, &n); err != nil {
			return DayRecord{}, err
		}
		d.Reasons[r] = n
	}
	if err := rows.Err(); err != nil {
		return DayRecord{}, err
	}
	rows.Close()

	rows, err = t.stx.QueryContext(ctx, `SELECT `+t.secondsBetween("requested_at", "decided_at")+`
		FROM refunds WHERE approval = 'APPROVED' AND decided_at <> '' AND decided_at >= ? AND decided_at < ?`, lo, hi)
	if err != nil {
		return DayRecord{}, err
	}
	defer rows.Close()
	for rows.Next() {
		var secs sql.NullFloat64
		if err := rows.Scan(&secs); err != nil {
			return DayRecord{}, err
		}
		if secs.Valid {
			d.ToApproval = append(d.ToApproval, secs.Float64)
		}
	}
	return d, rows.Err()
}

// secondsBetween is SQL for the seconds from stored time a to stored time
// b (columns in TimeFormat), NULL when either is empty.
func (t *Tx) secondsBetween(a, b string) string {
	if t.pg {
		return fmt.Sprintf(`EXTRACT(EPOCH FROM (NULLIF(%s, '')::timestamptz - NULLIF(%s, '')::timestamptz))::float8`, b, a)
	}
	return fmt.Sprintf(`(julianday(%s) - julianday(%s)) * 86400.0`, b, a)
}
