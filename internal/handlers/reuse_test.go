package handlers

import (
	"errors"
	"testing"
	"time"
)

func TestReused(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	var c reused[int]
	calls := 0
	next := func() (int, error) { calls++; return calls, nil }
	failing := func() (int, error) { return -1, errors.New("database is locked") }
	steps := []struct {
		name    string
		at      time.Duration
		compute func() (int, error)
		want    int
		wantErr bool
	}{
		{"first call computes", 0, next, 1, false},
		{"within the ttl: reused", time.Second, next, 1, false},
		{"at the ttl: recomputed", 2 * time.Second, next, 2, false},
		{"clock went back: recomputed", time.Second, next, 3, false},
		{"a failure is returned", 10 * time.Second, failing, -1, true},
		{"and not kept", 10 * time.Second, next, 4, false},
	}
	for _, s := range steps {
		got, err := c.get(t0.Add(s.at), 2*time.Second, s.compute)
		if got != s.want || (err != nil) != s.wantErr {
			t.Errorf("%s: got %d, %v; want %d, error %v", s.name, got, err, s.want, s.wantErr)
		}
	}
}
