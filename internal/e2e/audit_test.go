package e2e

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

func TestAuditReview(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t)
	app.CreateUser(t, "lan", auth.RoleManager, pass)
	app.CreateUser(t, "minh", auth.RoleStaff, pass)
	ctx := context.Background()
	// 120 events by minh and 5 by someone else: three pages of minh's.
	for i := range 120 {
		e := audit.Event{ActorID: 2, ActorName: "minh", ActorRole: "staff", Action: audit.ActionRefundRequested,
			Outcome: audit.OutcomeSuccess, TargetType: "refund", TargetID: "r-" + string(rune('a'+i%26)), Details: map[string]any{"i": i}}
		if err := app.App.Audit.RecordNow(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for range 5 {
		app.App.Audit.RecordNow(ctx, audit.Event{ActorName: "other", Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess, TargetType: "user", TargetID: "9"})
	}
	b := apptest.NewBrowser(t)
	b.Login(t, app.URL, "lan", pass)
	today := time.Now().In(mustZone(t)).Format("2006-01-02")
	b.Run(t,
		chromedp.Navigate(app.URL+"/audit"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=audit-filter]`)),
		chromedp.SetValue(chromedp.CSS(`#actor`), "minh"),
		chromedp.SetValue(chromedp.CSS(`#from`), today),
		chromedp.SetValue(chromedp.CSS(`#to`), today),
	)
	// The unfiltered page has the same table: wait for the new page itself.
	if loc := b.ClickAndLoad(t, `[data-testid=audit-apply]`); !strings.Contains(loc, "actor=minh") || !strings.Contains(loc, "from="+today) {
		t.Errorf("filters not kept in the URL: %s", loc)
	}
	first := seqs(t, b)
	if len(first) != 50 {
		t.Fatalf("first page has %d rows, want 50", len(first))
	}
	for _, a := range actors(t, b) {
		if !strings.HasPrefix(a, "minh") {
			t.Fatalf("actor filter leaked %q", a)
		}
	}
	b.ClickAndLoad(t, `[data-testid=page-next]`)
	second := seqs(t, b)
	if len(second) != 50 || second[0] >= first[len(first)-1] {
		t.Fatalf("second page %v does not continue the first (last %d)", second[:1], first[len(first)-1])
	}
	b.ClickAndLoad(t, `[data-testid=page-next]`)
	if third := seqs(t, b); len(third) != 20 {
		t.Fatalf("third page has %d rows, want 20", len(third))
	}
	b.ClickAndLoad(t, `[data-testid=page-prev]`)
	if back := seqs(t, b); !slices.Equal(back, second) {
		t.Fatalf("paging back did not return the second page")
	}
	if got := b.Text(t, `[data-testid=chain-status]`); !strings.Contains(got, "verified up to event") {
		t.Errorf("chain badge: %q", got)
	}

	// Download the CSV of the filtered view.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(b.Ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatalf("allow downloads: %v", err)
	}
	b.Run(t, chromedp.Click(chromedp.CSS(`[data-testid=audit-csv]`)))
	var file string
	deadline := time.Now().Add(10 * time.Second)
	for file == "" && time.Now().Before(deadline) {
		matches, _ := filepath.Glob(filepath.Join(dir, "audit-*.csv"))
		if len(matches) == 1 {
			file = matches[0]
		}
		time.Sleep(100 * time.Millisecond)
	}
	if file == "" {
		t.Fatal("CSV was not downloaded")
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("CSV does not parse: %v", err)
	}
	if len(rows) != 122 { // header + 120 events of minh + the chain-head trailer
		t.Errorf("CSV has %d rows, want 122", len(rows))
	}
	if head, err := app.App.Audit.Head(ctx); err != nil || rows[len(rows)-1][0] != audit.TrailerHead ||
		rows[len(rows)-1][1] != "seq="+strconv.FormatInt(head.Seq, 10) || rows[len(rows)-1][2] != "hash="+head.Hash {
		t.Errorf("CSV trailer %q, head %+v (%v)", rows[len(rows)-1], head, err)
	}
	// The export button posted the filters shown and left the page as it was.
	var exports int
	app.App.DB.Read.QueryRow(`SELECT count(*) FROM audit_events WHERE action = ? AND details LIKE '%actor=minh%'`, audit.ActionAuditExport).Scan(&exports)
	if exports != 1 {
		t.Errorf("%d export events with the filter, want 1", exports)
	}

	// "Verify the whole chain now" is a button (POST) that comes back to the audit page.
	if loc := b.ClickAndLoad(t, `[data-testid=audit-verify-now]`); !strings.HasSuffix(loc, "/audit") {
		t.Errorf("verify button landed on %s", loc)
	}
	b.WaitFor(t, `[data-testid=chain-status]`)

	// Staff are refused every audit route.
	staff := app.Client(t)
	app.Login(t, staff, "minh", pass)
	for _, p := range []string{"/audit", "/audit/events/1"} {
		if resp := app.Get(t, staff, p); resp.StatusCode != http.StatusForbidden {
			t.Errorf("staff GET %s: %d, want 403", p, resp.StatusCode)
		}
	}
	for _, p := range []string{"/audit/export.csv", "/audit/verify"} {
		if resp := app.PostForm(t, staff, p, url.Values{}); resp.StatusCode != http.StatusForbidden {
			t.Errorf("staff POST %s: %d, want 403", p, resp.StatusCode)
		}
	}
}

func mustZone(t *testing.T) *time.Location {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func seqs(t *testing.T, b *apptest.Browser) []int {
	t.Helper()
	return apptest.Get(t, b, chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll('[data-testid=audit-row]')).map(r => Number(r.dataset.seq))`))
}

func actors(t *testing.T, b *apptest.Browser) []string {
	t.Helper()
	return apptest.Get(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid=audit-actor]')).map(r => r.textContent.trim())`))
}
