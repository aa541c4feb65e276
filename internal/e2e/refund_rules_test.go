package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
)

// startRequest looks ref up as staff and opens the refund form through sel.
func startRequest(t *testing.T, d *desk, api, ref, sel string) {
	t.Helper()
	lookup(t, d.staff, d.app.URL, api, ref)
	d.staff.Run(t,
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=refund-form]`)),
	)
}

func TestRefundRejectedWithNote(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	startRequest(t, d, "COL", "FT24324HCM001", `[data-testid=refund-order]`)
	fill(t, d.staff, map[string]string{"#amount": "20.000", "select:#reason_code": "other", "#reason_text": "Test reject"})
	url := request(t, d.staff)
	// Rejecting without a note is refused, next to the field.
	d.mgr.Run(t,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=reject]`)),
		chromedp.Click(chromedp.CSS(`[data-testid=reject]`)),
	)
	d.mgr.WaitFor(t, `[data-testid=error-note]`)
	d.mgr.Run(t,
		chromedp.SendKeys(chromedp.CSS(`#note`), "Không đủ chứng từ"),
		chromedp.Click(chromedp.CSS(`[data-testid=reject]`)),
	)
	d.mgr.WaitFor(t, `[data-testid=flash]`)
	waitState(t, d.staff, `[data-testid=approval-state]`, "REJECTED", 15*time.Second)
	d.staff.Run(t, chromedp.Reload())
	d.staff.WaitFor(t, `[data-testid=decision-info]`)
	if got := d.staff.Text(t, `[data-testid=decision-info]`); !strings.Contains(got, "Không đủ chứng từ") {
		t.Errorf("decision note not shown to the requester: %q", got)
	}
	if got := d.staff.Text(t, `[data-testid=submission-state]`); !strings.Contains(got, "NOT_SENT") {
		t.Errorf("rejected refund was sent: %q", got)
	}
}

func TestRefundCancelledByMaker(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	startRequest(t, d, "PG", "240902141210DNGHTL", `a.button[data-testid^=refund-]`)
	fill(t, d.staff, map[string]string{"#amount": "100000", "select:#reason_code": "duplicate", "#reason_text": "oops"})
	url := request(t, d.staff)
	// The data-confirm prompt is answered by the browser automatically.
	d.staff.Run(t, chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`))
	d.staff.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=cancel]`)))
	d.staff.WaitFor(t, `[data-testid=flash]`)
	waitState(t, d.staff, `[data-testid=approval-state]`, "CANCELLED", 15*time.Second)
	// The manager can no longer approve it.
	d.mgr.Run(t, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`[data-testid=refund-status]`)))
	if n := apptest.Get(t, d.mgr, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=approve]').length`)); n != 0 {
		t.Errorf("approve offered on a cancelled refund")
	}
}

func TestSelfApprovalRefused(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	// The manager requests a refund, then tries to approve it.
	startRequest(t, &desk{app: d.app, staff: d.mgr}, "PG", "240901101500HCMCAF", `a.button[data-testid^=refund-]`)
	fill(t, d.mgr, map[string]string{"#amount": "10.000", "select:#reason_code": "other", "#reason_text": "mine"})
	url := request(t, d.mgr)
	d.mgr.WaitFor(t, `[data-testid=self-approval-note]`)
	if n := apptest.Get(t, d.mgr, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=approve]').length`)); n != 0 {
		t.Fatalf("approve button offered to the maker")
	}
	// A forged POST is refused by the server as well.
	c := d.app.Client(t)
	d.app.Login(t, c, "manager", pass)
	path, _, _ := strings.Cut(strings.TrimPrefix(url, d.app.URL), "?")
	resp := d.app.PostForm(t, c, path+"/approve", nil)
	if resp.StatusCode != 403 {
		t.Errorf("self-approval POST: status %d, want 403", resp.StatusCode)
	}
	waitState(t, d.mgr, `[data-testid=approval-state]`, "PENDING", 15*time.Second)
}

func TestOverRefundRefused(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	startRequest(t, d, "PG", "240901101500HCMCAF", `a.button[data-testid^=refund-]`)
	fill(t, d.staff, map[string]string{"#amount": "9.999.999", "select:#reason_code": "other", "#reason_text": "too much"})
	d.staff.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=refund-submit]`)))
	d.staff.WaitFor(t, `[data-testid=error-amount]`)
	if got := d.staff.Text(t, `[data-testid=error-amount]`); !strings.Contains(got, "At most") {
		t.Errorf("over-refund message: %q", got)
	}
	// What was typed is kept, formatted.
	if v := d.staff.Value(t, `#amount`); v != "9.999.999" {
		t.Errorf("amount field after error: %q", v)
	}
	if got := d.staff.Value(t, `#reason_text`); got != "too much" {
		t.Errorf("reason lost after error: %q", got)
	}
}

func TestQRWithoutReceiverRefused(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	startRequest(t, d, "PG", "240830080146NDTISR", `a.button[data-testid=refund-1439211]`)
	fill(t, d.staff, map[string]string{"#amount": "50.000", "select:#reason_code": "customer_request", "#reason_text": "QR"})
	d.staff.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=refund-submit]`)))
	d.staff.WaitFor(t, `[data-testid=error-bank_account_number]`)
	// With the receiver it goes through.
	fill(t, d.staff, map[string]string{"#bank_account_name": "NGUYEN VAN A", "#bank_account_number": "0123456789", "#bank_swift": "ASCBVNVX"})
	request(t, d.staff)
	waitState(t, d.staff, `[data-testid=approval-state]`, "PENDING", 15*time.Second)
}

func TestNeoXFailureShownWithReason(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	startRequest(t, d, "COL", "FT24326DNG003", `[data-testid=refund-order]`)
	fill(t, d.staff, map[string]string{"#amount": "10000", "select:#reason_code": "other", "#reason_text": "will fail"})
	url := request(t, d.staff)
	approve(t, d, url)
	waitState(t, d.staff, `[data-testid=submission-state]`, "FAILED", 30*time.Second)
	d.staff.WaitFor(t, `[data-testid=failed-reason]`)
	if got := d.staff.Text(t, `[data-testid=failed-reason]`); !strings.Contains(got, "closed") {
		t.Errorf("failure reason shown: %q", got)
	}
}
