package handlers

import (
	"sync"
	"time"
)

// Figures every viewer shares, which cost several queries, are computed at
// most once per their time to live and reused in between. Short times, so
// what someone has just done shows up on their next look.
const (
	// managerDashboardTTL: the managers' figures cost 35–45 ms at 1M refunds
	// (270 ms on the first call of a process). A manager who has just
	// approved a refund and opens the dashboard expects to see it.
	managerDashboardTTL = 2 * time.Second
	// auditActorsTTL: the audit filter's actor list reads the events
	// appended since the last look, under a lock; at 10 busy users that
	// queued every audit page behind it.
	auditActorsTTL = 2 * time.Second
	// chainRecheck: how often a look at the audit page checks the events
	// appended since the verified head. The badge names the event it is
	// verified up to, so a reused answer is never wrong, only a second old.
	chainRecheck = time.Second
)

// reused holds one computed value and when it was computed. The lock also
// makes concurrent first requests compute it once.
type reused[T any] struct {
	mu sync.Mutex
	at time.Time
	v  T
}

// get returns the value if it is younger than ttl at now, else computes,
// keeps and returns a new one. A failed computation keeps nothing.
func (c *reused[T]) get(now time.Time, ttl time.Duration, compute func() (T, error)) (T, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if age := now.Sub(c.at); !c.at.IsZero() && age >= 0 && age < ttl {
		return c.v, nil
	}
	v, err := compute()
	if err != nil {
		return v, err
	}
	c.at, c.v = now, v
	return v, nil
}
