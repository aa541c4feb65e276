package handlers

import (
	"fmt"
	"strconv"
	"time"

	"github.com/neox-refund-desk/refunddesk/web/templates"
)

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// parseDayRange reads a from/to pair of dates (25/11/2026, as the pages
// write them, or 2026-11-25, as links do) in the
// merchant's zone; "to" is inclusive, so the end returned is the start of
// the next day. Problems go into errs under "from" and "to".
func parseDayRange(from, to string, zone *time.Location, errs templates.FieldErrors) (start, end time.Time) {
	for _, d := range []struct {
		field, val string
		dst        *time.Time
		add        int
	}{{"from", from, &start, 0}, {"to", to, &end, 1}} {
		if d.val == "" {
			continue
		}
		t, err := time.ParseInLocation("02/01/2006", d.val, zone)
		if err != nil {
			// Links (the dashboard's) and older bookmarks use ISO dates.
			t, err = time.ParseInLocation("2006-01-02", d.val, zone)
		}
		if err != nil {
			errs[d.field] = "err.date_format"
			continue
		}
		*d.dst = t.AddDate(0, 0, d.add)
	}
	if !start.IsZero() && !end.IsZero() && !start.Before(end) {
		errs["to"] = "err.end_before_start"
	}
	return start, end
}
