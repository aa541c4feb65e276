package store

import (
	"context"
	"fmt"
	"time"
)

// OutageRecord is a NeoX operation whose latest calls, by any instance's
// worker, went unanswered.
type OutageRecord struct {
	API, Op   string
	Since     time.Time // the first unanswered call after the last answer
	Last      time.Time // the latest unanswered call
	Failures  int       // unanswered calls in a row
	LastError string
}

// NoteNeoXCall records, at the transaction's time, whether NeoX answered
// one call to op of api: an answer (even a refusal) ends the operation's
// run of failures; an unanswered call starts or extends it, keeping cause.
// Kept in the database so that every instance tells the same story.
func (t *Tx) NoteNeoXCall(ctx context.Context, api, op string, answered bool, cause string) error {
	var err error
	if answered {
		_, err = t.stx.ExecContext(ctx, `DELETE FROM neox_outages WHERE api = ? AND op = ?`, api, op)
	} else {
		now := FormatTime(t.now)
		_, err = t.stx.ExecContext(ctx, `INSERT INTO neox_outages(api, op, since_at, last_at, failures, last_error)
			VALUES (?, ?, ?, ?, 1, ?)
			ON CONFLICT (api, op) DO UPDATE SET last_at = excluded.last_at,
				failures = neox_outages.failures + 1, last_error = excluded.last_error`,
			api, op, now, now, cause)
	}
	if err != nil {
		return fmt.Errorf("note NeoX %s %s call: %w", api, op, err)
	}
	return nil
}

// NeoXOutages lists the operations with at least minFailures unanswered
// calls in a row, the latest after since.
func (db *DB) NeoXOutages(ctx context.Context, minFailures int, since time.Time) ([]OutageRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT api, op, since_at, last_at, failures, last_error FROM neox_outages
		WHERE failures >= ? AND last_at > ? ORDER BY api, op`, minFailures, FormatTime(since))
	if err != nil {
		return nil, fmt.Errorf("read NeoX outages: %w", err)
	}
	defer rows.Close()
	var out []OutageRecord
	for rows.Next() {
		var o OutageRecord
		var sinceAt, lastAt string
		if err := rows.Scan(&o.API, &o.Op, &sinceAt, &lastAt, &o.Failures, &o.LastError); err != nil {
			return nil, fmt.Errorf("read NeoX outages: %w", err)
		}
		if o.Since, err = ParseTime(sinceAt); err != nil {
			return nil, fmt.Errorf("read NeoX outages: %w", err)
		}
		if o.Last, err = ParseTime(lastAt); err != nil {
			return nil, fmt.Errorf("read NeoX outages: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}
