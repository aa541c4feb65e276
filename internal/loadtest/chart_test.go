package loadtest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
)

// latencySVG draws p95 latency (log scale) against concurrent users for
// the interactive routes, all requests together, and the bare handler.
func latencySVG(res Results) []byte {
	const W, H, left, right, top, bottom = 820.0, 480.0, 70.0, 260.0, 40.0, 50.0
	type series struct {
		name string
		pts  []float64
	}
	var ss []series
	add := func(name string, get func(Level) float64) {
		s := series{name: name}
		for _, lv := range res.Levels {
			s.pts = append(s.pts, get(lv))
		}
		ss = append(ss, s)
	}
	add("all requests", func(l Level) float64 { return l.All.P95ms })
	add("bare net/http", func(l Level) float64 { return l.Bare.P95ms })
	if len(res.Levels) > 0 {
		for _, r := range res.Levels[0].Routes {
			route := r.Route
			add(route, func(l Level) float64 {
				i := slices.IndexFunc(l.Routes, func(x RouteStats) bool { return x.Route == route })
				if i < 0 {
					return 0
				}
				return l.Routes[i].P95ms
			})
		}
	}
	lo, hi := 0.05, 10.0
	for _, s := range ss {
		for _, v := range s.pts {
			hi = max(hi, v)
		}
	}
	ylog := func(v float64) float64 {
		v = max(v, lo)
		return top + (H-top-bottom)*(1-(math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo)))
	}
	n := len(res.Levels)
	x := func(i int) float64 {
		if n == 1 {
			return left + (W-left-right)/2
		}
		return left + (W-left-right)*float64(i)/float64(n-1)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" font-family="sans-serif" font-size="11">`+"\n", W, H)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	fmt.Fprintf(&b, `<text x="%.0f" y="20" font-size="14">p95 latency per route vs concurrent users (%d refunds, %d audit events, %d CPUs)</text>`+"\n",
		left, res.Refunds, res.Events, res.CPUs)
	for d := math.Pow(10, math.Floor(math.Log10(lo))); d <= hi*1.001; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			v := d * m
			if v < lo || v > hi {
				continue
			}
			y := ylog(v)
			fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" text-anchor="end">%g ms</text>`+"\n",
				left, W-right, y, y, left-6, y+4, v)
		}
	}
	y20 := ylog(20)
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#c00" stroke-dasharray="4 3"/><text x="%.0f" y="%.1f" fill="#c00">target 20 ms</text>`+"\n",
		left, W-right, y20, y20, left+4, y20-4)
	for i, lv := range res.Levels {
		fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle">%d users</text>`+"\n", x(i), H-bottom+20, lv.Users)
	}
	colors := []string{"#000", "#888", "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
		"#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39"}
	for k, s := range ss {
		c := colors[k%len(colors)]
		var pts []string
		for i, v := range s.pts {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), ylog(v)))
		}
		width := 1.5
		if k < 2 {
			width = 3
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="%.1f" points="%s"/>`+"\n", c, width, join(pts))
		ly := top + 14*float64(k)
		fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.0f" y2="%.0f" stroke="%s" stroke-width="%.1f"/><text x="%.0f" y="%.0f">%s</text>`+"\n",
			W-right+10, W-right+28, ly, ly, c, width, W-right+32, ly+4, escape(s.name))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}

func join(s []string) string {
	var b bytes.Buffer
	for i, p := range s {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
	}
	return b.String()
}

func escape(s string) string {
	var b bytes.Buffer
	for _, r := range s {
		switch r {
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
