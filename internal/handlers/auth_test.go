package handlers

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.user("alice", auth.RoleStaff)
	tests := []struct {
		name, user, pass string
		status           int
		wantText         string
	}{
		{"right password", "alice", testPassword, http.StatusSeeOther, ""},
		{"username is case-insensitive", "ALICE", testPassword, http.StatusSeeOther, ""},
		{"wrong password", "alice", "nope nope nope", http.StatusUnauthorized, "Wrong username or password."},
		{"unknown user gets the same message", "mallory", testPassword, http.StatusUnauthorized, "Wrong username or password."},
		{"empty form", "", "", http.StatusUnauthorized, "Wrong username or password."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.post(e.client(), "/login", url.Values{"username": {tt.user}, "password": {tt.pass}})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			if tt.wantText != "" && !strings.Contains(r.body, tt.wantText) {
				t.Errorf("body lacks %q", tt.wantText)
			}
			if tt.status == http.StatusUnauthorized && !strings.Contains(r.body, `value="`+tt.user+`"`) {
				t.Errorf("typed username was not kept in the form")
			}
		})
	}
}

func TestLoginThrottling(t *testing.T) {
	e := newEnv(t)
	e.user("bob", auth.RoleStaff)
	c := e.client()
	var last result
	for i := 0; i < 12; i++ {
		last = e.post(c, "/login", url.Values{"username": {"bob"}, "password": {"wrong password!"}})
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("no throttling after repeated failures: last status %d", last.status)
	}
	if last.header.Get("Retry-After") == "" || !strings.Contains(last.body, "Too many failed sign-ins") {
		t.Errorf("throttled answer lacks Retry-After or message")
	}
	// Even the right password is refused while throttled...
	if r := e.post(c, "/login", url.Values{"username": {"bob"}, "password": {testPassword}}); r.status != http.StatusTooManyRequests {
		t.Errorf("right password during lockout: status %d, want 429", r.status)
	}
	// ...and accepted once the backoff has passed: no permanent lockout.
	e.clock.Advance(time.Hour)
	if r := e.post(c, "/login", url.Values{"username": {"bob"}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Errorf("after backoff: status %d, want 303", r.status)
	}
	if e.auditCount("auth.login_throttled") == 0 || e.auditCount("auth.login_failed") == 0 {
		t.Errorf("throttling and failures not audited")
	}
}

func TestLogoutEndsSession(t *testing.T) {
	e := newEnv(t)
	e.user("carol", auth.RoleStaff)
	c := e.login("carol")
	cookie := e.sessionCookie(c)
	if r := e.get(c, "/"); r.status != http.StatusOK {
		t.Fatalf("home before logout: %d", r.status)
	}
	if r := e.post(c, "/logout", nil); r.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.status)
	}
	// A copy of the old cookie must not work any more.
	stolen := e.client()
	u, _ := url.Parse(e.url)
	stolen.Jar.SetCookies(u, []*http.Cookie{{Name: auth.DefaultCookieName, Value: cookie}})
	if r := e.get(stolen, "/"); r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/login") {
		t.Errorf("old cookie after logout: status %d location %q", r.status, r.header.Get("Location"))
	}
}

func TestSessionExpiry(t *testing.T) {
	tests := []struct {
		name  string
		steps []time.Duration // clock advances, each followed by a request
		alive []bool
	}{
		{"idle timeout", []time.Duration{10 * time.Minute, 29 * time.Minute, 31 * time.Minute}, []bool{true, true, false}},
		{"absolute timeout despite activity", []time.Duration{25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute,
			25 * time.Minute, 25 * time.Minute, 25 * time.Minute, 25 * time.Minute}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.user("dave", auth.RoleStaff)
			c := e.login("dave")
			var elapsed time.Duration
			for i, d := range tt.steps {
				e.clock.Advance(d)
				elapsed += d
				want := elapsed < 12*time.Hour
				if tt.alive != nil {
					want = tt.alive[i]
				}
				r := e.get(c, "/account")
				if got := r.status == http.StatusOK; got != want {
					t.Fatalf("after %v: alive=%v (status %d), want %v", elapsed, got, r.status, want)
				}
				if !want {
					return
				}
			}
			t.Fatal("session never expired")
		})
	}
}

func TestSessionFixation(t *testing.T) {
	e := newEnv(t)
	e.user("erin", auth.RoleStaff)
	c := e.client()
	e.get(c, "/login")
	// Plant a cookie as an attacker would, then sign in with it present.
	u, _ := url.Parse(e.url)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: auth.DefaultCookieName, Value: "attacker-chosen"}})
	before := e.sessionCookie(c)
	if r := e.post(c, "/login", url.Values{"username": {"erin"}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("login: %d", r.status)
	}
	after := e.sessionCookie(c)
	if after == "" || after == before {
		t.Fatalf("session id did not change at login")
	}
	// Logging in again issues yet another id.
	e.post(c, "/login", url.Values{"username": {"erin"}, "password": {testPassword}})
	if again := e.sessionCookie(c); again == after {
		t.Errorf("second login reused the session id")
	}
}

func TestSignOutEverywhere(t *testing.T) {
	e := newEnv(t)
	e.user("frank", auth.RoleManager)
	laptop, phone := e.login("frank"), e.login("frank")
	if r := e.post(laptop, "/account/signout-all", nil); r.status != http.StatusSeeOther {
		t.Fatalf("signout-all: %d", r.status)
	}
	for name, c := range map[string]*http.Client{"laptop": laptop, "phone": phone} {
		if r := e.get(c, "/account"); r.status != http.StatusSeeOther {
			t.Errorf("%s still signed in: %d", name, r.status)
		}
	}
}

func TestDisabledUserKickedOut(t *testing.T) {
	e := newEnv(t)
	e.user("root", auth.RoleAdmin)
	victim := e.user("gina", auth.RoleStaff)
	gina := e.login("gina")
	admin := e.login("root")
	if r := e.get(gina, "/"); r.status != http.StatusOK {
		t.Fatalf("gina home: %d", r.status)
	}
	if r := e.post(admin, "/users/"+itoa(victim.ID)+"/disable", nil); r.status != http.StatusSeeOther {
		t.Fatalf("disable: %d %.200s", r.status, r.body)
	}
	if r := e.get(gina, "/"); r.status != http.StatusSeeOther {
		t.Errorf("disabled user still served: %d", r.status)
	}
	if r := e.post(e.client(), "/login", url.Values{"username": {"gina"}, "password": {testPassword}}); r.status != http.StatusUnauthorized {
		t.Errorf("disabled user could sign in: %d", r.status)
	}
}

func TestCrossOriginPostRejected(t *testing.T) {
	e := newEnv(t)
	e.user("hank", auth.RoleStaff)
	c := e.login("hank")
	tests := []struct {
		name string
		hdr  map[string]string
		want int
	}{
		{"cross-site fetch metadata", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"foreign origin only", map[string]string{"Sec-Fetch-Site": "", "Origin": "https://evil.example"}, http.StatusForbidden},
		{"same origin", map[string]string{}, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(c, http.MethodPost, "/account/signout-all", url.Values{}, tt.hdr)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d", r.status, tt.want)
			}
		})
	}
	// The refused requests changed nothing; the same-origin one signed out.
	if r := e.get(c, "/account"); r.status != http.StatusSeeOther {
		t.Errorf("same-origin sign-out did not take effect")
	}
}

func TestSecurityHeaders(t *testing.T) {
	e := newEnv(t)
	e.user("ivy", auth.RoleStaff)
	c := e.login("ivy")
	for _, path := range []string{"/login", "/", "/nope", "/static/css/app.css"} {
		r := e.get(c, path)
		h := r.header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") ||
			!strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" {
			t.Errorf("%s: missing nosniff or Referrer-Policy", path)
		}
	}
	if cc := e.get(c, "/").header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("authenticated page Cache-Control %q, want no-store", cc)
	}
	// Session cookie flags.
	r := e.post(e.client(), "/login", url.Values{"username": {"ivy"}, "password": {testPassword}})
	sc := r.header.Get("Set-Cookie")
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
}

func TestMustChangePasswordFirst(t *testing.T) {
	e := newEnv(t)
	if _, err := e.auth.CreateUser(t.Context(), "jill", "", auth.RoleStaff, testPassword, true); err != nil {
		t.Fatal(err)
	}
	c := e.login("jill")
	if r := e.get(c, "/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("must-change user reached home: %d %q", r.status, r.header.Get("Location"))
	}
	bad := e.post(c, "/account/password", url.Values{"current": {testPassword}, "new": {"another long passphrase"}, "confirm": {"different"}})
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "The two new passwords differ.") {
		t.Fatalf("mismatched confirm: %d", bad.status)
	}
	ok := e.post(c, "/account/password", url.Values{"current": {testPassword}, "new": {"another long passphrase"}, "confirm": {"another long passphrase"}})
	if ok.status != http.StatusSeeOther {
		t.Fatalf("change password: %d %.300s", ok.status, ok.body)
	}
	if r := e.get(c, "/"); r.status != http.StatusOK {
		t.Errorf("after change: home status %d", r.status)
	}
}

func TestHealthAndReady(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/healthz", "/readyz"} {
		if r := e.get(e.client(), p); r.status != http.StatusOK {
			t.Errorf("%s: %d", p, r.status)
		}
	}
	e.db.Close()
	if r := e.get(e.client(), "/readyz"); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with closed database: %d", r.status)
	}
}

// TestNextRejectsControlCharacters: browsers drop tabs and newlines from
// URLs, so "/\t/evil.example" in Location is "//evil.example", another
// site. Every route that redirects to a "next" sends such a value home.
func TestNextRejectsControlCharacters(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	for _, next := range []string{"/\t/evil.example/x", "/\n/evil.example", "/\r\n/evil.example", "/\x00x", "/\\evil.example", "/\x7f/x"} {
		t.Run(strconv.Quote(next), func(t *testing.T) {
			page := e.get(e.client(), "/login?next="+url.QueryEscape(next))
			if !strings.Contains(page.body, `name="next" value="/"`) {
				t.Errorf("login form keeps next: %.200s", page.body[strings.Index(page.body, "next")-50:])
			}
			c := e.client()
			res := e.post(c, "/login", url.Values{"username": {"staff1"}, "password": {testPassword}, "next": {next}})
			if loc := res.header.Get("Location"); loc != "/" {
				t.Errorf("login Location = %q", loc)
			}
			res = e.do(c, http.MethodPost, "/login", url.Values{"username": {"staff1"}, "password": {testPassword}, "next": {next}},
				map[string]string{"HX-Request": "true"})
			if loc := res.header.Get("HX-Redirect"); loc != "" && loc != "/" {
				t.Errorf("htmx login HX-Redirect = %q", loc)
			}
			res = e.post(c, "/lang", url.Values{"lang": {"vi"}, "next": {next}})
			if loc := res.header.Get("Location"); loc != "/" {
				t.Errorf("lang Location = %q", loc)
			}
		})
	}
}

// TestUnreadableFormsAre400: more form fields than net/url reads (10,000),
// or a damaged escape, on any POST — anonymous /login included — is a 400
// page, not a 500 with an ERROR log line; nothing is recorded.
func TestUnreadableFormsAre400(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	many := strings.Repeat("a=1&", 10_001) + "username=staff1"
	for _, tt := range []struct {
		name, path, body string
		signedIn         bool
	}{
		{"10,001 fields on /login", "/login", many, false},
		{"bad escape on /login", "/login", "username=%zz&password=x", false},
		{"10,001 fields on /refunds", "/refunds", many, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := e.client()
			if tt.signedIn {
				c = e.login("staff1")
			}
			before := e.count(`SELECT count(*) FROM audit_events`)
			req, _ := http.NewRequest(http.MethodPost, e.url+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", e.url)
			req.Header.Set("Accept-Language", "vi")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "Không đọc được biểu mẫu") {
				t.Fatalf("status %d: %.300s", resp.StatusCode, b)
			}
			if n := e.count(`SELECT count(*) FROM audit_events`); n != before {
				t.Fatalf("%d audit rows written", n-before)
			}
		})
	}
}

// TestReadyzReportsADamagedDatabase: "SELECT 1" answers on a database
// whose pages are damaged; the integrity check the server runs at start
// and every few hours finds it, and /readyz then says 503.
func TestReadyzReportsADamagedDatabase(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("damages a SQLite file's pages; PostgreSQL checks its own pages")
	}
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	ctx := context.Background()
	if err := e.db.CheckIntegrity(ctx); err != nil {
		t.Fatalf("fresh database: %v", err)
	}
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusOK {
		t.Fatalf("healthy: %d", res.status)
	}
	var root, pageSize int64
	if err := e.db.Read.QueryRow(`SELECT rootpage FROM sqlite_master WHERE name = 'users'`).Scan(&root); err != nil {
		t.Fatal(err)
	}
	if err := e.db.Read.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(e.db.Path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5}, int(pageSize)), (root-1)*pageSize); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusOK {
		t.Fatalf("before the check: %d (SELECT 1 still answers)", res.status)
	}
	if err := e.db.CheckIntegrity(ctx); err == nil {
		t.Fatal("integrity check passed a damaged file")
	}
	if res := e.get(e.client(), "/readyz"); res.status != http.StatusServiceUnavailable || !strings.Contains(res.body, "damaged") {
		t.Fatalf("after the check: %d %q", res.status, res.body)
	}
}
