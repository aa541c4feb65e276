package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// Every flash name a handler redirects with must have a message, or the
// user gets no feedback at all after acting.
func TestFlashNamesHaveMessages(t *testing.T) {
	// redirectFlash(w, r, to, "name"), and the helpers that pass a name on.
	re := regexp.MustCompile(`(?:redirectFlash\(w, r, [^,]+|decide\(w, r|setDisabled\(w, r, (?:true|false)), "([a-z-]+)"`)
	for _, l := range sourceLiterals(t, "*.go", re, 10) {
		if _, ok := flashes[l.text]; !ok {
			t.Errorf("%s redirects with flash %q, which has no message", l.file, l.text)
		}
	}
}

// A flash shows on the page the redirect lands on and nowhere else: not on
// a reload, not to someone who opens the same link, not in the URL.
func TestFlashShowsOnceAndStaysOutOfTheLink(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")

	r := e.post(c, "/logout", url.Values{})
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || loc != "/login" {
		t.Fatalf("logout: status %d location %q, want 303 to /login", r.status, loc)
	}
	hasFlash := func(r result) bool {
		t.Helper()
		return strings.Contains(r.body, `data-testid="flash"`)
	}

	// An htmx fragment request or an asset does not use it up.
	if r := e.do(c, http.MethodGet, "/login", nil, map[string]string{"HX-Request": "true"}); hasFlash(r) {
		t.Error("htmx request took the flash")
	}
	e.get(c, "/static/css/app.css")

	if r := e.get(c, loc); !hasFlash(r) || !strings.Contains(r.body, "You have been signed out.") {
		t.Fatalf("page after sign-out has no flash: %.400s", r.body)
	}
	if r := e.get(c, loc); hasFlash(r) {
		t.Error("flash shown again on reload")
	}
	if r := e.get(e.client(), loc); hasFlash(r) {
		t.Error("flash shown to another browser opening the same link")
	}

	// A cookie naming no known message shows nothing, and is cleared.
	forged := e.client()
	u, _ := url.Parse(e.url)
	forged.Jar.SetCookies(u, []*http.Cookie{{Name: flashCookie, Value: "<script>alert(1)</script>"}})
	if r := e.get(forged, "/login"); hasFlash(r) || strings.Contains(r.body, "<script>alert") {
		t.Errorf("forged flash cookie reached the page: %.400s", r.body)
	}
	if cs := forged.Jar.Cookies(u); len(cs) != 0 {
		t.Errorf("forged flash cookie kept: %v", cs)
	}
}
