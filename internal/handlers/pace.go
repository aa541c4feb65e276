package handlers

import (
	"context"
	"sync"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
)

// Pacing of anonymous refusals (issue 12). Recording a refusal is bounded
// by the audit limiter, but answering it still costs CPU, and a client that
// posts refused webhooks or wrong logins as fast as it is answered takes
// most of a small machine's cores from the people working on it (measured:
// legitimate p95 ×2.3–5.8 under a 32-connection flood). So once a source
// (an address, IPv6 by /64) has been refused more than refusalBudget times
// in a minute, each further refusal it gets is answered only after
// refusalDelay. A client that waits for answers is then held to about one
// request per connection per refusalDelay; the wait costs a timer, not CPU.
// Only refusals are paced, never a request that succeeds, and only
// anonymous ones (signed-in users' refusals are rare and attributable).
// A client that does not wait for answers is not slowed by this; that is
// denial of service beyond the threat model (SECURITY.md).
const (
	refusalBudget       = 30
	defaultRefusalDelay = time.Second
	refusalSources      = 10_000 // sources counted per minute; beyond, everyone new is paced
)

type pacer struct {
	delay time.Duration // <= 0: never wait
	now   func() time.Time
	// sleep waits d or until ctx ends; tests replace it to see the waits.
	sleep func(ctx context.Context, d time.Duration)

	mu     sync.Mutex
	window time.Time
	counts map[string]int
}

func newPacer(delay time.Duration, now func() time.Time) *pacer {
	return &pacer{delay: delay, now: now, counts: map[string]int{}, sleep: func(ctx context.Context, d time.Duration) {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}}
}

// refused counts one refusal for source and, when the source is over its
// budget this minute, waits before the caller answers.
func (p *pacer) refused(ctx context.Context, source string) {
	if p == nil || p.delay <= 0 {
		return
	}
	key := paceKey(source)
	p.mu.Lock()
	if w := p.now().Truncate(time.Minute); w.After(p.window) {
		p.window = w
		clear(p.counts)
	}
	n, known := p.counts[key]
	if known || len(p.counts) < refusalSources {
		n++
		p.counts[key] = n
	} else {
		n = refusalBudget + 1
	}
	p.mu.Unlock()
	if n > refusalBudget {
		p.sleep(ctx, p.delay)
	}
}

func paceKey(ip string) string { return audit.SourceOf(ip) }
