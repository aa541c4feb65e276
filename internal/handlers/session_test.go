package handlers

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
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

// hiddenValue returns the value of the hidden input name in page's main
// form (the header's language switch has its own "next").
func hiddenValue(t *testing.T, page, name string) string {
	t.Helper()
	if i := strings.Index(page, `<main`); i >= 0 {
		page = page[i:]
	}
	m := regexp.MustCompile(`<input type="hidden" name="` + name + `" value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// A refund form submitted after the session expired is not lost: the
// sign-in page says why and carries it, signing in returns to the form with
// what was typed (under a fresh token), and nothing is requested until the
// person submits again.
func TestExpiredSessionKeepsTheForm(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("staff2", auth.RoleStaff)
	c := e.login("staff1")
	form := refundForm(uuid.NewString(), "123.000")
	form.Set("reason_text", "Khách trả hàng <lô 7>")
	e.clock.Advance(31 * time.Minute)

	r := e.post(c, "/refunds", form)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, `data-testid="session-expired"`) {
		t.Fatalf("expired post: status %d, no expiry notice", r.status)
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 0 {
		t.Fatalf("%d refunds created by a post without a session", n)
	}
	next, kept := hiddenValue(t, r.body, "next"), hiddenValue(t, r.body, "kept")
	if next != "/refunds/new?api=PG&payment=1440001&ref=240901101500HCMCAF" {
		t.Errorf("next = %q, want the refund form", next)
	}
	kv, err := url.ParseQuery(kept)
	if err != nil || kv.Get("amount") != "123.000" || kv.Get("reason_text") != "Khách trả hàng <lô 7>" {
		t.Fatalf("kept = %q (%v)", kept, err)
	}
	if kv.Has("token") || kv.Has("password") {
		t.Errorf("kept carries a token or a password: %q", kept)
	}

	c2 := e.client()
	signIn := url.Values{"username": {"staff1"}, "password": {testPassword}, "next": {next}, "kept": {kept}}
	if r := e.post(c2, "/login", signIn); r.status != http.StatusSeeOther || r.header.Get("Location") != next {
		t.Fatalf("sign-in: %d to %q", r.status, r.header.Get("Location"))
	}
	page := e.get(c2, next)
	for _, want := range []string{`value="123.000"`, "Khách trả hàng &lt;lô 7&gt;", "We kept what you typed"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("refilled form lacks %q", want)
		}
	}
	if tok := hiddenValue(t, page.body, "token"); tok == "" || tok == form.Get("token") {
		t.Errorf("refilled form token %q: want a fresh one", tok)
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 0 {
		t.Fatalf("signing in acted on the kept form: %d refunds", n)
	}
	if again := e.get(c2, next); strings.Contains(again.body, "123.000") || strings.Contains(again.body, "We kept") {
		t.Errorf("kept values shown twice")
	}

	// Kept values only ever fill the page they were kept for, and too much
	// is not carried at all.
	other := url.Values{"username": {"staff2"}, "password": {testPassword},
		"next": {"/refunds/new?api=PG&ref=240901101500HCMCAF&payment=1440001"}, "kept": {"api=PG&ref=OTHERREF&amount=999&reason_text=KEPTFOROTHER"}}
	c3 := e.client()
	e.post(c3, "/login", other)
	if p := e.get(c3, other.Get("next")); strings.Contains(p.body, "KEPTFOROTHER") {
		t.Errorf("values kept for another reference filled this form")
	}
	huge := url.Values{"username": {"staff2"}, "password": {testPassword}, "next": {other.Get("next")},
		"kept": {"api=PG&ref=240901101500HCMCAF&reason_text=" + strings.Repeat("x", maxKept)}}
	c4 := e.client()
	if r := e.post(c4, "/login", huge); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in with oversized kept values: %d", r.status)
	}
	if p := e.get(c4, other.Get("next")); strings.Contains(p.body, "xxxxxxxx") {
		t.Errorf("oversized kept values were carried")
	}
}

// An error page offers the way back to the page the person came from,
// never to another site.
func TestErrorPageLeadsBack(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	tests := []struct {
		referer, want string
	}{
		{e.url + "/refunds?status=PENDING", `href="/refunds?status=PENDING" data-testid="error-back"`},
		{"https://evil.example/refunds", ""},
		{"", ""},
	}
	for _, tt := range tests {
		r := e.do(c, http.MethodGet, "/refunds/"+uuid.NewString(), nil, map[string]string{"Referer": tt.referer})
		if r.status != http.StatusNotFound {
			t.Fatalf("status %d", r.status)
		}
		has := strings.Contains(r.body, `data-testid="error-back"`)
		if tt.want == "" && has || tt.want != "" && !strings.Contains(r.body, tt.want) {
			t.Errorf("referer %q: back link present %v, want %q", tt.referer, has, tt.want)
		}
	}
}
