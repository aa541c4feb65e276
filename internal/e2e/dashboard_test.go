package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// seedRow is a refund written straight into the database.
type seedRow struct {
	api, currency      string
	amount             int64
	by                 int64
	requested, decided time.Time
	final              time.Time
	approval, sub      string
	reason             string
}

func tstr(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return store.FormatTime(t)
}

// TestDashboard seeds refunds with known times, computes the figures here
// (plain loops, not SQL), and checks what managers and staff see, in
// English and in Vietnamese; switching language keeps the page; every
// chart is an image with a title and a text alternative.
func TestDashboard(t *testing.T) {
	t.Parallel()
	ict := time.FixedZone("ICT", 7*3600)
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, ict)
	app := apptest.Start(t, apptest.WithClock(apptest.NewClock(now)))
	const pass = "dashboard test passphrase"
	lan := app.CreateUser(t, "lan", auth.RoleStaff, pass)
	hoa := app.CreateUser(t, "hoa", auth.RoleStaff, pass)
	app.CreateUser(t, "minh", auth.RoleManager, pass)
	h := time.Hour
	const longReason = "Beneficiary account is closed at the receiving bank; the money went back to the merchant's settlement account"
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	rows := []seedRow{
		{api: "PG", amount: 1_000_000, by: lan.ID, requested: at(5 * h), approval: "PENDING", sub: "NOT_SENT"},
		{api: "COL", amount: 20_000, by: hoa.ID, requested: at(h), approval: "PENDING", sub: "NOT_SENT"},
		{api: "PG", amount: 300_000, by: lan.ID, requested: at(4 * h), decided: at(3 * h), final: at(2 * h), approval: "APPROVED", sub: "SUCCEEDED"},
		{api: "PG", amount: 200_000, by: hoa.ID, requested: at(6 * h), decided: at(5 * h), final: at(h), approval: "APPROVED", sub: "SUCCEEDED"},
		{api: "GC", currency: "USD", amount: 1500, by: hoa.ID, requested: at(3 * h), decided: at(2 * h), final: at(h / 2), approval: "APPROVED", sub: "SUCCEEDED"},
		{api: "COL", amount: 50_000, by: lan.ID, requested: at(13 * h), decided: at(12 * h), final: at(11 * h), approval: "APPROVED", sub: "SUCCEEDED"},
		{api: "PG", amount: 700_000, by: lan.ID, requested: at(72 * h), decided: at(71 * h), final: at(70 * h), approval: "APPROVED", sub: "SUCCEEDED"},
		{api: "COL", amount: 10_000, by: lan.ID, requested: at(8 * h), decided: at(7 * h), final: at(6 * h), approval: "APPROVED", sub: "FAILED", reason: longReason},
		{api: "COL", amount: 10_000, by: hoa.ID, requested: at(9 * h), decided: at(8 * h), final: at(7 * h), approval: "APPROVED", sub: "FAILED", reason: longReason},
		// 89.90 EUR and 1.700.000 ₫ on the same day: never drawn on one scale.
		{api: "GC", currency: "EUR", amount: 8990, by: hoa.ID, requested: at(4 * h), decided: at(3 * h), final: at(2 * h), approval: "APPROVED", sub: "SUCCEEDED"},
		{api: "COL", amount: 1_700_000, by: hoa.ID, requested: at(4 * h), decided: at(3 * h), final: at(3 * h), approval: "APPROVED", sub: "SUCCEEDED"},
		{api: "PG", amount: 10_000, by: lan.ID, requested: at(9 * h), decided: at(8 * h), final: at(4 * h), approval: "APPROVED", sub: "FAILED", reason: "Bank rejected"},
		{api: "PG", amount: 10_000, by: lan.ID, requested: at(20 * h), decided: at(19 * h), approval: "APPROVED", sub: "UNKNOWN"},
		{api: "COL", amount: 10_000, by: hoa.ID, requested: at(3 * h), decided: at(2 * h), approval: "APPROVED", sub: "PROCESSING"},
		{api: "PG", amount: 10_000, by: lan.ID, requested: at(9 * h), decided: at(8 * h), final: at(8 * h), approval: "REJECTED", sub: "NOT_SENT"},
	}
	ctx := context.Background()
	tx, err := app.App.DB.Write.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		cur := r.currency
		if cur == "" {
			cur = "VND"
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO refunds (id, api, transaction_ref, amount, currency, requested_by,
			requested_by_name, requested_at, approval, decided_by, decided_at, submission, updated_at, final_at, failed_reason,
			next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, 0, ?, ?, ?, ?, ?, ?)`,
			fmt.Sprintf("00000000-0000-4000-8000-%012d", i), r.api, fmt.Sprintf("REF%d", i), r.amount, cur, r.by,
			tstr(r.requested), r.approval, tstr(r.decided), r.sub, tstr(r.requested), tstr(r.final), r.reason,
			// The worker must leave the stuck ones alone: the clock never gets there.
			tstr(now.Add(24*h))); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	// The figures, computed here.
	todayStart := time.Date(2026, 11, 25, 0, 0, 0, 0, ict)
	monthStart := time.Date(2026, 11, 1, 0, 0, 0, 0, ict)
	in := func(t, from, to time.Time) bool { return !t.IsZero() && !t.Before(from) && t.Before(to) }
	today, month := map[string]int64{}, map[string]int64{}
	outcomes := map[string]int64{} // "PG" → total, "PG/FAILED" → failures
	reasons := map[string]int64{}
	pending, unknown, processing := 0, 0, 0
	mine := map[string]int64{} // lan's statuses
	for _, r := range rows {
		key := r.api + "-" + r.currency
		if r.currency == "" {
			key = r.api + "-VND"
		}
		if r.sub == "SUCCEEDED" && in(r.final, todayStart, todayStart.AddDate(0, 0, 1)) {
			today[key] += r.amount
		}
		if r.sub == "SUCCEEDED" && in(r.final, monthStart, monthStart.AddDate(0, 1, 0)) {
			month[key] += r.amount
		}
		if (r.sub == "SUCCEEDED" || r.sub == "FAILED") && in(r.final, todayStart.AddDate(0, 0, -29), todayStart.AddDate(0, 0, 1)) {
			outcomes[r.api]++
			outcomes[r.api+"/"+r.sub]++
			if r.sub == "FAILED" {
				reasons[r.reason]++
			}
		}
		switch {
		case r.approval == "PENDING":
			pending++
		case r.sub == "UNKNOWN":
			unknown++
		case r.sub == "PROCESSING":
			processing++
		}
		if r.by == lan.ID {
			st := r.approval
			if st == "APPROVED" {
				st = r.sub
			}
			mine[st]++
		}
	}

	mgr := apptest.NewBrowser(t)
	mgr.Login(t, app.URL, "minh", pass)
	mgr.WaitFor(t, `[data-testid=figures]`)
	check := func(b *apptest.Browser, lang string) {
		t.Helper()
		if got := b.Attr(t, `html`, "lang"); got != lang {
			t.Errorf("html lang = %q, want %q", got, lang)
		}
		checkCharts(t, b)
	}
	checkManager := func(lang, title string) {
		t.Helper()
		check(mgr, lang)
		openTables(t, mgr)
		if got := mgr.Text(t, `[data-testid=home-title]`); got != title {
			t.Errorf("title = %q, want %q", got, title)
		}
		for fig, want := range map[string]int{"pending": pending, "unknown": unknown, "processing": processing} {
			if got := mgr.Text(t, `[data-testid=fig-`+fig+`-value]`); got != strconv.Itoa(want) {
				t.Errorf("%s: figure %q, want %d", fig, got, want)
			}
		}
		if got := mgr.Text(t, `[data-testid=fig-pending-note]`); !strings.Contains(got, "5") {
			t.Errorf("oldest pending note %q lacks its 5 hours", got)
		}
		checkTable(t, mgr, "today", today)
		checkTable(t, mgr, "month", month)
		checkTable(t, mgr, "reasons-by-label", reasons)
		totals := map[string]int64{}
		for k, v := range outcomes {
			if !strings.Contains(k, "/") {
				totals[k] = v
			}
		}
		checkTable(t, mgr, "outcomes", totals)
		for api := range totals {
			sel := fmt.Sprintf(`[data-testid=table-outcomes] tr[data-key=%s] td[data-key=FAILED]`, api)
			if got := mgr.Attr(t, sel, "data-value"); got != strconv.FormatInt(outcomes[api+"/FAILED"], 10) {
				t.Errorf("%s failures = %s, want %d", api, got, outcomes[api+"/FAILED"])
			}
		}
		checkHonest(t, mgr, longReason)
		// The amount shown is formatted the same way in both languages.
		if got := mgr.Text(t, `[data-testid=table-today] tr[data-key=PG-VND] td`); !strings.HasPrefix(got, "500.000 ₫") {
			t.Errorf("today's PG amount shows %q", got)
		}
	}
	checkManager("en", "Dashboard")
	checkFigureLinks(t, mgr, app.URL)
	shoot(t, mgr, "dashboard-en.png")

	// Switch to Vietnamese on the dashboard: same page, same figures.
	mgr.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=lang-vi]`)))
	mgr.WaitFor(t, `html[lang=vi] [data-testid=figures]`)
	if loc := mgr.Location(t); loc != app.URL+"/" {
		t.Errorf("after switching language at %s, want the dashboard", loc)
	}
	checkManager("vi", "Bảng điều khiển")
	if got := mgr.Text(t, `[data-testid=nav-refunds]`); got != "Hoàn tiền" {
		t.Errorf("Vietnamese navigation: %q", got)
	}
	shoot(t, mgr, "dashboard-vi.png")
	shootPhone(t, mgr, "dashboard-vi-phone.png")

	// A chart's link opens the refunds list with its filters, still in
	// Vietnamese; switching back keeps that page and its query.
	href := mgr.Attr(t, `[data-testid=table-today] tr[data-key=PG-VND] a`, "href")
	mgr.Run(t, chromedp.Navigate(app.URL+href))
	mgr.WaitFor(t, `[data-testid=refunds-table]`)
	if n := apptest.Get(t, mgr, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=refund-row]').length`)); n != 2 {
		t.Errorf("today's PG refunds list %d rows, want 2 (%s)", n, href)
	}
	mgr.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=lang-en]`)))
	mgr.WaitFor(t, `html[lang=en] [data-testid=refunds-table]`)
	if loc := mgr.Location(t); loc != app.URL+href {
		t.Errorf("after switching back at %s, want %s", loc, app.URL+href)
	}

	// Staff: their own requests by status, in English (Accept-Language of
	// headless Chromium), then in Vietnamese, which the profile keeps.
	st := apptest.NewBrowser(t)
	st.Login(t, app.URL, "lan", pass)
	st.WaitFor(t, `[data-testid=chart-mine]`)
	check(st, "en")
	checkMine(t, st, mine)
	st.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=lang-vi]`)))
	st.WaitFor(t, `html[lang=vi] [data-testid=chart-mine]`)
	check(st, "vi")
	checkMine(t, st, mine)
	if got := st.Text(t, `[data-testid=chart-mine] figcaption`); !strings.Contains(got, "Yêu cầu hoàn tiền của tôi") {
		t.Errorf("Vietnamese chart title %q", got)
	}
	if u, _ := app.App.Auth.User(ctx, lan.ID); u.Lang != "vi" {
		t.Errorf("profile language = %q, want vi", u.Lang)
	}
	// Signed out, the login page stays Vietnamese (cookie) and can switch.
	st.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=logout]`)))
	st.WaitFor(t, `html[lang=vi] [data-testid=login-form]`)
	st.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=lang-en]`)))
	st.WaitFor(t, `html[lang=en] [data-testid=login-form]`)
	if got := st.Text(t, `h1`); got != "Sign in" {
		t.Errorf("login title %q", got)
	}
	for _, b := range []*apptest.Browser{mgr, st} {
		for _, m := range b.Problems() {
			t.Errorf("browser console: %s", m)
		}
	}
}

// checkCharts: every chart has a title and either bars (each a link with
// its label and value) and a data table, or a sentence saying it is
// empty; all its text is at least 12 px and none of it is cut off.
func checkCharts(t *testing.T, b *apptest.Browser) {
	t.Helper()
	bad := apptest.Get(t, b, chromedp.Evaluate[string](`(() => {
		const out = [];
		const figs = document.querySelectorAll('figure.chart');
		if (figs.length === 0) return 'no charts';
		for (const f of figs) {
			const id = f.dataset.testid;
			if (!f.querySelector('figcaption h2')?.textContent.trim()) out.push(id + ': no title');
			const bars = f.querySelectorAll('[data-testid=bar], [data-testid=stack]');
			if (bars.length === 0) { if (!f.querySelector('[data-testid=chart-empty]')) out.push(id + ': no bars, no empty note'); continue; }
			if (!f.querySelector('table')) out.push(id + ': no table');
			for (const bar of bars) {
				const label = bar.querySelector('.bar-label'), value = bar.querySelector('.bar-value');
				if (!label?.textContent.trim() || !value?.textContent.trim()) out.push(id + ': a bar without label or value');
				if (bar.dataset.testid === 'bar' && !bar.querySelector('a[href^="/refunds?"]')) out.push(id + ': a bar without its list');
			}
			const walker = document.createTreeWalker(f, NodeFilter.SHOW_TEXT);
			for (let n; (n = walker.nextNode()); ) {
				const el = n.parentElement;
				if (!n.textContent.trim() || el.closest('details:not([open]) table') || el.closest('.skip')) continue;
				const px = parseFloat(getComputedStyle(el).fontSize);
				if (px < 12) out.push(id + ': ' + px + 'px text "' + n.textContent.trim().slice(0, 30) + '"');
				if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== 'inline') out.push(id + ': cut off "' + n.textContent.trim().slice(0, 30) + '"');
				if (getComputedStyle(el).textOverflow === 'ellipsis' || n.textContent.includes('…')) out.push(id + ': truncated "' + n.textContent.trim().slice(0, 30) + '"');
			}
		}
		return out.join('; ');
	})()`))
	if bad != "" {
		t.Errorf("charts: %s", bad)
	}
}

// checkHonest: amounts are drawn one chart per currency, each bar as long
// as its share of the largest amount in its own currency; a stacked chart
// has a legend and every part of it written out with its name; a long
// failure reason is shown whole; no card sits alone on a row.
func checkHonest(t *testing.T, b *apptest.Browser, longReason string) {
	t.Helper()
	bad := apptest.Get(t, b, chromedp.Evaluate[string](`(() => {
		const out = [];
		for (const id of ['today', 'month']) {
			const groups = document.querySelectorAll('[data-testid=chart-' + id + '] [data-testid=bar-group]');
			if (groups.length < 2) out.push(id + ': ' + groups.length + ' currency groups, want several');
			for (const g of groups) {
				const bars = [...g.querySelectorAll('[data-testid=bar]')];
				const most = Math.max(...bars.map(x => Number(x.dataset.value)));
				for (const bar of bars) {
					if (!bar.dataset.key.endsWith('-' + g.dataset.key)) out.push(id + ': ' + bar.dataset.key + ' drawn in the ' + g.dataset.key + ' group');
					const track = bar.querySelector('svg.bar-track').getBoundingClientRect().width;
					const w = bar.querySelector('rect').getBoundingClientRect().width;
					const want = Number(bar.dataset.value) / most;
					if (Math.abs(w / track - want) > 0.01) out.push(id + ': ' + bar.dataset.key + ' is ' + (w / track).toFixed(3) + ' of its scale, want ' + want.toFixed(3));
				}
				if (!g.querySelector('h3')?.textContent.includes(g.dataset.key)) out.push(id + ': group ' + g.dataset.key + ' has no heading naming its currency');
			}
		}
		const legend = [...document.querySelectorAll('[data-testid=chart-outcomes] [data-testid=chart-legend] li')].map(li => li.textContent.trim());
		if (legend.length !== 2 || legend.some(l => !l)) out.push('outcomes legend: ' + JSON.stringify(legend));
		for (const seg of document.querySelectorAll('[data-testid=chart-outcomes] [data-testid=segment]')) {
			const txt = seg.textContent.trim();
			const name = seg.dataset.key === 'SUCCEEDED' ? legend[0] : legend[1];
			if (!txt.startsWith(name + ':') || !/\d+[.,]\d%/.test(txt)) out.push('segment without its name or share: ' + txt);
		}
		const reasons = [...document.querySelectorAll('[data-testid=chart-reasons] [data-testid=bar] .bar-label')].map(e => e.textContent.trim());
		for (const sel of ['[data-testid=figures] > .card', '.charts > figure']) {
			const cards = [...document.querySelectorAll(sel)];
			const rows = {};
			for (const c of cards) { const top = Math.round(c.getBoundingClientRect().top); (rows[top] ||= []).push(c); }
			const parent = cards[0].parentElement.getBoundingClientRect();
			for (const [top, row] of Object.entries(rows)) {
				if (row.length < 2) out.push(sel + ': a card alone on its row');
				const right = Math.max(...row.map(c => c.getBoundingClientRect().right));
				if (parent.right - right > 2) out.push(sel + ': row at ' + top + ' leaves ' + (parent.right - right) + 'px empty');
			}
		}
		return out.join('; ');
	})()`))
	if bad != "" {
		t.Errorf("dashboard: %s", bad)
	}
	reasons := apptest.Get(t, b, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid=chart-reasons] [data-testid=bar] .bar-label')].map(e => e.textContent.trim())`))
	if !slices.Contains(reasons, longReason) {
		t.Errorf("failure reasons %q: the long one is not shown whole", reasons)
	}
}

// checkFigureLinks follows every bar's and segment's link and counts the
// refunds the list shows: the same number the dashboard counted.
func checkFigureLinks(t *testing.T, b *apptest.Browser, base string) {
	t.Helper()
	type link struct {
		Href  string
		Count int
		Key   string
	}
	links := apptest.Get(t, b, chromedp.Evaluate[[]link](`[...document.querySelectorAll('[data-testid=bar] a, a[data-testid=segment]')].map(a => ({
		Href: a.getAttribute('href'), Key: (a.closest('[data-key]') || a).dataset.key + ' ' + (a.closest('figure').dataset.testid),
		Count: Number((a.dataset.count ? a : a.closest('[data-count]')).dataset.count)}))`))
	if len(links) < 8 {
		t.Fatalf("%d links from the charts, want at least 8", len(links))
	}
	for _, l := range links {
		b.Run(t, chromedp.Navigate(base+l.Href))
		b.WaitFor(t, `[data-testid=refunds-table], [data-testid=refunds-empty]`)
		n := apptest.Get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=refund-row]').length`))
		if n != l.Count || n == 0 {
			t.Errorf("%s: the dashboard counts %d, its list %s shows %d", l.Key, l.Count, l.Href, n)
		}
	}
	b.Run(t, chromedp.Navigate(base+"/"))
	b.WaitFor(t, `[data-testid=figures]`)
}

// checkTable compares a chart table's rows (data-key → data-value) with
// want. For "reasons-by-label" the key is the row's label.
func checkTable(t *testing.T, b *apptest.Browser, id string, want map[string]int64) {
	t.Helper()
	js := `JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-testid=table-%s] tr[data-testid=chart-row]')].map(r => [r.dataset.key, Number(r.dataset.value)])))`
	if id == "reasons-by-label" {
		id = "reasons"
		js = `JSON.stringify(Object.fromEntries([...document.querySelectorAll('[data-testid=table-%s] tr[data-testid=chart-row]')].map(r => [r.querySelector('th').textContent.trim(), Number(r.dataset.value)])))`
	}
	got := apptest.Get(t, b, chromedp.Evaluate[string](fmt.Sprintf(js, id)))
	var parts []string
	for k, v := range want {
		parts = append(parts, fmt.Sprintf("%q:%d", k, v))
	}
	for _, p := range parts {
		if !strings.Contains(got, p) {
			t.Errorf("table %s = %s, lacks %s", id, got, p)
		}
	}
	if n := strings.Count(got, ":"); n != len(want) {
		t.Errorf("table %s = %s, want %d rows", id, got, len(want))
	}
}

func checkMine(t *testing.T, b *apptest.Browser, mine map[string]int64) {
	t.Helper()
	for _, s := range []string{"PENDING", "REJECTED", "CANCELLED", "QUEUED", "SENDING", "PROCESSING", "UNKNOWN", "SUCCEEDED", "FAILED"} {
		got := b.Attr(t, `[data-testid=table-mine] tr[data-key=`+s+`]`, "data-value")
		if got != strconv.FormatInt(mine[s], 10) {
			t.Errorf("my %s = %s, want %d", s, got, mine[s])
		}
	}
}

// openTables opens every chart's data table (text in a closed details
// element has no innerText).
func openTables(t *testing.T, b *apptest.Browser) {
	t.Helper()
	apptest.Get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('details').forEach(d => d.open = true), 0`))
}

// shoot saves a full-page PNG when SCREENSHOT_DIR is set.
func shoot(t *testing.T, b *apptest.Browser, name string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	openTables(t, b)
	png := apptest.Get(t, b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shootPhone saves a full-page PNG at phone width (390×844) when
// SCREENSHOT_DIR is set, then puts the desktop window size back.
func shootPhone(t *testing.T, b *apptest.Browser, name string) {
	t.Helper()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		return
	}
	b.Run(t, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	defer b.Run(t, chromedp.EmulateViewport(1280, 900))
	png := apptest.Get(t, b, chromedp.FullScreenshot(100))
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		t.Fatal(err)
	}
}
