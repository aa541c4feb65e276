package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
)

// declineConfirm makes the next confirmation answer "Cancel" and keeps
// what it asked in window.asked.
const declineConfirm = `window.asked = ''; window.confirm = (m) => { window.asked = m; return false; }`

// TestConfirmationsSayWhatHappens: approving asks first, naming the amount
// and who receives it; bulk approve names the count and the totals per
// currency of the selection; declining changes nothing.
func TestConfirmationsSayWhatHappens(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	hc := d.app.Client(t)
	d.app.Login(t, hc, "staff", pass)
	pg := createRefund(t, d.app, hc, url.Values{"amount": {"300.000"}})
	createRefund(t, d.app, hc, url.Values{"amount": {"2.000"}})
	createRefund(t, d.app, hc, url.Values{"api": {"GC"}, "ref": {"CO-20240502-000200001"}, "payment": nil, "amount": nil, "fee_charge_way": {"OUR"}})

	// One refund: the page shows its details before the decision, and the
	// confirmation says how much goes where.
	d.mgr.Run(t, chromedp.Navigate(d.app.URL+"/refunds/"+pg), chromedp.WaitVisible(chromedp.CSS(`[data-testid=approve]`)))
	order := apptest.Get(t, d.mgr, chromedp.Evaluate[bool](`!!(document.querySelector('[data-testid=refund-live]').compareDocumentPosition(document.querySelector('[data-testid=decision]')) & Node.DOCUMENT_POSITION_FOLLOWING)`))
	if !order {
		t.Errorf("the decision comes before the refund's details")
	}
	sizes := apptest.Get(t, d.mgr, chromedp.Evaluate[[]float64](`[document.querySelector('[data-testid=approve]'), document.querySelector('[data-testid=reject]')].map(b => b.getBoundingClientRect().width * b.getBoundingClientRect().height)`))
	if sizes[0] < sizes[1] {
		t.Errorf("Approve (%.0f px²) is less prominent than Reject (%.0f px²)", sizes[0], sizes[1])
	}
	d.mgr.Run(t, chromedp.Evaluate[chromedp.Void](declineConfirm), chromedp.Click(chromedp.CSS(`[data-testid=approve]`)))
	asked := apptest.Get(t, d.mgr, chromedp.Evaluate[string](`window.asked`))
	for _, want := range []string{"300.000 ₫", "1440001", "240901101500HCMCAF"} {
		if !strings.Contains(asked, want) {
			t.Errorf("approve confirmation %q lacks %q", asked, want)
		}
	}
	if n := apptest.Get(t, d.mgr, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=approve]').length`)); n != 1 {
		t.Errorf("declining the confirmation still approved")
	}

	// Bulk: select all, live totals, then a confirmation with the count
	// and the totals per currency; declining sends nothing.
	d.mgr.Run(t, chromedp.Navigate(d.app.URL+"/approvals"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=queue]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=select-all]`)))
	d.mgr.WaitFor(t, `[data-testid=selection]:not(:empty)`)
	summary := d.mgr.Text(t, `[data-testid=selection]`)
	for _, want := range []string{"3", "302.000 ₫", "EUR 89.90"} {
		if !strings.Contains(summary, want) {
			t.Errorf("selection summary %q lacks %q", summary, want)
		}
	}
	d.mgr.Run(t, chromedp.Evaluate[chromedp.Void](declineConfirm), chromedp.Click(chromedp.CSS(`[data-testid=bulk-approve]`)))
	asked = apptest.Get(t, d.mgr, chromedp.Evaluate[string](`window.asked`))
	for _, want := range []string{"3", "302.000 ₫", "EUR 89.90"} {
		if !strings.Contains(asked, want) {
			t.Errorf("bulk confirmation %q lacks %q", asked, want)
		}
	}
	if n := apptest.Get(t, d.mgr, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=queue-row]').length`)); n != 3 {
		t.Errorf("declining bulk approve left %d rows, want 3", n)
	}
	d.mgr.Run(t, chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`), chromedp.Click(chromedp.CSS(`[data-testid=bulk-approve]`)))
	d.mgr.WaitFor(t, `[data-testid=bulk-result]`)
}
