package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// NeoX stops answering refund calls after a manager approved one: the
// refund waits in UNKNOWN, every page says NeoX is not answering, and
// once NeoX answers the refund page reaches SUCCEEDED by itself and the
// notice goes away.
func TestNeoXOutageIsShown(t *testing.T) {
	t.Parallel()
	d := newDesk(t, apptest.WithRefundOptions(refunds.Options{RetryBase: 200 * time.Millisecond, RetryMax: time.Second}))
	d.app.App.Sandbox.InjectFault(sandbox.OpPGRefund, sandbox.Fault5xx, 1_000_000)
	startRequest(t, d, "PG", "240901101500HCMCAF", `a.button[data-testid^=refund-]`)
	fill(t, d.staff, map[string]string{"#amount": "10.000", "select:#reason_code": "other", "#reason_text": "outage"})
	url := request(t, d.staff)
	approve(t, d, url)
	waitState(t, d.mgr, `[data-testid=submission-state]`, "UNKNOWN", 15*time.Second)

	notices := func(b *apptest.Browser) string {
		t.Helper()
		b.Run(t, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`[data-testid=submission-state]`)))
		return apptest.Get(t, b, chromedp.Evaluate[string](
			`Array.from(document.querySelectorAll('[data-testid=neox-outage]')).map(n => n.textContent.trim()).join('\n')`))
	}
	var got string
	for deadline := time.Now().Add(15 * time.Second); got == "" && time.Now().Before(deadline); {
		if got = notices(d.mgr); got == "" {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !strings.Contains(got, "NeoX PG did not answer the last") || !strings.Contains(got, "refund") {
		t.Fatalf("manager's notice: %q", got)
	}
	if got := notices(d.staff); !strings.Contains(got, "NeoX PG") {
		t.Errorf("staff's notice: %q", got)
	}

	d.app.App.Sandbox.InjectFault(sandbox.OpPGRefund, sandbox.FaultNone, 0)
	waitState(t, d.staff, `[data-testid=submission-state]`, "SUCCEEDED", 30*time.Second)
	if got := notices(d.mgr); got != "" {
		t.Errorf("notice after NeoX answered: %q", got)
	}
	for _, b := range []*apptest.Browser{d.staff, d.mgr} {
		for _, m := range b.Problems() {
			t.Errorf("browser console: %s", m)
		}
	}
}
