// Package clock is the time source services are given, and the one fake
// clock every test uses instead of writing its own.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time. Services take its Now method (a func() time.Time).
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now is time.Now.
func (Real) Now() time.Time { return time.Now() }

// Fake is a clock a test sets and moves. It is safe for concurrent use:
// servers and workers read it while the test advances it.
type Fake struct {
	mu   sync.Mutex
	now  time.Time
	step time.Duration
}

// NewFake returns a clock standing at t until it is moved.
func NewFake(t time.Time) *Fake { return &Fake{now: t} }

// NewStepping returns a clock at start that moves by step before every
// reading, so the times stored one after another are distinct and ordered.
func NewStepping(start time.Time, step time.Duration) *Fake {
	return &Fake{now: start, step: step}
}

// Now returns the clock's time (first moving it by its step, if any).
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(c.step)
	return c.now
}

// Advance moves the clock by d.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set puts the clock at t.
func (c *Fake) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}
