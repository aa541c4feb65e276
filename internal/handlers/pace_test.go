package handlers

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// A source over its refusal budget waits refusalDelay per refusal; other
// sources, successes and the next minute do not.
func TestPacerWaitsOnlyBeyondTheBudget(t *testing.T) {
	c := clock.NewFake(time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC))
	p := newPacer(time.Second, c.Now)
	var mu sync.Mutex
	var waits []time.Duration
	p.sleep = func(_ context.Context, d time.Duration) { mu.Lock(); waits = append(waits, d); mu.Unlock() }
	for range refusalBudget {
		p.refused(context.Background(), "198.51.100.7:5555")
	}
	if len(waits) != 0 {
		t.Fatalf("waited %d times within the budget", len(waits))
	}
	p.refused(context.Background(), "198.51.100.7:6666")
	p.refused(context.Background(), "2001:db8:1:2::1")
	if len(waits) != 1 || waits[0] != time.Second {
		t.Fatalf("waits %v, want one second for the source over budget only", waits)
	}
	for range refusalBudget {
		p.refused(context.Background(), "2001:db8:1:2::ffff") // same /64
	}
	if len(waits) != 2 {
		t.Fatalf("an IPv6 /64 is one source: waits %v", waits)
	}
	c.Advance(time.Minute)
	p.refused(context.Background(), "198.51.100.7")
	if len(waits) != 2 {
		t.Fatalf("the budget did not come back the next minute: waits %v", waits)
	}
	off := newPacer(-1, c.Now)
	off.sleep = func(context.Context, time.Duration) { t.Fatal("a disabled pacer waited") }
	for range refusalBudget + 1 {
		off.refused(context.Background(), "x")
	}
}

// Over HTTP: wrong logins beyond the budget are answered late (the
// server's pacer is swapped for one that records instead of sleeping); a
// successful sign-in from the same address is not.
func TestRefusedAnswersArePaced(t *testing.T) {
	var mu sync.Mutex
	waits := 0
	paced := func() int { mu.Lock(); defer mu.Unlock(); return waits }
	e := newEnv(t, func(d *Deps) { d.RefusalDelay = time.Second })
	e.srvPacer().sleep = func(context.Context, time.Duration) { mu.Lock(); waits++; mu.Unlock() }
	e.user("dora", auth.RoleStaff)
	for range refusalBudget + 3 {
		e.post(e.client(), "/login", url.Values{"username": {"nobody"}, "password": {"x"}})
	}
	if n := paced(); n != 3 {
		t.Fatalf("%d paced answers, want 3 (the refusals beyond %d)", n, refusalBudget)
	}
	if r := e.post(e.client(), "/login", url.Values{"username": {"dora"}, "password": {testPassword}}); r.status != http.StatusSeeOther || paced() != 3 {
		t.Fatalf("a successful sign-in: status %d, waits %d", r.status, paced())
	}
}
