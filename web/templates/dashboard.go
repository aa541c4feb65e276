package templates

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// Bar is one bar of a chart and one row of its table.
type Bar struct {
	Key     string  // stable id for tests: "PG-VND", "SUCCEEDED"
	Label   string  // what the bar is, shown in full
	Value   int64   // the raw figure
	Count   int     // refunds behind the figure (the list Href opens counts them)
	Display string  // the figure as shown
	Frac    float64 // bar length, 0..1 of its group's scale
	Href    string  // the refunds list behind the figure
	Class   string  // CSS class of the bar (ok, bad, warn, or "")
}

// BarGroup is bars drawn on one scale: only like is compared with like,
// so amounts in different currencies are separate groups.
type BarGroup struct {
	Key   string // "VND"; "" for a chart with one group
	Title string // shown above the group when the chart has several
	Bars  []Bar
}

// BarChart is a horizontal bar chart (one or more groups, each on its own
// scale) with its data table.
type BarChart struct {
	ID, Title string
	LabelHead string // table header of the label column
	ValueHead string // table header of the value column
	Groups    []BarGroup
	Empty     string // shown instead of the chart when there are no bars
}

// Bars lists every bar of every group, in order (the data table).
func (c BarChart) Bars() []Bar {
	var out []Bar
	for _, g := range c.Groups {
		out = append(out, g.Bars...)
	}
	return out
}

// StackRow is one horizontal stacked bar (e.g. one API's outcomes).
type StackRow struct {
	Key, Label string
	Total      int64
	Segments   []Bar // Frac of each is its share of the row
}

// LegendItem names one segment colour of a stacked chart.
type LegendItem struct{ Label, Class string }

// StackChart is a 100% stacked bar chart with a legend and its data
// table; each segment's label and share are written beside the bar.
type StackChart struct {
	ID, Title    string
	LabelHead    string
	SegmentHeads []string // one per segment, in order
	Legend       []LegendItem
	Rows         []StackRow
	Empty        string
}

// Figure is one headline number with a link behind it.
type Figure struct {
	Key, Label, Value, Note, Href string
}

// DashboardView is the home page's content, ready to render.
type DashboardView struct {
	Figures []Figure
	Charts  []BarChart
	Stacks  []StackChart
	Period  string // "window" sentence under the manager charts
}

func listHref(v url.Values) string { return "/refunds?" + v.Encode() }

func day(t time.Time) string { return t.Format("2006-01-02") }

// NewDashboardView turns the dashboard figures into charts and tables in
// ctx's language. Links point at the refunds list filtered the same way.
// whole: d is the whole desk's (the viewer may see everyone's refunds),
// not the viewer's own.
func NewDashboardView(ctx context.Context, whole bool, d refunds.Dashboard) DashboardView {
	var v DashboardView
	if !whole {
		v.Charts = append(v.Charts, mineChart(ctx, d))
		return v
	}
	zone := ZoneOf(ctx)
	today := d.TodayFrom.In(zone)
	monthEnd := d.MonthFrom.In(zone).AddDate(0, 1, -1)
	v.Figures = []Figure{
		{Key: "pending", Label: tr(ctx, "dash.pending"), Value: strconv.Itoa(d.Pending.Count), Href: "/approvals",
			Note: oldestNote(ctx, d.Now, d.Pending)},
		{Key: "attention", Label: tr(ctx, "dash.attention"), Value: strconv.Itoa(d.Attention.Count), Href: "/attention",
			Note: oldestNote(ctx, d.Now, d.Attention)},
		{Key: "suspicious", Label: tr(ctx, "dash.suspicious"), Value: strconv.Itoa(d.Suspicious.Count),
			Href: "/attention#suspicious-heading", Note: oldestNote(ctx, d.Now, d.Suspicious)},
		{Key: "unknown", Label: tr(ctx, "dash.unknown"), Value: strconv.Itoa(d.Unknown.Count),
			Href: listHref(url.Values{"status": {"UNKNOWN"}}), Note: oldestNote(ctx, d.Now, d.Unknown)},
		{Key: "processing", Label: tr(ctx, "dash.processing"), Value: strconv.Itoa(d.Processing.Count),
			Href: listHref(url.Values{"status": {"PROCESSING"}}), Note: oldestNote(ctx, d.Now, d.Processing)},
		medianFigure(ctx, "median-approval", tr(ctx, "dash.median_approval"), d.ToApproval, ""),
		medianFigure(ctx, "median-final", tr(ctx, "dash.median_final"), d.ToFinal, ""),
	}
	v.Charts = append(v.Charts,
		amountChart(ctx, "today", tr(ctx, "dash.today_title", LocalDate(ctx, today)), d.Today, today, today),
		amountChart(ctx, "month", tr(ctx, "dash.month_title", MonthName(ctx, d.MonthFrom.In(zone))), d.Month, d.MonthFrom.In(zone), monthEnd),
	)
	v.Charts = append(v.Charts, reasonChart(ctx, d, d.WindowFrom.In(zone), today))
	v.Stacks = append(v.Stacks, outcomeChart(ctx, d, d.WindowFrom.In(zone), today))
	v.Period = tr(ctx, "dash.window", refunds.DashboardWindowDays, LocalDate(ctx, d.WindowFrom.In(zone)), LocalDate(ctx, today))
	return v
}

func oldestNote(ctx context.Context, now time.Time, b refunds.Backlog) string {
	if b.Count == 0 {
		return tr(ctx, "dash.none_waiting")
	}
	return tr(ctx, "dash.oldest", Age(ctx, now.Sub(b.OldestAt)))
}

func medianFigure(ctx context.Context, key, label string, m refunds.Median, href string) Figure {
	// With no sample there is no median: say so rather than "over 0".
	f := Figure{Key: key, Label: label, Value: "—", Href: href, Note: tr(ctx, "dash.no_samples", refunds.DashboardWindowDays)}
	if m.Samples > 0 {
		f.Value = Duration(ctx, m.Value)
		f.Note = tr(ctx, "dash.samples", m.Samples, refunds.DashboardWindowDays)
	}
	return f
}

func mineChart(ctx context.Context, d refunds.Dashboard) BarChart {
	c := BarChart{ID: "mine", Title: tr(ctx, "dash.mine_title"), LabelHead: tr(ctx, "dash.col_status"),
		ValueHead: tr(ctx, "dash.col_count"), Empty: tr(ctx, "dash.mine_empty")}
	var most int
	for _, s := range d.Mine {
		most = max(most, s.Count)
	}
	var g BarGroup
	for _, s := range d.Mine {
		g.Bars = append(g.Bars, Bar{Key: s.Status, Label: StatusLabel(ctx, s.Status), Value: int64(s.Count), Count: s.Count,
			Display: strconv.Itoa(s.Count), Frac: frac(int64(s.Count), int64(most)),
			Href: listHref(url.Values{"status": {s.Status}}), Class: statusClass(s.Status)})
	}
	if d.MineTotal > 0 {
		c.Groups = []BarGroup{g}
	}
	return c
}

// amountChart draws one small chart per currency: amounts in different
// currencies are not comparable, so each currency has its own scale and
// its own heading, and no bar of one is drawn against another's.
func amountChart(ctx context.Context, id, title string, rows []refunds.AmountTotal, from, to time.Time) BarChart {
	c := BarChart{ID: id, Title: title, LabelHead: tr(ctx, "dash.col_api_currency"), ValueHead: tr(ctx, "dash.col_amount"),
		Empty: tr(ctx, "dash.nothing_refunded")}
	most := map[string]int64{}
	var order []string
	for _, r := range rows {
		if _, seen := most[r.Currency]; !seen {
			order = append(order, r.Currency)
		}
		most[r.Currency] = max(most[r.Currency], r.Amount)
	}
	for _, cur := range order {
		g := BarGroup{Key: cur, Title: tr(ctx, "dash.in_currency", cur)}
		for _, r := range rows {
			if r.Currency != cur {
				continue
			}
			g.Bars = append(g.Bars, Bar{Key: string(r.API) + "-" + r.Currency, Label: string(r.API) + " · " + r.Currency,
				Value: r.Amount, Count: r.Count,
				Display: Money(ctx, r.Amount, r.Currency) + " · " + tr(ctx, "dash.n_refunds", r.Count),
				Frac:    frac(r.Amount, most[r.Currency]),
				Href: listHref(url.Values{"status": {"SUCCEEDED"}, "api": {string(r.API)}, "currency": {r.Currency},
					"on": {"final"}, "from": {day(from)}, "to": {day(to)}})})
		}
		c.Groups = append(c.Groups, g)
	}
	return c
}

// outcomeChart: per API, one 100% bar of successes and failures, with a
// legend, and each part written out as "Succeeded: 3 of 4 (75.0%)".
func outcomeChart(ctx context.Context, d refunds.Dashboard, from, to time.Time) StackChart {
	c := StackChart{ID: "outcomes", Title: tr(ctx, "dash.outcomes_title", refunds.DashboardWindowDays),
		LabelHead: "API", SegmentHeads: []string{tr(ctx, "dash.succeeded"), tr(ctx, "dash.failed")},
		Legend: []LegendItem{{tr(ctx, "dash.succeeded"), "ok"}, {tr(ctx, "dash.failed"), "bad"}},
		Empty:  tr(ctx, "dash.no_outcomes")}
	for _, o := range d.Outcomes {
		if o.Total() == 0 {
			continue
		}
		row := StackRow{Key: string(o.API), Label: string(o.API), Total: int64(o.Total())}
		for _, s := range []struct {
			status, class, label string
			n                    int
		}{{"SUCCEEDED", "ok", tr(ctx, "dash.succeeded"), o.Succeeded}, {"FAILED", "bad", tr(ctx, "dash.failed"), o.Failed}} {
			row.Segments = append(row.Segments, Bar{Key: s.status, Label: s.label, Value: int64(s.n), Count: s.n,
				Display: tr(ctx, "dash.share", s.label, s.n, o.Total(), Percent(ctx, s.n, o.Total())),
				Frac:    frac(int64(s.n), row.Total),
				Class:   s.class, Href: listHref(url.Values{"status": {s.status}, "api": {string(o.API)}, "on": {"final"},
					"from": {day(from)}, "to": {day(to)}})})
		}
		c.Rows = append(c.Rows, row)
	}
	return c
}

func reasonChart(ctx context.Context, d refunds.Dashboard, from, to time.Time) BarChart {
	c := BarChart{ID: "reasons", Title: tr(ctx, "dash.reasons_title", refunds.DashboardWindowDays),
		LabelHead: tr(ctx, "dash.col_reason"), ValueHead: tr(ctx, "dash.col_count"), Empty: tr(ctx, "dash.no_failures")}
	var most int
	for _, r := range d.FailureReasons {
		most = max(most, r.Count)
	}
	var g BarGroup
	for i, r := range d.FailureReasons {
		href := listHref(url.Values{"status": {"FAILED"}, "failure": {r.Reason}, "on": {"final"}, "from": {day(from)}, "to": {day(to)}})
		label := r.Reason
		if label == "" {
			label = tr(ctx, "dash.no_reason")
		}
		g.Bars = append(g.Bars, Bar{Key: strconv.Itoa(i + 1), Label: label, Value: int64(r.Count), Count: r.Count,
			Display: tr(ctx, "dash.n_refunds", r.Count), Frac: frac(int64(r.Count), int64(most)), Href: href, Class: "bad"})
	}
	if len(g.Bars) > 0 {
		c.Groups = []BarGroup{g}
	}
	return c
}

func frac(n, most int64) float64 {
	if most <= 0 || n <= 0 {
		return 0
	}
	return float64(n) / float64(most)
}

func statusClass(s string) string {
	switch s {
	case "SUCCEEDED":
		return "ok"
	case "FAILED", "REJECTED":
		return "bad"
	case "CANCELLED":
		return "muted"
	case "PENDING":
		return "warn"
	}
	return ""
}

// StatusLabel names a refund status in ctx's language.
func StatusLabel(ctx context.Context, s string) string {
	if s == "" {
		return ""
	}
	return i18n.T(ctx, "status."+s)
}
