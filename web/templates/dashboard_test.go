package templates

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// TestDashboardComparesLikeWithLike: amounts are grouped per currency,
// each bar scaled against the largest of its own currency only; a median
// without samples says so instead of "over 0 refunds"; success and
// failure parts carry their names.
func TestDashboardComparesLikeWithLike(t *testing.T) {
	ctx := i18n.WithLang(context.Background(), i18n.EN)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	d := refunds.Dashboard{Now: now, TodayFrom: now.Truncate(24 * time.Hour), MonthFrom: now.AddDate(0, 0, -24), WindowFrom: now.AddDate(0, 0, -29),
		Today: []refunds.AmountTotal{{API: "PG", Currency: "VND", Count: 2, Amount: 500_000}, {API: "COL", Currency: "VND", Count: 1, Amount: 1_700_000},
			{API: "GC", Currency: "EUR", Count: 1, Amount: 8990}},
		Outcomes: []refunds.OutcomeCount{{API: "PG", Succeeded: 3, Failed: 1}}}
	v := NewDashboardView(ctx, true, d)
	today := v.Charts[0]
	if len(today.Groups) != 2 || today.Groups[0].Key != "VND" || today.Groups[1].Key != "EUR" {
		t.Fatalf("groups = %+v", today.Groups)
	}
	for _, tc := range []struct {
		bar  Bar
		frac float64
	}{{today.Groups[0].Bars[0], 500_000.0 / 1_700_000}, {today.Groups[0].Bars[1], 1}, {today.Groups[1].Bars[0], 1}} {
		if diff := tc.bar.Frac - tc.frac; diff > 1e-9 || diff < -1e-9 {
			t.Errorf("%s: frac %.4f, want %.4f", tc.bar.Key, tc.bar.Frac, tc.frac)
		}
		if !strings.Contains(tc.bar.Href, "currency="+strings.Split(tc.bar.Key, "-")[1]) {
			t.Errorf("%s links to %s, not its currency", tc.bar.Key, tc.bar.Href)
		}
	}
	for _, f := range v.Figures {
		if strings.HasPrefix(f.Key, "median") && (strings.Contains(f.Note, " 0 ") || f.Value != "—") {
			t.Errorf("%s without samples: %q %q", f.Key, f.Value, f.Note)
		}
	}
	segs := v.Stacks[0].Rows[0].Segments
	if segs[0].Display != "Succeeded: 3 of 4 (75.0%)" || segs[1].Display != "Failed: 1 of 4 (25.0%)" {
		t.Errorf("segments %q, %q", segs[0].Display, segs[1].Display)
	}
	if len(v.Stacks[0].Legend) != 2 {
		t.Errorf("legend %+v", v.Stacks[0].Legend)
	}
}
