package refunds

import (
	"context"
	"database/sql"
	"sync"
	"time"
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
		due, next, err := s.dueRows(ctx, state, fmtTime(now))
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("refunds worker: scan", "state", state, "err", err)
			}
			return wait
		}
		if t, err := parseTime(next); next != "" && err == nil {
			wait = min(wait, max(t.Sub(now), time.Millisecond))
		}
		mu.Lock()
		for _, c := range due {
			ch, ok := jobs[lane{c.api, state == SubProcessing}]
			if !ok || busy[c.id] {
				continue
			}
			select {
			case ch <- c.job:
				busy[c.id] = true
			default:
				// This lane is full; a freed worker wakes the loop.
			}
		}
		mu.Unlock()
	}
	return wait
}

type dueRow struct {
	job
	api API
}

// dueRows returns up to dispatchBatch approved refunds in state whose
// next attempt is due at now, oldest first, and the time of the next one
// due later ("" when none).
func (s *Service) dueRows(ctx context.Context, state, now string) ([]dueRow, string, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT id, api FROM refunds
		WHERE submission = ? AND next_attempt_at <= ? AND approval = 'APPROVED'
		ORDER BY next_attempt_at, id LIMIT ?`, state, now, dispatchBatch)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var due []dueRow
	for rows.Next() {
		r := dueRow{job: job{sub: state}}
		var api string
		if err := rows.Scan(&r.id, &api); err != nil {
			return nil, "", err
		}
		r.api = API(api)
		due = append(due, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", err
	}
	var next sql.NullString
	err = s.db.Read.QueryRowContext(ctx, `SELECT min(next_attempt_at) FROM refunds
		WHERE submission = ? AND next_attempt_at > ? AND approval = 'APPROVED'`, state, now).Scan(&next)
	return due, next.String, err
}
