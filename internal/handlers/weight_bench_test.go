package handlers

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/web/static"
)

// BenchmarkPageWeight reports what each page type weighs on the wire with
// and without gzip (B-identity, B-gzip) and how long a compressed request
// takes. Run: go test ./internal/handlers -run '^$' -bench PageWeight
func BenchmarkPageWeight(b *testing.B) {
	e := newEnv(b)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	staff, manager := e.login("staff1"), e.login("manager1")
	var id string
	for i := 0; i < 20; i++ {
		loc := e.post(staff, "/refunds", refundForm(uuid.NewString(), "1.000")).header.Get("Location")
		id = strings.TrimPrefix(loc, "/refunds/")
	}
	pages := []struct {
		name string
		c    *http.Client
		path string
	}{
		{"login", e.client(), "/login"},
		{"dashboard", manager, "/"},
		{"refunds-list", manager, "/refunds"},
		{"refund", manager, "/refunds/" + id},
		{"approvals", manager, "/approvals"},
		{"audit", manager, "/audit"},
		{"htmx", e.client(), static.URL(static.HTMX)},
		{"app.css", e.client(), static.URL("css/app.css")},
	}
	for _, p := range pages {
		for _, enc := range []string{"identity", "gzip"} {
			b.Run(p.name+"/"+enc, func(b *testing.B) {
				hdr := map[string]string{"Accept-Encoding": enc}
				r := e.do(p.c, http.MethodGet, p.path, nil, hdr)
				if r.status != http.StatusOK || (enc == "gzip") != (r.header.Get("Content-Encoding") == "gzip") {
					b.Fatalf("%s: status %d, encoding %q", p.path, r.status, r.header.Get("Content-Encoding"))
				}
				for b.Loop() {
					e.do(p.c, http.MethodGet, p.path, nil, hdr)
				}
				b.ReportMetric(float64(len(r.body)), "wire-B")
			})
		}
	}
}
