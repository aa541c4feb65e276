package store

import (
	"context"
	"slices"
	"sync"
)

// writeGate orders the transactions waiting for SQLite's one writer. The
// write pool has one connection, and database/sql hands a freed
// connection to a random waiter: under load a transaction could lose that
// draw many times over, which is where the long tails of the pages that
// write came from. The gate serves waiters first come, first served, and
// urgent ones (NeoX's webhooks, which NeoX times out and retries) before
// the others, so a webhook waits for at most the transaction in progress
// and the urgent ones ahead of it. PostgreSQL needs none: its advisory
// lock queue is already first come, first served.
type writeGate struct {
	mu           sync.Mutex
	held         bool
	urgent, rest []chan struct{} // waiters, oldest first; closed when handed the gate
}

// acquire waits for the gate, or for ctx to end.
func (g *writeGate) acquire(ctx context.Context, urgent bool) error {
	g.mu.Lock()
	if !g.held {
		g.held = true
		g.mu.Unlock()
		return nil
	}
	turn := make(chan struct{})
	if urgent {
		g.urgent = append(g.urgent, turn)
	} else {
		g.rest = append(g.rest, turn)
	}
	g.mu.Unlock()
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
		g.mu.Lock()
		queued := false
		g.urgent, queued = without(g.urgent, turn, queued)
		g.rest, queued = without(g.rest, turn, queued)
		g.mu.Unlock()
		if !queued {
			// Handed the gate just as ctx ended: pass it on.
			g.release()
		}
		return ctx.Err()
	}
}

func without(q []chan struct{}, c chan struct{}, found bool) ([]chan struct{}, bool) {
	if i := slices.Index(q, c); i >= 0 {
		return slices.Delete(q, i, i+1), true
	}
	return q, found
}

// release hands the gate to the next waiter, urgent ones first.
func (g *writeGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	var next chan struct{}
	switch {
	case len(g.urgent) > 0:
		next, g.urgent = g.urgent[0], g.urgent[1:]
	case len(g.rest) > 0:
		next, g.rest = g.rest[0], g.rest[1:]
	default:
		g.held = false
		return
	}
	close(next) // the gate stays held, by next
}
