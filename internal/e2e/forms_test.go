package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
)

// focused is the id of the focused element, or its data-testid.
const focused = `(document.activeElement && (document.activeElement.id || document.activeElement.getAttribute('data-testid'))) || ''`

// linked reports whether the control #id is invalid and described by its
// message #msg, which is on the page.
func linked(id, msg string) string {
	return `(() => { const f = document.getElementById('` + id + `'), m = document.getElementById('` + msg + `');
		return !!f && !!m && f.getAttribute('aria-invalid') === 'true' &&
			(f.getAttribute('aria-describedby') || '').split(' ').includes('` + msg + `'); })()`
}

// TestAccessibleForms: the first field of a primary form has focus; a
// failed submit (a page load or an htmx swap) links each message to its
// field and moves focus to the error summary, whose links lead into the
// fields; a lookup's result is announced and takes focus.
func TestAccessibleForms(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	b := d.staff
	base := d.app.URL

	// Sign-in: the username has focus; a failure's message takes it.
	anon := apptest.NewBrowser(t)
	anon.Run(t, chromedp.Navigate(base+"/login"), chromedp.WaitReady(chromedp.CSS(`footer`)))
	anon.WaitTrue(t, focused+` === 'username'`)
	anon.Run(t,
		chromedp.SendKeys(chromedp.CSS(`#username`), "staff"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "not the password"),
	)
	anon.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)))
	anon.WaitFor(t, `[data-testid=login-error]`)
	anon.WaitTrue(t, focused+` === 'login-error'`)
	anon.WaitTrue(t, linked("password", "login-error"))

	// The refund form: its first field has focus.
	b.Run(t, chromedp.Navigate(base+"/refunds/new?api=PG&ref=240830080146NDTISR&payment=1439211"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=refund-form]`)))
	b.WaitTrue(t, focused+` === 'amount'`)
	// A failed submit: every message linked to its field, the summary
	// focused, and its links lead into the fields.
	fill(t, b, map[string]string{"#amount": "12,5", "select:#reason_code": "customer_request"})
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=refund-submit]`)))
	b.WaitTrue(t, `document.activeElement && document.activeElement.hasAttribute('data-error-summary')`)
	for id, msg := range map[string]string{"amount": "amount-error", "bank_swift": "bank_swift-error", "bank_account_number": "bank_account_number-error"} {
		b.WaitTrue(t, linked(id, msg))
	}
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-error-summary] a[href="#bank_swift"]`)))
	b.WaitTrue(t, focused+` === 'bank_swift'`)

	// The lookup page: the first field has focus; a lookup through htmx
	// (no page load) announces its result and moves focus to it.
	b.Run(t, chromedp.Navigate(base+"/transactions"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=lookup-form]`)))
	b.WaitTrue(t, focused+` === 'api'`)
	b.Run(t, chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	lookup(t, b, base, "PG", "240901101500HCMCAF")
	b.WaitTrue(t, focused+` === 'lookup-result-title'`)
	b.WaitTrue(t, `document.getElementById('live-region').textContent.includes('Lookup result for PG 240901101500HCMCAF')`)
	b.WaitTrue(t, `document.getElementById('live-region').getAttribute('aria-live') === 'polite'`)
	// A reference typed wrong, through htmx: the 422 page is swapped in,
	// its summary takes focus and the field is linked to its message.
	b.Run(t,
		chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`),
		chromedp.SetValue(chromedp.CSS(`#ref`), "bad ref!"),
		chromedp.Evaluate[chromedp.Void](`document.getElementById('ref').removeAttribute('required')`),
		chromedp.Click(chromedp.CSS(`[data-testid=lookup-submit]`)),
	)
	b.WaitTrue(t, `document.activeElement && document.activeElement.hasAttribute('data-error-summary')`)
	b.WaitTrue(t, linked("ref", "ref-error"))
	if !apptest.Get(t, b, chromedp.Evaluate[bool](`window.notReloaded === true`)) {
		t.Error("the failed lookup reloaded the page instead of swapping it")
	}
	// The account page: the current password has focus.
	b.Run(t, chromedp.Navigate(base+"/account"), chromedp.WaitReady(chromedp.CSS(`footer`)))
	b.WaitTrue(t, focused+` === 'current'`)
	// Pages where focus would jump unexpectedly have no autofocus.
	for _, path := range []string{"/", "/refunds"} {
		b.Run(t, chromedp.Navigate(base+path), chromedp.WaitReady(chromedp.CSS(`footer`)))
		if got := apptest.Get(t, b, chromedp.Evaluate[string](`document.activeElement ? document.activeElement.tagName : ''`)); got != "BODY" {
			t.Errorf("%s: focus moved to %s on load", path, got)
		}
	}
}

// TestRefundPagesHaveDistinctTitles: two refunds of the same transaction
// and amount are told apart by their <title>.
func TestRefundPageTitlesDiffer(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	hc := d.app.Client(t)
	d.app.Login(t, hc, "staff", pass)
	var titles []string
	for range 2 {
		id := createRefund(t, d.app, hc, url.Values{})
		d.staff.Run(t, chromedp.Navigate(d.app.URL+"/refunds/"+id), chromedp.WaitReady(chromedp.CSS(`footer`)))
		title := apptest.Get(t, d.staff, chromedp.Evaluate[string](`document.title`))
		if !strings.Contains(title, "240901101500HCMCAF") || !strings.Contains(title, id[:8]) {
			t.Errorf("title %q does not name the refund", title)
		}
		titles = append(titles, title)
	}
	if titles[0] == titles[1] {
		t.Errorf("both refunds are titled %q", titles[0])
	}
}

// TestRejectFromTheQueue: a manager rejects one refund from the queue with
// a note; without one the row's form says why (focus on the summary).
func TestRejectFromTheQueue(t *testing.T) {
	t.Parallel()
	d := newDesk(t)
	hc := d.app.Client(t)
	d.app.Login(t, hc, "staff", pass)
	keep := createRefund(t, d.app, hc, url.Values{})
	drop := createRefund(t, d.app, hc, url.Values{})
	m := d.mgr
	row := `[data-testid=queue-row][data-id="` + drop + `"] `
	m.Run(t, chromedp.Navigate(d.app.URL+"/approvals"), chromedp.WaitVisible(chromedp.CSS(row+`[data-testid=queue-reject-open]`)),
		chromedp.Click(chromedp.CSS(row+`[data-testid=queue-reject-open]`)),
		chromedp.WaitVisible(chromedp.CSS(row+`[data-testid=queue-reject-note]`)),
		// The server, not the browser, refuses an empty note, as on the
		// refund page.
		chromedp.Click(chromedp.CSS(row+`[data-testid=queue-reject-submit]`)),
	)
	m.WaitTrue(t, `document.activeElement && document.activeElement.hasAttribute('data-error-summary')`)
	m.WaitTrue(t, linked("reject-note-"+drop, "reject-note-"+drop+"-error"))
	m.Run(t,
		chromedp.SendKeys(chromedp.CSS(row+`[data-testid=queue-reject-note]`), "Khách đã huỷ yêu cầu"),
		chromedp.Click(chromedp.CSS(row+`[data-testid=queue-reject-submit]`)),
	)
	m.WaitFor(t, `[data-testid=bulk-result]`)
	if got := m.Text(t, `[data-testid=bulk-result]`); !strings.Contains(got, drop) || !strings.Contains(got, "rejected") {
		t.Errorf("result: %q", got)
	}
	if !strings.HasSuffix(m.Location(t), "/approvals") {
		t.Errorf("not back on the queue: %s", m.Location(t))
	}
	m.WaitFor(t, `[data-testid=queue-row][data-id="`+keep+`"]`)
	if apptest.Get(t, m, chromedp.Evaluate[bool](`document.querySelector('[data-testid=queue-row][data-id="`+drop+`"]') !== null`)) {
		t.Error("the rejected refund is still in the queue")
	}
	m.Run(t, chromedp.Navigate(d.app.URL+"/refunds/"+drop), chromedp.WaitVisible(chromedp.CSS(`[data-testid=decision-info]`)))
	if got := m.Text(t, `[data-testid=decision-info]`); !strings.Contains(got, "Khách đã huỷ yêu cầu") {
		t.Errorf("the note is not the decision's: %q", got)
	}
}
