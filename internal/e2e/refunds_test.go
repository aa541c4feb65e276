package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

const pass = "a long enough test passphrase"

// desk is a running app with a staff member and two managers signed in
// in their own browsers.
type desk struct {
	app    *apptest.Running
	staff  *apptest.Browser
	mgr    *apptest.Browser
	reqURL string
}

func newDesk(t *testing.T, opts ...apptest.Option) *desk {
	t.Helper()
	app := apptest.Start(t, opts...)
	app.CreateUser(t, "staff", auth.RoleStaff, pass)
	app.CreateUser(t, "manager", auth.RoleManager, pass)
	d := &desk{app: app, staff: apptest.NewBrowser(t), mgr: apptest.NewBrowser(t)}
	d.staff.Login(t, app.URL, "staff", pass)
	d.mgr.Login(t, app.URL, "manager", pass)
	return d
}

// lookup opens the transactions page and looks ref up through the form.
func lookup(t *testing.T, b *apptest.Browser, base, api, ref string) {
	t.Helper()
	b.Run(t,
		chromedp.Navigate(base+"/transactions"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=lookup-form]`)),
		chromedp.SetValue(chromedp.CSS(`#api`), api),
		chromedp.SendKeys(chromedp.CSS(`#ref`), ref),
		chromedp.Click(chromedp.CSS(`[data-testid=lookup-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=lookup-result]`)),
	)
}

// fill types into the refund form fields that are given.
func fill(t *testing.T, b *apptest.Browser, fields map[string]string) {
	t.Helper()
	var actions []chromedp.Action[chromedp.Void]
	for sel, v := range fields {
		if strings.HasPrefix(sel, "select:") {
			actions = append(actions, chromedp.SetValue(chromedp.CSS(strings.TrimPrefix(sel, "select:")), v))
			continue
		}
		actions = append(actions, chromedp.SendKeys(chromedp.CSS(sel), v))
	}
	b.Run(t, actions...)
}

// request submits the refund form and returns the new refund's URL.
func request(t *testing.T, b *apptest.Browser) string {
	t.Helper()
	b.Run(t,
		chromedp.Click(chromedp.CSS(`[data-testid=refund-submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=refund-status]`)),
	)
	return b.Location(t)
}

// waitState waits, without reloading, until the refund page shows want.
func waitState(t *testing.T, b *apptest.Browser, sel, want string, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, within)
	defer cancel()
	var got string
	for {
		got, _ = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if strings.Contains(got, want) {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s shows %q, want %q", sel, got, want)
		case <-time.After(150 * time.Millisecond):
		}
	}
}

// approve approves the refund at refundURL as the manager, accepting the
// confirmation.
func approve(t *testing.T, d *desk, refundURL string) {
	t.Helper()
	d.mgr.Run(t,
		chromedp.Navigate(refundURL),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=approve]`)),
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true`),
		chromedp.Click(chromedp.CSS(`[data-testid=approve]`)),
	)
	d.mgr.WaitFor(t, `[data-testid=flash]`)
}

func TestRefundHappyPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, api, ref string
		open           string // button to click on the lookup result
		fields         map[string]string
	}{
		{"PG ATM payment", "PG", "240901101500HCMCAF", `a.button[data-testid^=refund-]`, map[string]string{
			"#amount": "150.000", "select:#reason_code": "customer_request", "#reason_text": "Khách hàng đổi ý"}},
		{"GC collection order", "GC", "CO-20240501-000123456", `[data-testid=refund-order]`, map[string]string{
			"select:#fee": "OUR", "select:#reason_code": "duplicate", "#reason_text": "Paid twice"}},
		{"COL collection transaction", "COL", "FT24324HCM001", `[data-testid=refund-order]`, map[string]string{
			"#amount": "50000", "select:#reason_code": "not_delivered", "#reason_text": "Hàng chưa giao"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDesk(t)
			lookup(t, d.staff, d.app.URL, tt.api, tt.ref)
			d.staff.Run(t,
				chromedp.Click(chromedp.CSS(tt.open)),
				chromedp.WaitVisible(chromedp.CSS(`[data-testid=refund-form]`)),
			)
			fill(t, d.staff, tt.fields)
			url := request(t, d.staff)
			waitState(t, d.staff, `[data-testid=approval-state]`, "PENDING", 15*time.Second)
			noRawKeys(t, d.staff)
			d.mgr.Run(t, chromedp.Navigate(d.app.URL+"/approvals"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=queue]`)))
			noRawKeys(t, d.mgr)
			approve(t, d, url)
			// The staff page was not reloaded: htmx polling brings the outcome.
			waitState(t, d.staff, `[data-testid=submission-state]`, "SUCCEEDED", 30*time.Second)
			waitState(t, d.staff, `[data-testid=approval-state]`, "APPROVED", 15*time.Second)
			noRawKeys(t, d.staff)
			if final := d.staff.Attr(t, `[data-testid=refund-status]`, "data-final"); final != "true" {
				t.Errorf("refund status not final after SUCCEEDED: %q", final)
			}
		})
	}
}
