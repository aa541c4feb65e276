// Package apptest starts the real application for end-to-end tests: a real
// SQLite file in a temporary directory, the real HTTP server on a random
// loopback port, and headless Chromium driven by chromedp.
package apptest

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// Clock is the settable clock of session-expiry tests: the shared fake.
type Clock = clock.Fake

// NewClock returns a clock at t.
func NewClock(t time.Time) *Clock { return clock.NewFake(t) }

// Running is a started application.
type Running struct {
	URL           string
	App           *app.App
	AdminPassword string
	Clock         *Clock // nil unless WithClock was used
	Logs          *SyncBuffer
}

// Option adjusts the configuration before start.
type Option func(*settings)

type settings struct {
	env          map[string]string
	clock        *Clock
	refunds      refunds.Options
	refusalDelay time.Duration
	localhost    bool
}

// WithRefusalDelay sets how long a source over its refusal budget waits
// per refusal. Tests default to a millisecond (they make many refusals from
// one address); 0 gives the production second.
func WithRefusalDelay(d time.Duration) Option { return func(s *settings) { s.refusalDelay = d } }

// WithRefundOptions tunes the refund worker (retry delays, poll interval).
func WithRefundOptions(o refunds.Options) Option { return func(s *settings) { s.refunds = o } }

// WithEnv sets a configuration variable (e.g. SESSION_IDLE_TIMEOUT).
func WithEnv(k, v string) Option { return func(s *settings) { s.env[k] = v } }

// WithLocalhost names the app http://localhost:PORT (BASE_URL and URL)
// instead of 127.0.0.1: WebAuthn refuses an IP address as relying party.
func WithLocalhost() Option { return func(s *settings) { s.localhost = true } }

// WithClock runs the app on a fake clock.
func WithClock(c *Clock) Option { return func(s *settings) { s.clock = c } }

// SyncBuffer is a goroutine-safe log sink tests can search.
type SyncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// FastArgon keeps password hashing cheap in tests; production parameters
// are covered by the auth package's own tests.
var FastArgon = auth.Params{Memory: 64, Time: 1, Threads: 1}

// Start runs the app until the test ends.
func Start(t testing.TB, opts ...Option) *Running {
	t.Helper()
	s := settings{env: map[string]string{}, refusalDelay: time.Millisecond}
	for _, o := range opts {
		o(&s)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	base := "http://" + ln.Addr().String()
	if s.localhost {
		base = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	env := map[string]string{
		"ADDR":                 ln.Addr().String(),
		"DB_PATH":              filepath.Join(t.TempDir(), "refunddesk.db"),
		"BASE_URL":             base,
		"SANDBOX_SETTLE_DELAY": "200ms",
		"LOG_LEVEL":            "debug",
	}
	for k, v := range s.env {
		env[k] = v
	}
	logs := &SyncBuffer{}
	cfg, err := app.ParseConfig("test", nil, func(k string) string { return env[k] }, logs)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o := app.Options{Argon: &FastArgon, RefusalDelay: s.refusalDelay}
	if s.clock != nil {
		o.Now = s.clock.Now
	}
	a, err := app.Open(ctx, cfg, app.NewLogger(logs, cfg.Level()), o)
	if err != nil {
		t.Fatalf("open app: %v", err)
	}
	if err := a.StartNeoX(s.refunds); err != nil {
		t.Fatalf("start NeoX: %v", err)
	}
	h, password, err := a.Prepare(ctx)
	if err != nil {
		t.Fatalf("prepare app: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ln, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
		if t.Failed() {
			t.Logf("server log:\n%s", tail(logs.String(), 6000))
		}
	})
	return &Running{URL: base, App: a, AdminPassword: password, Clock: s.clock, Logs: logs}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// CreateUser adds an active user (no forced password change).
func (r *Running) CreateUser(t testing.TB, username string, role auth.Role, password string) auth.User {
	t.Helper()
	u, err := r.App.Auth.CreateUser(context.Background(), username, strings.ToUpper(username[:1])+username[1:], role, password, false)
	if err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return u
}

// Client is an HTTP client with its own cookie jar that does not follow
// redirects, so tests can assert on them.
func (r *Running) Client(t testing.TB) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:     jar,
		Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// Login signs c in as username and fails the test otherwise.
func (r *Running) Login(t testing.TB, c *http.Client, username, password string) {
	t.Helper()
	resp := r.PostForm(t, c, "/login", url.Values{"username": {username}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: status %d, want 303", username, resp.StatusCode)
	}
}

// PostForm posts a same-origin form (with the Origin header a browser sends).
// With a BASE_URL other than the listener's (TLS ending at a proxy), it
// comes as the proxy forwards it: the public origin and Host.
func (r *Running) PostForm(t testing.TB, c *http.Client, path string, v url.Values) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, r.URL+path, strings.NewReader(v.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	origin := r.URL
	if base := r.App.Cfg.BaseURL; base != "" && base != r.URL {
		if u, err := url.Parse(base); err == nil {
			origin, req.Host = u.Scheme+"://"+u.Host, u.Host
		}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return Do(t, c, req)
}

// Get fetches path.
func (r *Running) Get(t testing.TB, c *http.Client, path string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, r.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, c, req)
}

// Do sends req and reads the whole body into the response (Body is
// replaced by a re-readable copy, and the text is kept for assertions).
func Do(t testing.TB, c *http.Client, req *http.Request) *http.Response {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

// Body returns a response's body as a string.
func Body(t testing.TB, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return string(b)
}

func lookupChromium() string {
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := execLookPath(name); err == nil {
			return p
		}
	}
	return ""
}
