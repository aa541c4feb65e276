package e2e

import (
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/i18n"
)

// noRawKeys fails when a catalogue key shows on the page as-is: a label
// that was looked up but never translated.
func noRawKeys(t *testing.T, b *apptest.Browser) {
	t.Helper()
	text := apptest.Get(t, b, chromedp.Evaluate[string](`document.body.innerText`))
	for _, k := range i18n.Keys() {
		if regexp.MustCompile(`(^|[\s(])` + regexp.QuoteMeta(k) + `($|[\s).,:])`).MatchString(text) {
			t.Errorf("untranslated key %q on %s", k, b.Location(t))
		}
	}
	if strings.Contains(text, "%!") {
		t.Errorf("broken format verb on %s", b.Location(t))
	}
}
