package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"

	"github.com/neox-refund-desk/refunddesk/internal/apikeys"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// env is a real server over a real SQLite file, on a fake clock.
type env struct {
	t     testing.TB
	url   string
	db    *store.DB
	auth  *auth.Service
	audit *audit.Log
	clock *clock.Fake
	// refunds has no worker running: tests drive it explicitly.
	refunds *refunds.Service
	sandbox *sandbox.Sandbox
	// refused is the refusal limiter shared by auth and the handlers, as
	// the app wires it.
	refused *audit.Limiter
	srv     *Server
	// neoxCalls counts the desk's HTTP calls to NeoX (the sandbox),
	// token requests apart.
	neoxCalls *callCounter
	// stopBackground stops the server's background work (the checks of
	// uploaded files) and waits until it has stopped; idempotent.
	stopBackground func()
}

// callCounter is an http.RoundTripper that counts the requests it passes
// on, by path: "token" for OAuth token requests, "api" for the rest.
type callCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

func (c *callCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := "api"
	if strings.HasSuffix(r.URL.Path, "/oauth2/token") {
		kind = "token"
	}
	c.mu.Lock()
	c.counts[kind]++
	c.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

// api returns the non-token calls counted so far and starts again.
func (c *callCounter) api() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.counts["api"]
	c.counts = map[string]int{}
	return n
}

// srvPacer is the server's refusal pacer, for tests to watch its waits.
func (e *env) srvPacer() *pacer { return e.srv.pace }

const testPassword = "correct horse battery staple"

func newEnv(t testing.TB, opts ...func(*Deps)) *env {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenURL(ctx, storetest.URL(t, ""), store.PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := clock.NewFake(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	al := audit.New(db, c.Now)
	lim := audit.NewLimiter(al, audit.LimiterOptions{})
	svc := auth.NewService(db, al, auth.Options{Now: c.Now, Argon: auth.Params{Memory: 64, Time: 1, Threads: 1}, Refusals: lim})
	keys, err := auth.LoadOrCreateKeys(ctx, db, "")
	if err != nil {
		t.Fatal(err)
	}
	svc.UseSessionKeys(keys, auth.CookieOptions{})
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	sb := sandbox.New(sandbox.Config{MerchantCode: "TEST01", PGSecretKey: "pg-secret-for-tests",
		ClientID: "gc", ClientSecret: "gc-secret", COLClientID: "col", COLClientSecret: "col-secret",
		GCWebhookSecret: "gc-hook", COLWebhookSecret: "col-hook", SettleDelay: 20 * time.Millisecond, Seed: true})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	calls := &callCounter{counts: map[string]int{}}
	hc := &http.Client{Transport: calls}
	gw := refunds.Gateways{
		PG:  neox.NewPG(neox.PGConfig{BaseURL: sb.URL(), MerchantCode: "TEST01", SecretKey: "pg-secret-for-tests"}, hc),
		GC:  neox.NewGC(neox.OpenAPIConfig{BaseURL: sb.URL(), ClientID: "gc", ClientSecret: "gc-secret", Scope: neox.GCScope}, hc),
		COL: neox.NewCOL(neox.OpenAPIConfig{BaseURL: sb.URL(), ClientID: "col", ClientSecret: "col-secret", Scope: "collection"}, hc),
	}
	rs := refunds.New(db, al, gw, refunds.Options{Now: c.Now, Logger: logger})
	// Refused answers are paced by a millisecond, not a second: tests make
	// many refusals from one address (pace_test.go checks the real waits).
	zone, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Zone: zone, DB: db, Auth: svc, Audit: al, Refunds: rs, Logger: logger, Now: c.Now, Refusals: lim, RefusalDelay: time.Millisecond,
		Webhooks: WebhookSecrets{Keys: refunds.Hooks{PG: refunds.HookKeys{Secret: "pg-secret-for-tests", Merchant: "TEST01"},
			GC: refunds.HookKeys{Secret: "gc-hook"}, COL: refunds.HookKeys{Secret: "col-hook"}}.Keys()},
		APIKeys: apikeys.New(db, al, rs.Policy(), c.Now)}
	for _, o := range opts {
		o(&d)
	}
	srv := New(d)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	// The background work (uploaded files' checks) runs as the app runs
	// it, and stops before the server and the database close.
	bgCtx, stopBG := context.WithCancel(context.Background())
	bgDone := make(chan struct{})
	go func() { defer close(bgDone); _ = srv.RunBackground(bgCtx) }()
	stopBackground := func() { stopBG(); <-bgDone }
	t.Cleanup(stopBackground)
	return &env{t: t, url: ts.URL, db: db, auth: svc, audit: al, clock: c, refunds: rs, sandbox: sb, refused: lim, srv: srv, neoxCalls: calls,
		stopBackground: stopBackground}
}

func (e *env) user(name string, role auth.Role) auth.User {
	e.t.Helper()
	u, err := e.auth.CreateUser(context.Background(), name, "", role, testPassword, false)
	if err != nil {
		e.t.Fatalf("create %s: %v", name, err)
	}
	return u
}

func (e *env) client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type result struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) result {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if method != http.MethodGet {
		req.Header.Set("Origin", e.url)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) get(c *http.Client, path string) result { return e.do(c, http.MethodGet, path, nil, nil) }
func (e *env) post(c *http.Client, path string, form url.Values) result {
	return e.do(c, http.MethodPost, path, form, nil)
}

// login signs a fresh client in and returns it.
func (e *env) login(name string) *http.Client {
	e.t.Helper()
	c := e.client()
	r := e.post(c, "/login", url.Values{"username": {name}, "password": {testPassword}})
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d body %.300s", name, r.status, r.body)
	}
	return c
}

func (e *env) sessionCookie(c *http.Client) string {
	u, _ := url.Parse(e.url)
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == auth.DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

func (e *env) auditCount(action string) int {
	e.t.Helper()
	var n int
	if err := e.db.Read.QueryRow(`SELECT count(*) FROM audit_events WHERE action = ?`, action).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// sourceLiteral is a string a regexp found in a source file.
type sourceLiteral struct{ file, text string }

// sourceLiterals returns re's first group in every non-test Go file
// matching glob, and fails the test when fewer than min are found (the
// pattern no longer matches the code).
func sourceLiterals(t *testing.T, glob string, re *regexp.Regexp, min int) []sourceLiteral {
	t.Helper()
	files, err := filepath.Glob(glob)
	if err != nil {
		t.Fatal(err)
	}
	var out []sourceLiteral
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllSubmatch(b, -1) {
			out = append(out, sourceLiteral{f, string(m[1])})
		}
	}
	if len(out) < min {
		t.Fatalf("found only %d matches of %s in %s; the pattern is broken", len(out), re, glob)
	}
	return out
}
