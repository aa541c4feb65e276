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
const axeRun = `axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
	.then(r => r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')
		.map(v => v.impact + ' ' + v.id + ': ' + v.help + ' — ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | ')))`

// TestAccessibility runs axe-core on every page type for each role, in
// both languages, and fails on any serious or critical violation.
func TestAccessibility(t *testing.T) {
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
	pages := map[string][]string{
		"astaff": {"/", "/transactions", "/transactions?api=PG&ref=240901101500HCMCAF",
			"/refunds/new?api=PG&ref=240901101500HCMCAF&payment=1440001", "/refunds", "/refunds/" + pending, "/account"},
		"amanager": {"/", "/approvals", "/refunds?currency=VND", "/refunds/" + pending, "/refunds/" + decided, "/audit",
			"/audit/events/1", "/attention"},
		"aadmin": {"/users", "/users/second-factor"},
	}
	check := func(b *apptest.Browser, who, path string) {
		t.Helper()
		b.Run(t, chromedp.Navigate(app.URL+path), chromedp.WaitReady(chromedp.CSS(`footer`)),
			chromedp.Evaluate[chromedp.Void](string(src)))
		problems := apptest.Get(t, b, chromedp.Evaluate[[]string](axeRun, chromedp.EvalAwaitPromise))
		for _, p := range problems {
			t.Errorf("%s %s: %s", who, path, p)
		}
	}
	anon := apptest.NewBrowser(t)
	for _, lang := range []string{"en", "vi"} {
		anon.Run(t, chromedp.Navigate(app.URL+"/login"), chromedp.WaitReady(chromedp.CSS(`footer`)))
		switchLang(t, anon, lang)
		check(anon, "anonymous/"+lang, "/login")
	}
	for who, paths := range pages {
		b := apptest.NewBrowser(t)
		b.Login(t, app.URL, who, pass)
		for _, lang := range []string{"en", "vi"} {
			b.Run(t, chromedp.Navigate(app.URL+"/account"), chromedp.WaitReady(chromedp.CSS(`footer`)))
			switchLang(t, b, lang)
			for _, p := range paths {
				check(b, who+"/"+lang, p)
			}
		}
	}
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
