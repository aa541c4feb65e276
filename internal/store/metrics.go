package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// RefundGauges are the refund figures /metrics reports, read on one
// snapshot.
type RefundGauges struct {
	States        []RefundStateCount
	Queued        int       // approved, waiting for their first send (QUEUED)
	OldestQueued  time.Time // approval time of the oldest QUEUED refund; zero when none
	OldestPending time.Time // request time of the oldest refund awaiting approval; zero when none
}

// RefundGauges counts refunds per state pair and reads the age of the
// send queue and the approval queue. Each query uses an index on the state
// columns except the grouped count, which reads the table once.
func (db *DB) RefundGauges(ctx context.Context) (RefundGauges, error) {
	var g RefundGauges
	tx, err := db.beginRead(ctx)
	if err != nil {
		return g, fmt.Errorf("store: refund gauges: %w", err)
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT approval, submission, count(*) FROM refunds GROUP BY approval, submission`)
	if err != nil {
		return g, fmt.Errorf("store: refund gauges: %w", err)
	}
	for rows.Next() {
		var s RefundStateCount
		if err := rows.Scan(&s.Approval, &s.Submission, &s.N); err != nil {
			rows.Close()
			return g, err
		}
		g.States = append(g.States, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return g, err
	}
	var oldestQueued, oldestPending sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT count(*), min(decided_at) FROM refunds WHERE submission = 'QUEUED'`).
		Scan(&g.Queued, &oldestQueued); err != nil {
		return g, fmt.Errorf("store: send queue: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT min(requested_at) FROM refunds WHERE approval = 'PENDING'`).
		Scan(&oldestPending); err != nil {
		return g, fmt.Errorf("store: approval queue: %w", err)
	}
	if g.OldestQueued, err = refundParseTime(oldestQueued.String); err != nil {
		return g, err
	}
	if g.OldestPending, err = refundParseTime(oldestPending.String); err != nil {
		return g, err
	}
	return g, nil
}
