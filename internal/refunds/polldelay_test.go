package refunds

import (
	"testing"
	"time"
)

func TestPollDelayThinsOut(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	s := &Service{now: func() time.Time { return now }, opt: Options{PollInterval: 30 * time.Second}}
	tests := []struct {
		sinceApproval time.Duration
		want          time.Duration
	}{
		{0, 30 * time.Second},
		{time.Minute, 30 * time.Second},
		{10 * time.Minute, time.Minute},
		{5 * time.Hour, 30 * time.Minute},
		{48 * time.Hour, time.Hour},
	}
	for _, tt := range tests {
		r := Refund{DecidedAt: now.Add(-tt.sinceApproval)}
		if got := s.pollDelay(r); got != tt.want {
			t.Errorf("%v after approval: poll in %v, want %v", tt.sinceApproval, got, tt.want)
		}
	}
	if got := s.pollDelay(Refund{}); got != 30*time.Second {
		t.Errorf("no approval time: %v", got)
	}
}
