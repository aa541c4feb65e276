// Package prio holds a counting semaphore whose waiters are served in
// order: urgent ones first, and within each kind first come, first
// served. Go's channels and database/sql's pool make no such promise (the
// pool hands a freed connection to a random waiter), and a waiter that
// keeps losing the draw is a long tail in every latency the desk reports.
package prio

import (
	"context"
	"slices"
	"sync"
)

// Sem is a semaphore of n permits. The zero value has none; use New.
type Sem struct {
	mu           sync.Mutex
	free         int
	urgent, rest []chan struct{} // waiters, oldest first; closed when handed a permit
}

// New returns a semaphore of n permits.
func New(n int) *Sem { return &Sem{free: n} }

// Acquire takes a permit, waiting for one, or for ctx to end (then it
// returns ctx's error and holds nothing).
func (s *Sem) Acquire(ctx context.Context, urgent bool) error {
	s.mu.Lock()
	if s.free > 0 {
		s.free--
		s.mu.Unlock()
		return nil
	}
	turn := make(chan struct{})
	if urgent {
		s.urgent = append(s.urgent, turn)
	} else {
		s.rest = append(s.rest, turn)
	}
	s.mu.Unlock()
	select {
	case <-turn:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		queued := false
		s.urgent, queued = without(s.urgent, turn, queued)
		s.rest, queued = without(s.rest, turn, queued)
		s.mu.Unlock()
		if !queued {
			// Handed a permit just as ctx ended: pass it on.
			s.Release()
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

// Release gives a permit back, to the next waiter if there is one.
func (s *Sem) Release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	var next chan struct{}
	switch {
	case len(s.urgent) > 0:
		next, s.urgent = s.urgent[0], s.urgent[1:]
	case len(s.rest) > 0:
		next, s.rest = s.rest[0], s.rest[1:]
	default:
		s.free++
		return
	}
	close(next) // the permit passes to next
}

// Waiting reports how many wait for a permit.
func (s *Sem) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.urgent) + len(s.rest)
}
