package prio

import (
	"context"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until the semaphore has n waiters.
func waitQueued(t *testing.T, g *Sem, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		q := g.Waiting()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteGateOrder: waiters get the permit first come, first served,
// urgent ones before the others, one at a time.
func TestSemOrder(t *testing.T) {
	g := New(1)
	ctx := context.Background()
	if err := g.Acquire(ctx, false); err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		order []string
		wg    sync.WaitGroup
	)
	for i, w := range []struct {
		name   string
		urgent bool
	}{{"page 1", false}, {"page 2", false}, {"webhook 1", true}, {"page 3", false}, {"webhook 2", true}} {
		wg.Go(func() {
			if err := g.Acquire(ctx, w.urgent); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, w.name)
			mu.Unlock()
			g.Release()
		})
		waitQueued(t, g, i+1) // queued in this order
	}
	g.Release()
	wg.Wait()
	want := []string{"webhook 1", "webhook 2", "page 1", "page 2", "page 3"}
	if len(order) != len(want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order %v, want %v", order, want)
		}
	}
	if g.free != 1 {
		t.Errorf("%d permits free after every waiter released, want 1", g.free)
	}
}

// TestWriteGateCancelledWaiter: a waiter whose context ends leaves the
// queue and never holds the permit; the others still get it.
func TestSemCancelledWaiter(t *testing.T) {
	g := New(1)
	if err := g.Acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { gone <- g.Acquire(ctx, true) }()
	waitQueued(t, g, 1)
	next := make(chan error, 1)
	go func() { next <- g.Acquire(context.Background(), false) }()
	waitQueued(t, g, 2)
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("cancelled waiter got the permit")
	}
	waitQueued(t, g, 1)
	g.Release()
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	g.Release()
	if g.free != 1 {
		t.Errorf("%d permits free, want 1", g.free)
	}
}

// TestWriteGateCancelRacesHandOff: when a waiter's context ends just as it
// is handed the permit, the permit passes on instead of staying held by
// nobody. Run many times; each must end with the permit free.
func TestSemCancelRacesHandOff(t *testing.T) {
	for range 500 {
		g := New(1)
		if err := g.Acquire(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.Acquire(ctx, false) }()
		waitQueued(t, g, 1)
		go cancel()
		g.Release()
		if err := <-done; err == nil {
			g.Release() // it got the permit fairly: give it back
		}
		lost, stop := context.WithTimeout(context.Background(), 10*time.Second)
		err := g.Acquire(lost, false) // times out if the permit was lost
		stop()
		if err != nil {
			t.Fatalf("the permit was lost: %v", err)
		}
		g.Release()
		g.mu.Lock()
		free := g.free
		g.mu.Unlock()
		if free != 1 {
			t.Fatalf("%d permits free, want 1: a permit was lost or made up", free)
		}
	}
}

// TestSemPermits: n holders at once, the next one waits until one
// releases.
func TestSemPermits(t *testing.T) {
	g := New(2)
	ctx := context.Background()
	for range 2 {
		if err := g.Acquire(ctx, false); err != nil {
			t.Fatal(err)
		}
	}
	third := make(chan error, 1)
	go func() { third <- g.Acquire(ctx, false) }()
	waitQueued(t, g, 1)
	select {
	case <-third:
		t.Fatal("a third holder with two permits")
	default:
	}
	g.Release()
	if err := <-third; err != nil {
		t.Fatal(err)
	}
	g.Release()
	g.Release()
	if g.free != 2 {
		t.Errorf("%d permits free, want 2", g.free)
	}
}
