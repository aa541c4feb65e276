package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// preparedApp opens an app in sandbox mode on a fresh database with env
// added to the configuration, and prepares its handler; it is closed when
// the test ends.
func preparedApp(t *testing.T, env map[string]string, housekeep time.Duration) (*App, http.Handler) {
	t.Helper()
	env["DB_PATH"], env["NEOX_MODE"] = filepath.Join(t.TempDir(), "app.db"), "sandbox"
	cfg, err := ParseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Open(context.Background(), cfg, NewLogger(io.Discard, cfg.Level()), Options{
		Argon: &auth.Params{Memory: 64, Time: 1, Threads: 1}, HousekeepEvery: housekeep})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	h, _, err := a.Prepare(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return a, h
}

// A running server deletes sessions past their timeouts, and stops cleanly.
func TestServePrunesExpiredSessions(t *testing.T) {
	ctx := context.Background()
	a, h := preparedApp(t, map[string]string{"SANDBOX_SETTLE_DELAY": "10ms"}, 20*time.Millisecond)
	old := store.FormatTime(time.Now().Add(-13 * time.Hour))
	fresh := store.FormatTime(time.Now())
	for id, at := range map[string]string{"expired": old, "live": fresh} {
		if _, err := a.DB.Write.Exec(`INSERT INTO sessions (id, created_at, last_seen_at) VALUES (?, ?, ?)`, id, at, at); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Serve(runCtx, ln, h) }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		if err := a.DB.Read.QueryRow(`SELECT count(*) FROM sessions WHERE id = 'expired'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("expired session was not pruned")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var live int
	a.DB.Read.QueryRow(`SELECT count(*) FROM sessions WHERE id = 'live'`).Scan(&live)
	if live != 1 {
		t.Error("a live session was pruned")
	}
	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
}

// NEOX_CONCURRENCY reaches the refund worker; an explicit option wins.
func TestNeoXConcurrencyReachesTheWorker(t *testing.T) {
	for _, tc := range []struct {
		env, opt, want int
	}{{5, 0, 5}, {5, 3, 3}} {
		env := map[string]string{"DB_PATH": filepath.Join(t.TempDir(), "app.db"), "NEOX_CONCURRENCY": strconv.Itoa(tc.env)}
		cfg, err := ParseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Open(context.Background(), cfg, NewLogger(io.Discard, cfg.Level()), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.StartNeoX(refunds.Options{Workers: tc.opt}); err != nil {
			t.Fatal(err)
		}
		if got := a.Refunds.Concurrency(); got != tc.want {
			t.Errorf("NEOX_CONCURRENCY=%d, option %d: worker sends %d at once, want %d", tc.env, tc.opt, got, tc.want)
		}
		a.Close()
	}
}

// TestHTTPSBaseURL: behind a TLS proxy (BASE_URL https://…) pages send
// HSTS, the session cookie is __Host- prefixed and Secure, and a form
// posted from the plain-http origin of the same host is refused, while
// the https origin signs in.
func TestHTTPSBaseURL(t *testing.T) {
	ctx := context.Background()
	a, h := preparedApp(t, map[string]string{"BASE_URL": "https://desk.example"}, 0)
	if _, err := a.Auth.CreateUser(ctx, "lan", "", auth.RoleStaff, "correct horse battery staple", false); err != nil {
		t.Fatal(err)
	}
	login := func(origin string) *http.Response {
		t.Helper()
		form := url.Values{"username": {"lan"}, "password": {"correct horse battery staple"}}
		req := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
		req.Host = "desk.example" // as the proxy forwards it
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	if res := login("http://desk.example"); res.StatusCode != http.StatusForbidden || len(res.Cookies()) != 0 {
		t.Fatalf("plain-http origin: %d, cookies %v", res.StatusCode, res.Cookies())
	}
	res := login("https://desk.example")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("https origin: %d", res.StatusCode)
	}
	if got := res.Header.Get("Strict-Transport-Security"); !strings.Contains(got, "max-age=63072000") {
		t.Errorf("HSTS = %q", got)
	}
	var session *http.Cookie
	for _, c := range res.Cookies() {
		if strings.HasSuffix(c.Name, auth.DefaultCookieName) {
			session = c
		}
	}
	if session == nil || session.Name != "__Host-"+auth.DefaultCookieName || !session.Secure || session.Path != "/" || session.Domain != "" {
		t.Fatalf("session cookie = %+v", session)
	}
}
