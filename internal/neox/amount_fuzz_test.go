package neox

import (
	"strings"
	"testing"
)

// FuzzToMinor: GC amounts arrive as decimal strings from NeoX. Any input
// either fails or gives a non-negative amount that formats back to an
// equal decimal.
func FuzzToMinor(f *testing.F) {
	for _, s := range []string{"1500.00", "89.9", "120000", "0.001", "-1", "+1", "1e9", "0x10", "１２３", "99999999999999999999", ".5", "5."} {
		for _, c := range []string{"USD", "JPY", "VND", "KWD", "XXX"} {
			f.Add(s, c)
		}
	}
	f.Fuzz(func(t *testing.T, s, currency string) {
		n, err := toMinor(s, currency)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("toMinor(%q, %q) = %d", s, currency, n)
		}
		back, err := toMinor(FormatMinor(n, currency), currency)
		if err != nil || back != n {
			t.Fatalf("toMinor(%q, %q) = %d, formatted %q, back %d (%v)", s, currency, n, FormatMinor(n, currency), back, err)
		}
		if strings.ContainsAny(s, "eExX") {
			t.Fatalf("toMinor accepted %q", s)
		}
	})
}
