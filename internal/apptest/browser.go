package apptest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var execLookPath = exec.LookPath

// Browser is a headless Chromium tab for one test.
type Browser struct {
	Ctx context.Context
	mu  sync.Mutex
	// console collects console messages and exceptions, so tests can assert
	// that no CSP violation or script error happened.
	console []string
}

// NewBrowser starts headless Chromium. Without Chromium the test is
// skipped with a message, unless CI=true, where it fails.
func NewBrowser(t *testing.T) *Browser {
	t.Helper()
	path := lookupChromium()
	if path == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("Chromium not found and CI=true: install it (apt-get install chromium)")
		}
		t.Skip("Chromium not found: install it (apt-get install chromium) to run browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &Browser{Ctx: ctx}
	chromedp.ListenTarget(ctx, func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value))
			}
			b.add(string(e.Type) + ": " + strings.Join(parts, " "))
		case *runtime.EventExceptionThrown:
			b.add("exception: " + e.ExceptionDetails.Error())
		}
	})
	if err := chromedp.Run(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium (%s): %v", path, err)
	}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return b
}

func (b *Browser) add(s string) {
	b.mu.Lock()
	b.console = append(b.console, s)
	b.mu.Unlock()
}

// Console returns the console messages seen so far.
func (b *Browser) Console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Run runs actions with a per-step timeout, failing the test on error.
func (b *Browser) Run(t *testing.T, actions ...chromedp.Action) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Text returns the text content of the first node matching sel.
func (b *Browser) Text(t *testing.T, sel string) string {
	t.Helper()
	var s string
	b.Run(t, chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

// Location returns the current URL.
func (b *Browser) Location(t *testing.T) string {
	t.Helper()
	var s string
	b.Run(t, chromedp.Location(&s))
	return s
}

// Login signs in through the login form.
func (b *Browser) Login(t *testing.T, base, username, password string) {
	t.Helper()
	b.Run(t,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(`[data-testid=login-form]`, chromedp.ByQuery),
		chromedp.SendKeys(`#username`, username, chromedp.ByQuery),
		chromedp.SendKeys(`#password`, password, chromedp.ByQuery),
		chromedp.Click(`[data-testid=login-submit]`, chromedp.ByQuery),
		chromedp.WaitNotPresent(`[data-testid=login-form]`, chromedp.ByQuery),
	)
}
