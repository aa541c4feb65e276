package loadtest

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// PipelineStats is what became of the refunds approved during one level.
type PipelineStats struct {
	Approved   int `json:"approved"`
	Succeeded  int `json:"succeeded"`
	Failed     int `json:"failed"`
	Lost       int `json:"lost"`       // approved but not final, or never seen by NeoX, after draining
	Duplicates int `json:"duplicates"` // sent to NeoX more than once, or under an id we do not know
	// FinalPerSecond is refunds reaching a final state per second of the level.
	FinalPerSecond float64 `json:"final_per_second"`
	// Approval → worker claims the refund (attempt 1 starts).
	ClaimP50ms, ClaimP95ms float64
	// Approval → NeoX received the refund call (the sandbox's clock): the
	// issue's "approval → send".
	SentP50ms, SentP95ms, SentP99ms float64
	// Approval → NeoX accepted the refund (attempt 1 answered).
	SubmitP50ms, SubmitP95ms, SubmitP99ms float64
	// Approval → final state (sandbox settles after 20ms and sends a webhook).
	FinalP50ms, FinalP95ms float64
}

// pipeline waits up to drain for ids to become final, then checks them
// against the sandbox: each sent exactly once, under its own id.
func (w *world) pipeline(t testing.TB, ids []string, elapsed, drain time.Duration) PipelineStats {
	t.Helper()
	ctx := context.Background()
	db := w.run.App.DB.Read
	deadline := time.Now().Add(drain)
	for {
		var open int
		for _, id := range ids {
			var final string
			if err := db.QueryRowContext(ctx, `SELECT final_at FROM refunds WHERE id = ?`, id).Scan(&final); err != nil {
				t.Fatalf("refund %s: %v", id, err)
			}
			if final == "" {
				open++
			}
		}
		if open == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	ps := PipelineStats{Approved: len(ids)}
	var claim, sent, submit, final []time.Duration
	parse := func(s string) time.Time { tm, _ := store.ParseTime(s); return tm }
	for _, id := range ids {
		var decided, finalAt, sub string
		if err := db.QueryRowContext(ctx, `SELECT decided_at, final_at, submission FROM refunds WHERE id = ?`, id).
			Scan(&decided, &finalAt, &sub); err != nil {
			t.Fatal(err)
		}
		var started, finished string
		err := db.QueryRowContext(ctx, `SELECT started_at, finished_at FROM refund_attempts WHERE refund_id = ? AND n = 1`, id).
			Scan(&started, &finished)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			t.Fatal(err)
		}
		switch sub {
		case "SUCCEEDED":
			ps.Succeeded++
		case "FAILED":
			ps.Failed++
		default:
			ps.Lost++
		}
		switch calls := w.sb.RefundCalls(id); {
		case calls == 0:
			ps.Lost++
		case calls > 1:
			ps.Duplicates++
		}
		d := parse(decided)
		if at := w.sb.FirstRefundCall(id); !at.IsZero() {
			sent = append(sent, at.Sub(d))
		}
		if started != "" {
			claim = append(claim, parse(started).Sub(d))
		}
		if finished != "" {
			submit = append(submit, parse(finished).Sub(d))
		}
		if finalAt != "" {
			final = append(final, parse(finalAt).Sub(d))
		}
	}
	// Every refund NeoX holds for the load transactions must be one of ours, once.
	ours := map[string]bool{}
	for _, tx := range w.txns {
		ours[tx.Payments[0].ID] = true
	}
	seen := map[string]int{}
	for _, r := range w.sb.Refunds() {
		if r.API == "PG" && ours[r.Target] {
			seen[r.RequestID]++
		}
	}
	w.mu.Lock()
	all := slices.Clone(w.allApproved)
	w.mu.Unlock()
	known := map[string]bool{}
	for _, id := range all {
		known[id] = true
	}
	for id, n := range seen {
		if n > 1 || !known[id] {
			ps.Duplicates++
		}
	}
	if elapsed > 0 {
		ps.FinalPerSecond = float64(ps.Succeeded+ps.Failed) / elapsed.Seconds()
	}
	c, s, f, n := summarize("", claim, 0), summarize("", submit, 0), summarize("", final, 0), summarize("", sent, 0)
	ps.ClaimP50ms, ps.ClaimP95ms = c.P50ms, c.P95ms
	ps.SentP50ms, ps.SentP95ms, ps.SentP99ms = n.P50ms, n.P95ms, n.P99ms
	ps.SubmitP50ms, ps.SubmitP95ms, ps.SubmitP99ms = s.P50ms, s.P95ms, s.P99ms
	ps.FinalP50ms, ps.FinalP95ms = f.P50ms, f.P95ms
	return ps
}
