package clock

import (
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)

func TestFake(t *testing.T) {
	tests := []struct {
		name string
		c    *Fake
		move func(c *Fake)
		want []time.Time // successive readings after move
	}{
		{"stands still", NewFake(t0), func(*Fake) {}, []time.Time{t0, t0}},
		{"advances", NewFake(t0), func(c *Fake) { c.Advance(time.Hour) }, []time.Time{t0.Add(time.Hour), t0.Add(time.Hour)}},
		{"is set", NewFake(t0), func(c *Fake) { c.Set(t0.Add(-time.Minute)) }, []time.Time{t0.Add(-time.Minute)}},
		{"steps on every reading", NewStepping(t0, time.Millisecond), func(*Fake) {},
			[]time.Time{t0.Add(time.Millisecond), t0.Add(2 * time.Millisecond)}},
		{"steps after an advance", NewStepping(t0, time.Second), func(c *Fake) { c.Advance(time.Minute) },
			[]time.Time{t0.Add(time.Minute + time.Second)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.move(tt.c)
			for i, w := range tt.want {
				if got := tt.c.Now(); !got.Equal(w) {
					t.Errorf("reading %d = %v, want %v", i, got, w)
				}
			}
		})
	}
}

// Readers and an advancing test share the clock: under -race this fails
// if the clock is not safe for concurrent use, and no reading is lost.
func TestFakeConcurrent(t *testing.T) {
	c := NewStepping(t0, time.Nanosecond)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				c.Now()
				c.Advance(time.Nanosecond)
			}
		}()
	}
	wg.Wait()
	if got, want := c.Now(), t0.Add(8001*time.Nanosecond); !got.Equal(want) {
		t.Errorf("after 4×1000 readings and advances: %v, want %v", got, want)
	}
}

func TestReal(t *testing.T) {
	var c Clock = Real{}
	before := time.Now()
	if got := c.Now(); got.Before(before) || got.After(time.Now()) {
		t.Errorf("Real.Now = %v, not between the readings around it", got)
	}
}
