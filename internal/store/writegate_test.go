package store

import (
	"context"
	"sync"
	"testing"
	"time"
)

// waitQueued waits until the gate has n waiters.
func waitQueued(t *testing.T, g *writeGate, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		g.mu.Lock()
		q := len(g.urgent) + len(g.rest)
		g.mu.Unlock()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters queued, want %d", q, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWriteGateOrder: waiters get the gate first come, first served,
// urgent ones before the others, one at a time.
func TestWriteGateOrder(t *testing.T) {
	g := &writeGate{}
	ctx := context.Background()
	if err := g.acquire(ctx, false); err != nil {
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
			if err := g.acquire(ctx, w.urgent); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			order = append(order, w.name)
			mu.Unlock()
			g.release()
		})
		waitQueued(t, g, i+1) // queued in this order
	}
	g.release()
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
	if g.held {
		t.Error("gate still held after every waiter released it")
	}
}

// TestWriteGateCancelledWaiter: a waiter whose context ends leaves the
// queue and never holds the gate; the others still get it.
func TestWriteGateCancelledWaiter(t *testing.T) {
	g := &writeGate{}
	if err := g.acquire(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() { gone <- g.acquire(ctx, true) }()
	waitQueued(t, g, 1)
	next := make(chan error, 1)
	go func() { next <- g.acquire(context.Background(), false) }()
	waitQueued(t, g, 2)
	cancel()
	if err := <-gone; err == nil {
		t.Fatal("cancelled waiter got the gate")
	}
	waitQueued(t, g, 1)
	g.release()
	if err := <-next; err != nil {
		t.Fatal(err)
	}
	g.release()
	if g.held {
		t.Error("gate still held")
	}
}

// TestWriteGateCancelRacesHandOff: when a waiter's context ends just as it
// is handed the gate, the gate passes on instead of staying held by
// nobody. Run many times; each must end with the gate free.
func TestWriteGateCancelRacesHandOff(t *testing.T) {
	for range 500 {
		g := &writeGate{}
		if err := g.acquire(context.Background(), false); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- g.acquire(ctx, false) }()
		waitQueued(t, g, 1)
		go cancel()
		g.release()
		if err := <-done; err == nil {
			g.release() // it got the gate fairly: give it back
		}
		lost, stop := context.WithTimeout(context.Background(), 10*time.Second)
		err := g.acquire(lost, false) // times out if the gate was lost
		stop()
		if err != nil {
			t.Fatalf("the gate was lost: %v", err)
		}
		g.release()
		g.mu.Lock()
		held := g.held
		g.mu.Unlock()
		if held {
			t.Fatal("gate held by nobody")
		}
	}
}
