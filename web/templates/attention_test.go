package templates

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// TestAttentionSweepNamesItsProducts: the sweep's section is named after
// the products that sweep, says which product's list showed a finding
// when there are several, and is absent when no product sweeps.
func TestAttentionSweepNamesItsProducts(t *testing.T) {
	render := func(d AttentionData) string {
		var buf bytes.Buffer
		if err := AttentionSweep(d).Render(i18n.WithLang(context.Background(), i18n.EN), &buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	f := refunds.Finding{RequestID: "r-1", Kind: refunds.FindingUnknownToDesk, API: "VOUCHER", NeoXStatus: "PAID", FirstSeen: time.Now()}
	one := render(AttentionData{Sweepers: []string{"COL"}, SweepOn: true, Every: time.Hour, Findings: []refunds.Finding{f}})
	if !strings.Contains(one, "COL sweep: NeoX&#39;s refund list against the desk") || strings.Contains(one, `data-testid="finding-api"`) {
		t.Errorf("one product:\n%s", one)
	}
	two := render(AttentionData{Sweepers: []string{"COL", "VOUCHER"}, Findings: []refunds.Finding{f}})
	for _, want := range []string{"COL, VOUCHER sweep", `data-testid="sweep-off"`, "The COL, VOUCHER sweep is off",
		`<span data-testid="finding-api">VOUCHER </span>`} {
		if !strings.Contains(two, want) {
			t.Errorf("two products: lacks %s:\n%s", want, two)
		}
	}
	if none := render(AttentionData{Findings: []refunds.Finding{f}}); strings.TrimSpace(none) != "" {
		t.Errorf("no product sweeps, yet: %s", none)
	}
}
