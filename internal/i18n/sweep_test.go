package i18n

import "testing"

// With COL the only product that sweeps, the sweep's section reads as it
// did before the sweep became a product capability.
func TestSweepWordingOfCOLUnchanged(t *testing.T) {
	for _, l := range []Lang{EN, VI} {
		if got, was := l.T("at.sweep_title_of", "COL"), l.T("at.sweep_title"); got != was {
			t.Errorf("%s title: %q, was %q", l, got, was)
		}
		if got, was := l.T("at.sweep_off_of", "COL", "COL"), l.T("at.sweep_off"); got != was {
			t.Errorf("%s off: %q, was %q", l, got, was)
		}
	}
}
