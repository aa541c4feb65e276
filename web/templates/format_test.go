package templates

import (
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

func TestLatency(t *testing.T) {
	done := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		a    refunds.Attempt
		want string
	}{
		{"running", refunds.Attempt{LatencyMS: 0}, ""},
		{"under a millisecond", refunds.Attempt{FinishedAt: done, LatencyMS: 0}, "< 1"},
		{"measured", refunds.Attempt{FinishedAt: done, LatencyMS: 1234}, "1234"},
	}
	for _, tt := range tests {
		if got := Latency(tt.a); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}
