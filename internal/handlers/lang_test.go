package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// TestLanguage: Accept-Language picks the language of signed-out pages,
// the cookie overrides it, the profile overrides both; the switch only
// redirects to local paths.
func TestLanguage(t *testing.T) {
	e := newEnv(t)
	u := e.user("staff1", auth.RoleStaff)
	c := e.client()
	if r := e.do(c, http.MethodGet, "/login", nil, map[string]string{"Accept-Language": "vi-VN,vi;q=0.9"}); !strings.Contains(r.body, `<html lang="vi">`) ||
		!strings.Contains(r.body, "Đăng nhập") {
		t.Errorf("Accept-Language vi: login page not Vietnamese")
	}
	if r := e.get(c, "/login"); !strings.Contains(r.body, `<html lang="en">`) {
		t.Errorf("no preference: login page not English")
	}
	for next, want := range map[string]string{"/login?next=%2Frefunds": "/login?next=%2Frefunds", "//evil.example/": "/", "https://evil.example/": "/"} {
		r := e.post(c, "/lang", url.Values{"lang": {"vi"}, "next": {next}})
		if r.status != http.StatusSeeOther || r.header.Get("Location") != want {
			t.Errorf("POST /lang next=%q: %d %q, want %q", next, r.status, r.header.Get("Location"), want)
		}
	}
	if r := e.do(c, http.MethodGet, "/login", nil, map[string]string{"Accept-Language": "en"}); !strings.Contains(r.body, `<html lang="vi">`) {
		t.Errorf("lang cookie does not win over Accept-Language")
	}
	// Signed in: the profile decides, and the switch saves to it.
	sc := e.login("staff1")
	if r := e.get(sc, "/"); !strings.Contains(r.body, `<html lang="en">`) {
		t.Errorf("no profile language, no cookie: dashboard not English")
	}
	if r := e.post(sc, "/account/lang", url.Values{"lang": {"vi"}, "next": {"/refunds?status=PENDING"}}); r.header.Get("Location") != "/refunds?status=PENDING" {
		t.Errorf("switch did not come back: %q", r.header.Get("Location"))
	}
	if got, _ := e.auth.User(context.Background(), u.ID); got.Lang != "vi" {
		t.Errorf("profile lang = %q", got.Lang)
	}
	if r := e.do(sc, http.MethodGet, "/refunds", nil, map[string]string{"Accept-Language": "en"}); !strings.Contains(r.body, `<html lang="vi">`) {
		t.Errorf("profile language ignored")
	}
	if r := e.post(sc, "/account/lang", url.Values{"lang": {"fr"}, "next": {"/"}}); r.status != http.StatusSeeOther {
		t.Errorf("unknown language: %d", r.status)
	}
	if got, _ := e.auth.User(context.Background(), u.ID); got.Lang != "vi" {
		t.Errorf("unknown language changed the profile to %q", got.Lang)
	}
}
