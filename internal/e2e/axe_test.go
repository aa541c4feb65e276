package e2e

import (
	"net/url"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// axeScript is axe-core from npm (package axe-core), kept under testdata
// so the tests need no network.
const axeScript = "testdata/axe-core-4.14.1/axe.min.js"

// axeRun runs axe-core on the page and lists its serious and critical
// WCAG 2 A/AA violations, one line each with the first offending nodes.
//
// resultTypes keeps axe from collecting and serialising every passing and
// inapplicable node: only violations are wanted, and that halves a run.
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']},
		resultTypes: ['violations']})
	.then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))`

// TestAccessibility runs axe-core on every page type for each role, in
// both languages, and fails on any serious or critical violation.
func TestAccessibility(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(axeScript)
	if err != nil {
		t.Fatal(err)
	}
	app := apptest.Start(t)
	app.CreateUser(t, "astaff", auth.RoleStaff, pass)
	app.CreateUser(t, "amanager", auth.RoleManager, pass)
	app.CreateUser(t, "aadmin", auth.RoleAdmin, pass)
	hc := app.Client(t)
	app.Login(t, hc, "astaff", pass)
	pending := createRefund(t, app, hc, url.Values{})
	decided := createRefund(t, app, hc, url.Values{})
	mc := app.Client(t)
	app.Login(t, mc, "amanager", pass)
	app.PostForm(t, mc, "/refunds/"+decided+"/approve", url.Values{})
	// Every page type, as each role sees it, in its states: fresh, with a
	// lookup's result, failed (a form with errors, by link or by a submit
	// the step makes), empty, and error pages.
	pages := map[string][]axePage{
		"astaff": {{path: "/"}, {path: "/transactions"}, {path: "/transactions?api=PG&ref=240901101500HCMCAF"},
			{path: "/transactions?api=GC&ref=CO-20240501-000123456"}, {path: "/transactions?api=COL&ref=FT24323L4AAA"},
			{path: "/transactions?api=PG&ref=bad+ref%21"},
			{path: "/refunds/new?api=PG&ref=240901101500HCMCAF&payment=1440001"},
			{path: "/refunds/new?api=GC&ref=CO-20240501-000123456"}, {path: "/refunds/new?api=COL&ref=FT24323L4AAA"},
			{path: "/refunds/new?api=PG&ref=240830080146NDTISR&payment=1439211", submit: `document.getElementById('amount').value = '12,5';
				document.getElementById('reason_code').value = 'customer_request';
				document.querySelector('[data-testid=refund-submit]').click()`, wait: `[data-error-summary]`},
			{path: "/refunds"}, {path: "/refunds?min=abc&max=1"}, {path: "/refunds/" + pending}, {path: "/account"},
			{path: "/account", submit: `document.getElementById('current').value = 'wrong one';
				document.getElementById('new').value = 'a new long passphrase';
				document.getElementById('confirm').value = 'another long passphrase';
				document.querySelector('[data-testid=password-submit]').click()`, wait: `[data-error-summary]`},
			{path: "/no-such-page"}},
		"amanager": {{path: "/"}, {path: "/approvals"},
			{path: "/approvals", submit: `document.querySelector('[data-testid=queue-reject-open]').click();
				document.querySelector('[data-testid=queue-reject-submit]').click()`, wait: `[data-error-summary]`},
			{path: "/refunds?currency=VND"}, {path: "/refunds/" + pending}, {path: "/refunds/" + decided},
			{path: "/refunds/" + pending, submit: `document.querySelector('[data-testid=reject]').click()`, wait: `[data-error-summary]`},
			{path: "/audit"}, {path: "/audit?range=7d&from=01/01/2026"}, {path: "/audit/events/1"}, {path: "/attention"},
			{path: "/transactions?api=PG&ref=240901101500HCMCAF"}, {path: "/account"}},
		"aadmin": {{path: "/"}, {path: "/users"}, {path: "/users", submit: `document.getElementById('new-username').value = 'x y';
				document.querySelector('[data-testid=add-user-submit]').click()`, wait: `[data-error-summary]`},
			{path: "/account"}, {path: "/refunds"}, {path: "/settings/approvals"}, {path: "/users/second-factor"},
			{path: "/settings/api-keys", submit: `document.getElementById('key-name').value = 'erp';
				document.querySelector('[data-testid=create-key]').click()`, wait: `[data-testid=new-key]`},
			{path: "/settings/api-keys", submit: `document.getElementById('key-scope-read').checked = false;
				document.getElementById('key-name').value = 'x';
				document.querySelector('[data-testid=create-key]').click()`, wait: `[data-error-summary]`},
			{path: "/settings/webhooks"}, {path: "/settings/webhooks", submit: `document.getElementById('url').value = 'ftp://x';
				document.querySelector('[data-testid=webhook-form]').submit()`, wait: `[data-error-summary]`},
			{path: "/notifications/deliveries"}},
	}
	check := func(t *testing.T, b *apptest.Browser, who string, pg axePage) {
		t.Helper()
		b.Run(t, chromedp.Navigate(app.URL+pg.path), chromedp.WaitReady(chromedp.CSS(`footer`)))
		name := pg.path
		if pg.submit != "" {
			name += " (failed submit)"
			b.Run(t, chromedp.Evaluate[chromedp.Void](pg.submit))
			b.WaitFor(t, pg.wait)
			b.Run(t, chromedp.WaitReady(chromedp.CSS(`footer`)))
		}
		b.Run(t, chromedp.Evaluate[chromedp.Void](string(src)))
		problems := apptest.Get(t, b, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
		for _, p := range problems {
			t.Errorf("%s %s: %s", who, name, p)
		}
	}
	// Each role in its own browser, two at a time: most of a check is
	// Chromium rendering and axe walking the page, not the server.
	t.Run("anonymous", func(t *testing.T) {
		t.Parallel()
		anon := apptest.NewBrowser(t)
		for _, lang := range []string{"en", "vi"} {
			anon.Run(t, chromedp.Navigate(app.URL+"/login"), chromedp.WaitReady(chromedp.CSS(`footer`)))
			switchLang(t, anon, lang)
			check(t, anon, "anonymous/"+lang, axePage{path: "/login"})
			check(t, anon, "anonymous/"+lang, axePage{path: "/login", submit: `document.getElementById('username').value = 'nobody';
				document.getElementById('password').value = 'not a password at all';
				document.querySelector('[data-testid=login-submit]').click()`, wait: `[data-testid=login-error]`})
			check(t, anon, "anonymous/"+lang, axePage{path: "/no-such-page"})
		}
	})
	for who, pgs := range pages {
		t.Run(who, func(t *testing.T) {
			t.Parallel()
			b := apptest.NewBrowser(t)
			b.Login(t, app.URL, who, pass)
			for _, lang := range []string{"en", "vi"} {
				b.Run(t, chromedp.Navigate(app.URL+"/account"), chromedp.WaitReady(chromedp.CSS(`footer`)))
				switchLang(t, b, lang)
				for _, pg := range pgs {
					check(t, b, who+"/"+lang, pg)
				}
			}
		})
	}
}

// axePage is a page axe-core checks: path, and optionally a script that
// submits one of its forms so that it fails, and what shows it failed.
type axePage struct {
	path, submit, wait string
}

// switchLang picks lang with the page's language switch, unless the page
// is in it already, and waits for the page in that language.
func switchLang(t *testing.T, b *apptest.Browser, lang string) {
	t.Helper()
	if apptest.Get(t, b, chromedp.Evaluate[string](`document.documentElement.lang`)) == lang {
		return
	}
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=lang-`+lang+`]`)))
	b.WaitFor(t, `html[lang=`+lang+`] footer`)
}
