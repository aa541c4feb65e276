package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// The refund page's status poll is a background request: however often it
// runs, the session ends 30 minutes after the person last did something.
func TestBackgroundPollsDoNotKeepSessionAlive(t *testing.T) {
	tests := []struct {
		name       string
		background bool
		wantAlive  bool
	}{
		{"polls marked background", true, false},
		{"requests the person made", false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("staff1", auth.RoleStaff)
			c := e.login("staff1")
			id := strings.TrimPrefix(e.post(c, "/refunds", refundForm(uuid.NewString(), "100.000")).header.Get("Location"), "/refunds/")
			hdr := map[string]string{"HX-Request": "true", "HX-Current-URL": e.url + "/refunds/" + id}
			if tt.background {
				hdr[auth.BackgroundHeader] = "true"
			}
			// A poll every 2 s for 25 minutes would be 750 requests; one
			// every 5 minutes crosses every touch interval the same way.
			for range 5 {
				e.clock.Advance(5 * time.Minute)
				if r := e.do(c, http.MethodGet, "/refunds/"+id+"/status", nil, hdr); r.status != http.StatusOK {
					t.Fatalf("poll: status %d", r.status)
				}
			}
			e.clock.Advance(6 * time.Minute) // 31 minutes since the refund was requested
			r := e.get(c, "/refunds/"+id)
			if alive := r.status == http.StatusOK; alive != tt.wantAlive {
				t.Errorf("after 31 minutes: status %d, signed in = %v, want %v", r.status, alive, tt.wantAlive)
			}
		})
	}
}

// /account/session says how long is left without changing it; posting
// /account/keepalive ("stay signed in") starts the idle time again.
func TestSessionLeftAndKeepAlive(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	bg := map[string]string{auth.BackgroundHeader: "true"}
	left := func() string {
		t.Helper()
		r := e.do(c, http.MethodGet, "/account/session", nil, bg)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
			t.Fatalf("/account/session: %d %q", r.status, r.header.Get("Content-Type"))
		}
		return r.body
	}
	if got := left(); got != `{"left":1800}` {
		t.Errorf("fresh session: %s", got)
	}
	e.clock.Advance(29 * time.Minute)
	if got := left(); got != `{"left":60}` {
		t.Errorf("a minute before the end: %s", got)
	}
	if got := left(); got != `{"left":60}` {
		t.Errorf("asking extended the session: %s", got)
	}
	r := e.post(c, "/account/keepalive", url.Values{})
	if r.status != http.StatusOK || r.body != `{"left":1800}` {
		t.Errorf("keepalive: %d %s", r.status, r.body)
	}
	e.clock.Advance(31 * time.Minute)
	if r := e.do(c, http.MethodGet, "/account/session", nil, bg); r.status == http.StatusOK {
		t.Errorf("session still alive 31 minutes after its last activity: %s", r.body)
	}
}

// Signing in again after a session ended under an htmx request returns to
// the page the person was on, never to the layout-less fragment.
func TestLoginNextIsAlwaysAFullPage(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	id := strings.TrimPrefix(e.post(c, "/refunds", refundForm(uuid.NewString(), "100.000")).header.Get("Location"), "/refunds/")
	e.clock.Advance(31 * time.Minute)
	tests := []struct {
		name     string
		method   string
		path     string
		hdr      map[string]string
		wantNext string
	}{
		{"htmx poll", "GET", "/refunds/" + id + "/status",
			map[string]string{"HX-Request": "true", "HX-Current-URL": e.url + "/refunds/" + id}, "/refunds/" + id},
		{"htmx with a query", "GET", "/transactions?api=PG&ref=X",
			map[string]string{"HX-Request": "true", "HX-Current-URL": e.url + "/transactions?api=PG&ref=X"}, "/transactions?api=PG&ref=X"},
		{"htmx from another site's URL keeps only the path", "GET", "/refunds/" + id + "/status",
			map[string]string{"HX-Request": "true", "HX-Current-URL": "https://evil.example/refunds"}, "/refunds"},
		{"htmx with a protocol-relative URL keeps only the path", "GET", "/refunds/" + id + "/status",
			map[string]string{"HX-Request": "true", "HX-Current-URL": "//evil.example/x"}, "/x"},
		{"htmx with a backslash trick", "GET", "/refunds/" + id + "/status",
			map[string]string{"HX-Request": "true", "HX-Current-URL": "/\\evil.example"}, "/%5Cevil.example"},
		{"htmx without HX-Current-URL", "GET", "/refunds/" + id + "/status", map[string]string{"HX-Request": "true"}, ""},
		{"plain page", "GET", "/refunds/" + id, nil, "/refunds/" + id},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(c, tt.method, tt.path, nil, tt.hdr)
			loc := r.header.Get("HX-Redirect")
			if loc == "" {
				loc = r.header.Get("Location")
			}
			want := "/login"
			if tt.wantNext != "" {
				want += "?next=" + url.QueryEscape(tt.wantNext)
			}
			if loc != want {
				t.Errorf("sent to %q, want %q", loc, want)
			}
		})
	}
}
