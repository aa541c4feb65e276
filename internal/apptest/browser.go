package apptest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

var execLookPath = exec.LookPath

// stepTimeout bounds one browser step, so a missing element fails the test
// with a message instead of hanging it.
const stepTimeout = 20 * time.Second

// Browser is a headless Chromium tab for one test.
type Browser struct {
	Ctx context.Context
	mu  sync.Mutex
	// console collects console messages, log entries (CSP violations are
	// reported there) and exceptions, so tests can assert there were none.
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
	b := &Browser{}
	// Chromium occasionally dies during start-up when the machine is busy
	// (CI runs the load and crash packages beside this one); the process
	// exits before printing its DevTools address. A fresh profile and a
	// second try is what a person would do; a browser that fails three
	// times is a real failure.
	const attempts = 3
	var cancelCtx, cancelAlloc context.CancelFunc
	for i := 1; ; i++ {
		var err error
		cancelCtx, cancelAlloc, err = b.start(path, t.TempDir())
		if err == nil {
			break
		}
		if i == attempts {
			t.Fatalf("start chromium (%s), %d attempts: %v", path, attempts, err)
		}
		t.Logf("start chromium (%s), attempt %d of %d: %v", path, i, attempts, err)
		time.Sleep(time.Duration(i) * 500 * time.Millisecond)
	}
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	return b
}

// start launches Chromium with a profile in dir and opens a tab whose
// console is collected into b.
func (b *Browser) start(path, dir string) (context.CancelFunc, context.CancelFunc, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value))
			}
			b.add(string(e.Type) + ": " + strings.Join(parts, " "))
		case *cdplog.EventEntryAdded:
			b.add(string(e.Entry.Level) + ": " + e.Entry.Text)
		case *runtime.EventExceptionThrown:
			b.add("exception: " + e.ExceptionDetails.Text)
		}
	}))
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		return nil, nil, err
	}
	b.Ctx = ctx
	return cancelCtx, cancelAlloc, nil
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

// Problems returns console entries that signal a defect: CSP violations,
// script errors and exceptions. Error statuses of pages are not problems:
// tests open forbidden pages on purpose and assert on them.
func (b *Browser) Problems() []string {
	var out []string
	for _, m := range b.Console() {
		if strings.Contains(m, "Failed to load resource: the server responded with a status of") {
			continue
		}
		if strings.Contains(m, "Content Security Policy") || strings.HasPrefix(m, "exception") ||
			strings.HasPrefix(m, "error") {
			out = append(out, m)
		}
	}
	return out
}

// Run runs steps with a timeout, failing the test on error.
func (b *Browser) Run(t *testing.T, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

// Get runs one action that returns a value.
func Get[T any](t *testing.T, b *Browser, a chromedp.Action[T]) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	return v
}

// js evaluates an expression on the first node matching sel, in the page
// itself (chromedp's DOM mirror can lag behind a form post's navigation).
func (b *Browser) js(t *testing.T, sel, expr string) string {
	t.Helper()
	b.WaitFor(t, sel)
	return Get(t, b, chromedp.Evaluate[string](fmt.Sprintf("(n => String(%s))(document.querySelector(%q))", expr, sel)))
}

// Text returns the trimmed text of the first node matching the CSS selector.
func (b *Browser) Text(t *testing.T, sel string) string {
	t.Helper()
	return strings.TrimSpace(b.js(t, sel, "n.innerText"))
}

// Value returns the current value of a form field.
func (b *Browser) Value(t *testing.T, sel string) string {
	t.Helper()
	return b.js(t, sel, "n.value")
}

// Attr returns an attribute of the first node matching the CSS selector.
func (b *Browser) Attr(t *testing.T, sel, name string) string {
	t.Helper()
	return b.js(t, sel, fmt.Sprintf("n.getAttribute(%q)", name))
}

// WaitFor waits until an element matching the CSS selector is in the page,
// asking the page itself. Use it after a form post: chromedp's DOM mirror
// can lag behind a navigation that the page started.
func (b *Browser) WaitFor(t *testing.T, sel string) {
	t.Helper()
	expr := fmt.Sprintf("document.querySelector(%q) !== null", sel)
	if _, err := evalUntil(b, expr, func(found bool) bool { return found }); err != nil {
		t.Fatalf("browser: %s did not appear within %s (%v)", sel, stepTimeout, err)
	}
}

// WaitTrue waits until the JavaScript expression expr is true in the page
// (focus, attributes, text a script sets), failing after stepTimeout.
func (b *Browser) WaitTrue(t *testing.T, expr string) {
	t.Helper()
	if _, err := evalUntil(b, "Boolean("+expr+")", func(ok bool) bool { return ok }); err != nil {
		t.Fatalf("browser: %s never became true within %s (%v)", expr, stepTimeout, err)
	}
}

// ClickAndLoad clicks sel, which navigates (a link, or a form's submit
// button), and waits until the page at the new URL has loaded; it returns
// that URL. Waiting for an element instead can match the page being left
// when both pages have it (a filter form, a table, paging links).
func (b *Browser) ClickAndLoad(t *testing.T, sel string) string {
	t.Helper()
	before := b.Location(t)
	b.Run(t, chromedp.Click(chromedp.CSS(sel)))
	st, err := evalUntil(b, `[location.href, document.readyState]`, func(st []string) bool {
		return len(st) == 2 && st[0] != before && st[1] == "complete"
	})
	if err != nil {
		t.Fatalf("browser: clicking %s did not load a new page within %s (still %s; %v)", sel, stepTimeout, before, err)
	}
	return st[0]
}

// evalUntil evaluates expr in the page until done accepts its value, and
// returns that value, or an error once stepTimeout has passed. Errors of
// single evaluations are expected while a document is torn down, and
// retried.
func evalUntil[T any](b *Browser, expr string, done func(T) bool) (T, error) {
	deadline := time.Now().Add(stepTimeout)
	for {
		ctx, cancel := context.WithTimeout(b.Ctx, 2*time.Second)
		v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
		cancel()
		if err == nil && done(v) {
			return v, nil
		}
		if time.Now().After(deadline) {
			return v, fmt.Errorf("last value %v, last error %v", v, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Location returns the current URL, as the page knows it.
func (b *Browser) Location(t *testing.T) string {
	t.Helper()
	return Get(t, b, chromedp.Evaluate[string](`location.href`))
}

// Login signs in through the login form.
func (b *Browser) Login(t *testing.T, base, username, password string) {
	t.Helper()
	b.Run(t,
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), username),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid=login-form]`)),
	)
}
