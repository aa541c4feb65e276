package handlers

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// deviceCookie returns the device cookie a client holds for /login.
func (e *env) deviceCookie(c *http.Client) *http.Cookie {
	u, _ := url.Parse(e.url + "/login")
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == auth.DeviceCookieName {
			return ck
		}
	}
	return nil
}

// withCookie is a fresh client holding only ck (a browser whose session
// has ended but which keeps its device cookie).
func (e *env) withCookie(ck *http.Cookie) *http.Client {
	c := e.client()
	u, _ := url.Parse(e.url + "/login")
	jar, _ := cookiejar.New(nil)
	jar.SetCookies(u, []*http.Cookie{{Name: ck.Name, Value: ck.Value, Path: "/login"}})
	c.Jar = jar
	return c
}

// Issue 12: an attacker spends the account's budget of untrusted guesses;
// the owner's browser, which signed in before, still gets in; a fresh
// browser, a forged cookie and another user's cookie do not.
func TestDeviceCookieKeepsTheOwnerIn(t *testing.T) {
	e := newEnv(t)
	e.user("bob", auth.RoleStaff)
	e.user("alice", auth.RoleStaff)

	// Sign-in sets the device cookie with the agreed flags.
	owner := e.client()
	r := e.post(owner, "/login", url.Values{"username": {"bob"}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("owner's first sign-in: %d", r.status)
	}
	var set string
	for _, h := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(h, auth.DeviceCookieName+"=") {
			set = h
		}
	}
	for _, want := range []string{"Path=/login", "HttpOnly", "SameSite=Lax", "Max-Age="} {
		if !strings.Contains(set, want) {
			t.Errorf("device cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "Secure") || strings.Contains(set, "bob") {
		t.Errorf("device cookie %q: Secure without https, or the username in clear", set)
	}
	bobDevice := e.deviceCookie(owner)
	aliceDevice := e.deviceCookie(e.login("alice"))
	if bobDevice == nil || aliceDevice == nil {
		t.Fatal("no device cookie kept by the client")
	}

	// The attacker guesses until refused.
	attacker := e.client()
	var last result
	for range 10 {
		last = e.post(attacker, "/login", url.Values{"username": {"bob"}, "password": {"guess guess"}})
		if last.status == http.StatusTooManyRequests {
			break
		}
	}
	if last.status != http.StatusTooManyRequests {
		t.Fatalf("the attacker was never refused (last %d)", last.status)
	}

	right := url.Values{"username": {"bob"}, "password": {testPassword}}
	if r := e.post(e.withCookie(bobDevice), "/login", right); r.status != http.StatusSeeOther {
		t.Fatalf("owner with the device cookie: %d, want 303", r.status)
	}
	forged := *bobDevice
	forged.Value = forged.Value[:len(forged.Value)-4] + "AAAA"
	for name, c := range map[string]*http.Client{
		"fresh browser":         e.client(),
		"forged cookie":         e.withCookie(&forged),
		"another user's cookie": e.withCookie(aliceDevice),
	} {
		if r := e.post(c, "/login", right); r.status != http.StatusTooManyRequests || !strings.Contains(r.body, "Too many failed sign-ins") {
			t.Errorf("%s while the budget is spent: %d, want 429 with the usual message", name, r.status)
		}
	}
	// Alice's browser is trusted for alice and stays so for her.
	if r := e.post(e.withCookie(aliceDevice), "/login", url.Values{"username": {"alice"}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("alice with her device cookie: %d", r.status)
	}
}

// One browser remembers several users (a shared desk), newest first.
func TestDeviceCookieRemembersSeveralUsers(t *testing.T) {
	e := newEnv(t)
	e.user("bob", auth.RoleStaff)
	e.user("alice", auth.RoleStaff)
	c := e.client()
	for _, name := range []string{"bob", "alice"} {
		if r := e.post(c, "/login", url.Values{"username": {name}, "password": {testPassword}}); r.status != http.StatusSeeOther {
			t.Fatalf("sign-in %s: %d", name, r.status)
		}
	}
	for range 10 {
		e.post(e.client(), "/login", url.Values{"username": {"bob"}, "password": {"guess guess"}})
	}
	if r := e.post(e.withCookie(e.deviceCookie(c)), "/login", url.Values{"username": {"bob"}, "password": {testPassword}}); r.status != http.StatusSeeOther {
		t.Fatalf("bob on the shared browser after alice signed in there: %d", r.status)
	}
}
