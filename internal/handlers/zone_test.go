package handlers

import (
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// TestMerchantZoneDecidesTimesAndToday: the same instant, 02:00 UTC on
// 25 November, is the evening of the 24th in New York and the morning of
// the 25th in Ho Chi Minh City; pages show times in MERCHANT_TZ with the
// zone named, and the dashboard's "today" is the merchant's day.
func TestMerchantZoneDecidesTimesAndToday(t *testing.T) {
	tests := []struct {
		zone      string
		wantTime  string
		wantToday string
		notYet    string // the next day, which has not begun there
	}{
		{"America/New_York", "24/11/2026 21:00:00 EST", "24/11/2026", "25/11/2026"},
		{"Asia/Ho_Chi_Minh", "25/11/2026 09:00:00 UTC+7", "25/11/2026", "26/11/2026"},
		{"Asia/Kolkata", "25/11/2026 07:30:00 IST", "25/11/2026", "26/11/2026"},
	}
	for _, tt := range tests {
		t.Run(tt.zone, func(t *testing.T) {
			loc, err := time.LoadLocation(tt.zone)
			if err != nil {
				t.Fatal(err)
			}
			e := newEnv(t, func(d *Deps) { d.Zone = loc })
			e.clock.Set(time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC))
			e.user("mia", auth.RoleManager)
			c := e.login("mia")
			page := e.get(c, "/audit")
			if !strings.Contains(page.body, tt.wantTime) {
				t.Errorf("audit page lacks the sign-in time %q", tt.wantTime)
			}
			dash := e.get(c, "/")
			if !strings.Contains(dash.body, tt.wantToday) || strings.Contains(dash.body, tt.notYet) {
				t.Errorf("dashboard's today is not %s", tt.wantToday)
			}
			if strings.Contains(page.body, tt.notYet) {
				t.Errorf("audit page shows %s, a day that has not begun in %s", tt.notYet, tt.zone)
			}
		})
	}
}
