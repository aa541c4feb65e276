package templates

import (
	"context"
	"fmt"
	"math"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"

	"net/url"
	"strconv"
	"strings"
	"time"
)

type zoneKey struct{}

// WithZone sets the merchant's zone (MERCHANT_TZ) for the times and days
// rendered under ctx.
func WithZone(ctx context.Context, loc *time.Location) context.Context {
	return context.WithValue(ctx, zoneKey{}, loc)
}

// ZoneOf is the merchant's zone set by WithZone; UTC when none was set.
func ZoneOf(ctx context.Context) *time.Location {
	if loc, ok := ctx.Value(zoneKey{}).(*time.Location); ok && loc != nil {
		return loc
	}
	return time.UTC
}

// zoneLabel names t's zone for a reader: its abbreviation where the zone
// database has a real one (CET, UTC), else its offset (UTC+7, UTC+5:30).
func zoneLabel(t time.Time) string {
	name, offset := t.Zone()
	if name != "" && name[0] != '+' && name[0] != '-' {
		return name
	}
	sign := "+"
	if offset < 0 {
		sign, offset = "-", -offset
	}
	h, m := offset/3600, offset%3600/60
	if m != 0 {
		return fmt.Sprintf("UTC%s%d:%02d", sign, h, m)
	}
	return fmt.Sprintf("UTC%s%d", sign, h)
}

// LocalTime formats t in the merchant's zone, naming the zone.
func LocalTime(ctx context.Context, t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(ZoneOf(ctx))
	return t.Format("02/01/2006 15:04:05") + " " + zoneLabel(t)
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

// Age renders a duration for queues: "3 min", "2 h 5 min", "4 days", in
// ctx's language.
func Age(ctx context.Context, d time.Duration) string {
	switch {
	case d < time.Minute:
		return tr(ctx, "age.under_minute")
	case d < time.Hour:
		return tr(ctx, "age.minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return tr(ctx, "age.hours", int(d.Hours()), int(d.Minutes())%60)
	}
	return tr(ctx, "age.days", int(d.Hours()/24))
}

// Duration is Age with seconds for short spans (medians of fast steps).
func Duration(ctx context.Context, d time.Duration) string {
	switch {
	case d < time.Second:
		return tr(ctx, "age.under_second")
	case d < time.Minute:
		return tr(ctx, "age.seconds", int(d.Seconds()))
	}
	return Age(ctx, d)
}

// LocalDate formats t's day as dd/mm/yyyy (both languages).
func LocalDate(ctx context.Context, t time.Time) string {
	return t.In(ZoneOf(ctx)).Format("02/01/2006")
}

// MonthName names t's month in ctx's language ("November 2026", "tháng 11/2026").
func MonthName(ctx context.Context, t time.Time) string {
	t = t.In(ZoneOf(ctx))
	if i18n.From(ctx) == i18n.VI {
		return fmt.Sprintf("tháng %d/%d", int(t.Month()), t.Year())
	}
	return t.Month().String() + " " + strconv.Itoa(t.Year())
}

// Percent renders n/total with one decimal, with the language's decimal
// mark ("95.2%", "95,2%").
func Percent(ctx context.Context, n, total int) string {
	if total <= 0 {
		return "—"
	}
	s := strconv.FormatFloat(math.Round(float64(n)*1000/float64(total))/10, 'f', 1, 64)
	if i18n.From(ctx) == i18n.VI {
		s = strings.Replace(s, ".", ",", 1)
	}
	return s + "%"
}

// tr translates key into ctx's language (see internal/i18n).
func tr(ctx context.Context, key string, args ...any) string { return i18n.T(ctx, key, args...) }

func urlQuery(s string) string { return url.QueryEscape(s) }

// Latency shows how long a NeoX call took, in whole milliseconds: "< 1"
// for a faster one (a sandbox on loopback), nothing while it is running.
func Latency(a refunds.Attempt) string {
	switch {
	case a.FinishedAt.IsZero():
		return ""
	case a.LatencyMS < 1:
		return "< 1"
	}
	return strconv.FormatInt(a.LatencyMS, 10)
}

// joinNonEmpty joins the non-empty values with " / ".
func joinNonEmpty(vals ...string) string {
	out := ""
	for _, v := range vals {
		if v == "" {
			continue
		}
		if out != "" {
			out += " / "
		}
		out += v
	}
	return out
}
