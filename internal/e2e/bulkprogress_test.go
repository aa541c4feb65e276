package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

// TestBulkProgressInTheBrowser: a file uploaded while NeoX is slow opens
// its page at once; htmx moves the progress bar in place (no reload) and,
// once every row is checked, the page reloads itself into the results.
// No CSP violation or script error on the way.
func TestBulkProgressInTheBrowser(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t, apptest.WithEnv("BULK_LOOKUP_CONCURRENCY", "1"))
	app.CreateUser(t, "bulkstaff", auth.RoleStaff, pass)
	b := apptest.NewBrowser(t)
	b.Login(t, app.URL, "bulkstaff", pass)
	file := filepath.Join(t.TempDir(), "march.csv")
	if err := os.WriteFile(file, []byte("product,reference,payment_id,amount,currency,reason_code,reason_text\n"+
		"PG,240901101500HCMCAF,1440001,100.000,VND,customer_request,one\n"+
		"PG,240902141210DNGHTL,1440002,200000,VND,customer_request,two\n"+
		"PG,240904161530SGNFAL,1440005,1000,VND,customer_request,failed payment\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// One row at a time, 1.5 s a lookup: several polls see the check move.
	app.App.Sandbox.SetLatency(1500 * time.Millisecond)
	app.App.Sandbox.InjectFault(sandbox.OpPGQuery, sandbox.FaultLatency, 100)

	b.Run(t, chromedp.Navigate(app.URL+"/batches"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=batch-upload]`)),
		chromedp.SetUploadFiles(chromedp.CSS(`#file`), []string{file}), chromedp.Click(chromedp.CSS(`[data-testid=batch-preview]`)))
	b.WaitFor(t, `[data-testid=batch-progress][data-state=CHECKING]`)
	if label := b.Attr(t, `#batch-progress-bar`, "aria-describedby"); label != "batch-progress-hint" {
		t.Errorf("progress bar described by %q", label)
	}
	// A mark a reload would wipe: the figure moves in place.
	b.Run(t, chromedp.Evaluate[chromedp.Void](`window.stayed = true`))
	b.WaitTrue(t, `window.stayed === true && document.querySelector('[data-testid=batch-progress]').dataset.checked !== '0'`)
	if text := b.Text(t, `[data-testid=batch-progress-text]`); !strings.Contains(text, "of 3 rows") {
		t.Errorf("progress text %q", text)
	}
	// Done: the page reloads itself into the results.
	b.WaitTrue(t, `window.stayed === undefined && !!document.querySelector('[data-testid=batch-lines]')`)
	if n := apptest.Get(t, b, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid=batch-line][data-status=OK]').length`)); n != 2 {
		t.Errorf("%d valid rows, want 2", n)
	}
	if p := b.Problems(); len(p) > 0 {
		t.Errorf("browser problems: %v", p)
	}
}
