package templates

import (
	"context"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// TestRefundListTotalsCapped: a filter matching more refunds than the
// desk counts per page view shows no totals but says how to get them, in
// both languages, and keeps the export link.
func TestRefundListTotalsCapped(t *testing.T) {
	for _, tc := range []struct {
		lang i18n.Lang
		want string
	}{{i18n.EN, "narrow the filter"}, {i18n.VI, "thu hẹp bộ lọc"}} {
		ctx := i18n.WithLang(context.Background(), tc.lang)
		var b strings.Builder
		d := RefundListData{TotalsCapped: true, ExportHref: "/refunds/export.csv?"}
		if err := RefundListPage(Page{}, d).Render(ctx, &b); err != nil {
			t.Fatal(err)
		}
		html := b.String()
		if !strings.Contains(html, `data-testid="refund-totals-capped"`) || !strings.Contains(html, tc.want) ||
			!strings.Contains(html, `data-testid="refund-export"`) || strings.Contains(html, `data-testid="refund-totals"`) {
			t.Errorf("%s: capped totals not shown as such:\n%s", tc.lang, html)
		}
		b.Reset()
		d = RefundListData{Totals: []refunds.AmountTotal{{Currency: "VND", Count: 2, Amount: 300_000}}}
		if err := RefundListPage(Page{}, d).Render(ctx, &b); err != nil {
			t.Fatal(err)
		}
		if html := b.String(); !strings.Contains(html, `data-testid="refund-totals"`) || strings.Contains(html, "refund-totals-capped") {
			t.Errorf("%s: totals under the cap not shown", tc.lang)
		}
	}
}
