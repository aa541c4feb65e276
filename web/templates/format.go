package templates

import (
	"github.com/neox-refund-desk/refunddesk/internal/refunds"

	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // the merchant's zone must load on machines without zoneinfo
)

// merchantZone is where the merchant works; times are shown there, with
// UTC on hover.
var merchantZone = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		return time.FixedZone("ICT", 7*3600)
	}
	return loc
})

// LocalTime formats t in the merchant's zone.
func LocalTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(merchantZone()).Format("02/01/2006 15:04:05")
}

// UTCTime formats t as RFC 3339 UTC (for title and datetime attributes).
func UTCTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// VND formats an amount in đồng the Vietnamese way: 1.250.000 ₫.
func VND(n int64) string { return refunds.FormatVND(n) }

// GroupThousands writes n with dots between groups of three digits.
func GroupThousands(n int64) string { return strings.TrimSuffix(refunds.FormatVND(n), " ₫") }

// Age renders a duration for queues: "3 min", "2 h 5 min", "4 days".
func Age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "< 1 min"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h " + strconv.Itoa(int(d.Minutes())%60) + " min"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " days"
}

// Zone is the merchant's time zone (Asia/Ho_Chi_Minh).
func Zone() *time.Location { return merchantZone() }

func urlQuery(s string) string { return url.QueryEscape(s) }
