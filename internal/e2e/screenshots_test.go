package e2e

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
)

// TestScreenshots saves the README's screenshots when SCREENSHOT_DIR is set
// (SCREENSHOT_DIR=$PWD/docs go test ./internal/e2e -run Screenshots).
func TestScreenshots(t *testing.T) {
	t.Parallel()
	dir := os.Getenv("SCREENSHOT_DIR")
	if dir == "" {
		t.Skip("set SCREENSHOT_DIR to write screenshots")
	}
	d := newDesk(t)
	shot := func(b *apptest.Browser, name string) {
		t.Helper()
		png := apptest.Get(t, b, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	lookup(t, d.staff, d.app.URL, "PG", "240830080146NDTISR")
	// htmx fades the "Asking NeoX…" indicator out over 200 ms after the swap.
	d.staff.WaitFor(t, `#lookup-spinner:not(.htmx-request)`)
	time.Sleep(400 * time.Millisecond)
	shot(d.staff, "lookup.png")
	d.staff.Run(t, chromedp.Click(chromedp.CSS(`a.button[data-testid=refund-1439211]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid=refund-form]`)))
	fill(t, d.staff, map[string]string{"#amount": "1.500.000", "select:#reason_code": "not_delivered", "#reason_text": "Khách chưa nhận được hàng",
		"#bank_account_name": "NGUYEN VAN A", "#bank_account_number": "0123456789", "#bank_swift": "ASCBVNVX"})
	url := request(t, d.staff)
	d.mgr.Run(t, chromedp.Navigate(d.app.URL+"/approvals"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=queue]`)))
	shot(d.mgr, "approvals.png")
	shootPhone(t, d.mgr, "approvals-phone.png")
	approve(t, d, url)
	waitState(t, d.staff, `[data-testid=submission-state]`, "SUCCEEDED", 30*time.Second)
	shot(d.staff, "screenshot.png")
	shootPhone(t, d.staff, "refund-phone.png")
	d.mgr.Run(t, chromedp.Navigate(d.app.URL+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=audit-table]`)))
	shot(d.mgr, "audit.png")
}
