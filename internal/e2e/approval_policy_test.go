package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// policyAdmin signs an admin in on the approval policy page.
func policyAdmin(t *testing.T, d *desk) *apptest.Browser {
	t.Helper()
	d.app.CreateUser(t, "boss", auth.RoleAdmin, pass)
	b := apptest.NewBrowser(t)
	b.Login(t, d.app.URL, "boss", pass)
	b.Run(t,
		chromedp.Navigate(d.app.URL+"/settings/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=rule-form]`)),
	)
	return b
}

// TestTwoApproverRefundEndToEnd: an admin asks two approvers above
// 100.000 ₫; a 200.000 ₫ refund gets the first approval and stays
// pending, the first approver cannot give the second, another manager
// sees the first decision and approves, and NeoX refunds it.
func TestTwoApproverRefundEndToEnd(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	admin := policyAdmin(t, d)
	admin.Run(t,
		chromedp.SendKeys(chromedp.CSS(`#rule-dual`), "100.000"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-rule]`)),
	)
	admin.WaitFor(t, `[data-testid=rule-VND-]`)
	if got := admin.Text(t, `[data-testid=rule-VND-]`); !strings.Contains(got, "100.000 ₫") {
		t.Fatalf("rule row: %q", got)
	}
	d.app.CreateUser(t, "manager2", auth.RoleManager, pass)

	startRequest(t, d, "PG", "240901101500HCMCAF", `a.button[data-testid^=refund-]`)
	fill(t, d.staff, map[string]string{"#amount": "200.000", "select:#reason_code": "customer_request", "#reason_text": "Hai người duyệt"})
	url := request(t, d.staff)
	if got := d.staff.Text(t, `[data-testid=approval-rule]`); !strings.Contains(got, "100.000 ₫") || !strings.Contains(got, "2") {
		t.Errorf("rule on the refund page: %q", got)
	}

	approve(t, d, url)
	d.mgr.WaitFor(t, `[data-testid=same-approver-note]`)
	if got := d.mgr.Text(t, `[data-testid=approval-progress]`); !strings.Contains(got, "1 of 2") || !strings.Contains(strings.ToLower(got), "manager") {
		t.Errorf("progress after the first approval: %q", got)
	}
	if got := d.mgr.Text(t, `[data-testid=approval-state]`); !strings.Contains(got, "PENDING") {
		t.Errorf("state after the first approval: %q", got)
	}

	// The admin's browser signs out and in as the second manager: one
	// Chromium fewer on a busy machine.
	m2 := admin
	m2.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=logout]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)))
	m2.Login(t, d.app.URL, "manager2", pass)
	m2.Run(t,
		chromedp.Navigate(url),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=approvals-given]`)),
	)
	if got := m2.Text(t, `[data-testid=approvals-given]`); !strings.Contains(strings.ToLower(got), "manager") {
		t.Errorf("the second approver does not see the first: %q", got)
	}
	m2.Run(t,
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`[data-testid=approve]`)),
	)
	m2.WaitFor(t, `[data-testid=flash]`)
	waitState(t, m2, `[data-testid=approval-state]`, "APPROVED", 15*time.Second)
	waitState(t, d.staff, `[data-testid=submission-state]`, "SUCCEEDED", 60*time.Second)
}

// TestRefusedRequestNobodyCanApprove: the only manager may approve up to
// 50.000 ₫, so a 100.000 ₫ request is refused on the form with the
// reason, and nothing is requested.
func TestRefusedRequestNobodyCanApprove(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	admin := policyAdmin(t, d)
	admin.Run(t,
		chromedp.SendKeys(chromedp.CSS(`#limit-up-to`), "50.000"),
		chromedp.Click(chromedp.CSS(`[data-testid=save-limit]`)),
	)
	admin.WaitFor(t, `[data-testid=limits-table]`)

	startRequest(t, d, "PG", "240901101500HCMCAF", `a.button[data-testid^=refund-]`)
	fill(t, d.staff, map[string]string{"#amount": "100.000", "select:#reason_code": "customer_request", "#reason_text": "Không ai duyệt được"})
	d.staff.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=refund-submit]`)))
	d.staff.WaitFor(t, `[data-testid=error-amount]`)
	if got := d.staff.Text(t, `[data-testid=error-amount]`); !strings.Contains(got, "No manager other than you may approve this amount in VND") {
		t.Errorf("reason: %q", got)
	}
	d.mgr.Run(t,
		chromedp.Navigate(d.app.URL+"/approvals"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=queue-empty]`)),
	)
}
