package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// A GC refund fails at NeoX but its webhook never arrives (the sandbox
// sends no GC webhooks here) and GC has no refund query: the refund stays
// PROCESSING until its threshold (2 s here) moves it to needs attention.
// The manager finds it on /attention, opens it, resolves it as FAILED
// with a note and NeoX's reference; the refund page shows the manual
// resolution, and the audit trail the manual decision.
func TestResolveStuckGCRefund(t *testing.T) {
	t.Parallel()
	d := newDesk(t, apptest.WithRefundOptions(refunds.Options{
		AttentionAfter: map[refunds.API]time.Duration{refunds.APIGC: 2 * time.Second}}))
	base := d.app.URL
	d.app.App.Sandbox.SetWebhookURLs(base+"/webhooks/neox/pg", "", base+"/webhooks/neox/col") // GC's are lost

	startRequest(t, d, "GC", "CO-20240503-000200002", `[data-testid=refund-order]`) // NeoX fails it
	fill(t, d.staff, map[string]string{"select:#fee": "OUR", "select:#reason_code": "duplicate", "#reason_text": "Paid twice"})
	refundURL := request(t, d.staff)
	id := refundURL[strings.LastIndex(refundURL, "/")+1:]
	approve(t, d, refundURL)
	waitState(t, d.mgr, `[data-testid=submission-state]`, "PROCESSING", 15*time.Second)

	// The queue: wait (reloading) until the worker has flagged it.
	row := `[data-testid=attention-row][data-id="` + id + `"]`
	deadline := time.Now().Add(20 * time.Second)
	for {
		d.mgr.Run(t, chromedp.Navigate(base+"/attention"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=attention-stuck]`)))
		if apptest.Get(t, d.mgr, chromedp.Evaluate[bool](`document.querySelector('`+row+`') !== null`)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund %s never reached needs attention", id)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got := d.mgr.Text(t, row); !strings.Contains(got, "No final answer from NeoX in time") || !strings.Contains(got, "PROCESSING") {
		t.Errorf("queue row: %q", got)
	}
	noRawKeys(t, d.mgr)
	if loc := d.mgr.ClickAndLoad(t, row+` [data-testid=open-resolve]`); !strings.Contains(loc, id) {
		t.Fatalf("resolve link went to %s", loc)
	}
	d.mgr.WaitFor(t, `[data-testid=resolve-form]`)

	// Without a note the form comes back with the error and the typed reference.
	d.mgr.Run(t,
		chromedp.Click(chromedp.CSS(`[data-testid=resolve-failed]`)),
		chromedp.SendKeys(chromedp.CSS(`#resolve-ref`), "RF-20240503-000000999"),
	)
	d.mgr.ClickAndLoad(t, `[data-testid=resolve-submit]`)
	d.mgr.WaitFor(t, `#resolve-note[aria-invalid=true]`)
	if v := d.mgr.Value(t, `#resolve-ref`); v != "RF-20240503-000000999" {
		t.Errorf("typed reference lost: %q", v)
	}
	if !apptest.Get(t, d.mgr, chromedp.Evaluate[bool](`document.querySelector('[data-testid=resolve-failed]').checked`)) {
		t.Error("chosen outcome lost")
	}
	d.mgr.Run(t, chromedp.SendKeys(chromedp.CSS(`#resolve-note`), "Portal shows FAILED: payer bank returned the transfer"))
	d.mgr.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=resolve-submit]`)))
	d.mgr.WaitFor(t, `[data-testid=manual-resolution]`)
	got := d.mgr.Text(t, `[data-testid=manual-resolution]`)
	for _, want := range []string{"FAILED, set by manager", "Portal shows FAILED: payer bank returned the transfer", "RF-20240503-000000999"} {
		if !strings.Contains(got, want) {
			t.Errorf("manual resolution %q lacks %q", got, want)
		}
	}
	if s := d.mgr.Text(t, `[data-testid=submission-state]`); !(strings.Contains(s, "Manual: ") && strings.Contains(s, "FAILED")) {
		t.Errorf("state badge %q does not say the state was set by hand", s)
	}
	if final := d.mgr.Attr(t, `[data-testid=refund-status]`, "data-final"); final != "true" {
		t.Errorf("refund not final: %q", final)
	}
	timeline := d.mgr.Text(t, `[data-testid=timeline]`)
	if !strings.Contains(timeline, "refund.resolved_manually") || !strings.Contains(timeline, "refund.needs_attention") {
		t.Errorf("timeline lacks the attention and manual events: %q", timeline)
	}
	noRawKeys(t, d.mgr)

	// The audit trail has the manual decision, by the manager.
	d.mgr.Run(t, chromedp.Navigate(base+"/audit?action=refund.resolved_manually&target="+id),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=audit-filter]`)))
	d.mgr.WaitFor(t, `[data-testid=audit-row]`)
	if n := len(seqs(t, d.mgr)); n != 1 {
		t.Fatalf("%d audit rows for the resolution", n)
	}
	if a := actors(t, d.mgr); len(a) != 1 || !strings.HasPrefix(a[0], "manager") {
		t.Errorf("resolution audited as %v", a)
	}
	d.mgr.ClickAndLoad(t, `[data-testid=audit-row] a`)
	details := d.mgr.Text(t, `[data-testid=audit-details]`)
	for _, want := range []string{"RF-20240503-000000999", "payer bank returned", `"manual"`, "FAILED"} {
		if !strings.Contains(details, want) {
			t.Errorf("audit details lack %q: %s", want, details)
		}
	}

	// Off the queue; the staff member sees the outcome and who set it.
	d.mgr.Run(t, chromedp.Navigate(base+"/attention"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=attention-empty]`)))
	d.staff.Run(t, chromedp.Navigate(refundURL), chromedp.WaitVisible(chromedp.CSS(`[data-testid=manual-resolution]`)))
	if strings.Contains(apptest.Get(t, d.staff, chromedp.Evaluate[string](`document.body.innerHTML`)), `data-testid="resolve-form"`) {
		t.Error("staff are offered the resolution form")
	}
	for _, b := range []*apptest.Browser{d.staff, d.mgr} {
		for _, m := range b.Problems() {
			t.Errorf("browser console: %s", m)
		}
	}
}
