package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// phoneCheck runs in the page and lists what a phone user would hit: a
// document wider than the screen, a primary action cut off at an edge, and
// text under 12 px. Content inside its own scrolling box (a wide table
// in a card) may extend past the edge: it scrolls there, not the page.
const phoneCheck = `(() => {
	const W = window.innerWidth, out = [];
	const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
		(e.dataset && e.dataset.testid ? '[data-testid=' + e.dataset.testid + ']' : '') +
		(e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\s+/).join('.') : '');
	const shown = e => !!(e.offsetWidth || e.offsetHeight || e.getClientRects().length) &&
		getComputedStyle(e).visibility !== 'hidden' && !e.closest('.skip');
	const scrolls = e => {
		for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
			const o = getComputedStyle(a).overflowX;
			if (o === 'auto' || o === 'scroll') return true;
		}
		return false;
	};
	const doc = document.documentElement.scrollWidth;
	if (doc > W) {
		const wide = [...document.body.querySelectorAll('*')].filter(e => shown(e) && !scrolls(e) &&
			e.getBoundingClientRect().right > W + 0.5).slice(-3).map(name);
		out.push('page is ' + doc + ' px wide on a ' + W + ' px screen (widest: ' + wide.join(', ') + ')');
	}
	for (const e of document.querySelectorAll('button, .button, input[type=submit]')) {
		if (!shown(e) || scrolls(e)) continue;
		const r = e.getBoundingClientRect();
		if (r.left < -0.5 || r.right > W + 0.5) out.push('action cut off: ' + name(e) + ' "' + e.textContent.trim() + '" at ' + Math.round(r.left) + '..' + Math.round(r.right));
	}
	const seen = new Set();
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	while (walk.nextNode()) {
		const el = walk.currentNode.parentElement;
		if (!walk.currentNode.textContent.trim() || !el || seen.has(el) || !shown(el)) continue;
		seen.add(el);
		const px = parseFloat(getComputedStyle(el).fontSize);
		if (px < 12) out.push('text of ' + px + ' px: ' + name(el) + ' "' + walk.currentNode.textContent.trim().slice(0, 30) + '"');
	}
	return out;
})()`

// TestPagesFitAPhone visits every page type as each role at two phone
// sizes and fails on horizontal overflow, cut-off actions and tiny text.
func TestPagesFitAPhone(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t)
	app.CreateUser(t, "fstaff", auth.RoleStaff, pass)
	app.CreateUser(t, "fmanager", auth.RoleManager, pass)
	app.CreateUser(t, "fadmin", auth.RoleAdmin, pass)
	hc := app.Client(t)
	app.Login(t, hc, "fstaff", pass)
	var ids []string
	for range 3 {
		ids = append(ids, createRefund(t, app, hc, url.Values{}))
	}
	mc := app.Client(t)
	app.Login(t, mc, "fmanager", pass)
	if resp := app.PostForm(t, mc, "/refunds/"+ids[0]+"/approve", url.Values{}); resp.StatusCode >= 400 {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	pages := map[string][]string{
		"fstaff": {"/", "/account", "/transactions", "/transactions?api=PG&ref=240901101500HCMCAF",
			"/transactions?api=GC&ref=CO-20240501-000123456",
			"/refunds/new?api=PG&ref=240901101500HCMCAF&payment=1440001", "/refunds", "/refunds/" + ids[1], "/approvals" /* 403 */},
		"fmanager": {"/", "/approvals", "/refunds", "/refunds/" + ids[0], "/refunds/" + ids[1], "/audit", "/audit/events/1",
			"/attention", "/account", "/notifications/deliveries", "/no-such-page"},
		"fadmin": {"/", "/users", "/settings/approvals", "/settings/api-keys", "/users/second-factor", "/account", "/settings/webhooks"},
	}
	sizes := []struct{ w, h int64 }{{360, 740}, {390, 844}}
	check := func(b *apptest.Browser, who, path string) {
		t.Helper()
		for _, sz := range sizes {
			b.Run(t, chromedp.EmulateViewport(sz.w, sz.h), chromedp.Navigate(app.URL+path),
				chromedp.WaitReady(chromedp.CSS(`footer`)))
			problems := apptest.Get(t, b, chromedp.Evaluate[[]string](phoneCheck))
			for _, p := range problems {
				t.Errorf("%s %s at %dx%d: %s", who, path, sz.w, sz.h, p)
			}
		}
	}
	anon := apptest.NewBrowser(t)
	check(anon, "anonymous", "/login")
	for _, who := range []string{"fstaff", "fmanager", "fadmin"} {
		b := anon
		if who != "fstaff" {
			b = apptest.NewBrowser(t)
		}
		b.Login(t, app.URL, who, pass)
		for _, p := range pages[who] {
			check(b, who, p)
		}
	}
	// The phone header folds the menu behind one button: closed, its links
	// take no room; opened, each is a full-width tap target on screen.
	b := apptest.NewBrowser(t)
	b.Login(t, app.URL, "fmanager", pass)
	b.Run(t, chromedp.EmulateViewport(360, 740), chromedp.Navigate(app.URL+"/"), chromedp.WaitReady(chromedp.CSS(`footer`)))
	if apptest.Get(t, b, chromedp.Evaluate[bool](`document.querySelector('[data-testid=nav-approvals]').offsetHeight > 0`)) {
		t.Errorf("menu is open before it is asked for")
	}
	if h := apptest.Get(t, b, chromedp.Evaluate[float64](`document.querySelector('header.top').getBoundingClientRect().height`)); h > 72 {
		t.Errorf("closed phone header is %.0f px tall", h)
	}
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=menu-toggle]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=nav-approvals]`)))
	rect := apptest.Get(t, b, chromedp.Evaluate[[]float64](`(r => [r.left, r.right, r.height])(document.querySelector('[data-testid=nav-approvals]').getBoundingClientRect())`))
	if rect[0] < 0 || rect[1] > 360 || rect[2] < 44 {
		t.Errorf("menu link at %.0f..%.0f, %.0f px tall; want on screen and at least 44 px", rect[0], rect[1], rect[2])
	}
	if got := b.Attr(t, `[data-testid=menu-toggle]`, "aria-expanded"); got != "true" {
		t.Errorf("menu button aria-expanded = %q after opening", got)
	}
	b.ClickAndLoad(t, `[data-testid=nav-approvals]`)
	if !strings.HasSuffix(b.Location(t), "/approvals") {
		t.Errorf("menu link went to %s", b.Location(t))
	}
}
