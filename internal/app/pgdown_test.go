package app_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// TestServePostgresGoesAway serves the desk on PostgreSQL through a proxy
// the test can cut, as a restart or failover of the database would: while
// it is away, a signed-in person's pages fail fast with a page that says
// the database is not answering (not a sign-in page, not "something went
// wrong"); once it is back, the same session works again.
func TestServePostgresGoesAway(t *testing.T) {
	pg := newCuttableProxy(t, storetest.URL(t, storetest.Postgres)) // skips without TEST_DATABASE_URL
	r := apptest.Start(t, apptest.WithEnv("DATABASE_URL", pg.url))
	r.CreateUser(t, "staff", auth.RoleStaff, "staff passphrase here")
	c := r.Client(t)
	r.Login(t, c, "staff", "staff passphrase here")
	if resp := r.Get(t, c, "/refunds"); resp.StatusCode != http.StatusOK {
		t.Fatalf("before the cut: %d", resp.StatusCode)
	}

	pg.cut()
	start := time.Now()
	resp := r.Get(t, c, "/refunds")
	body := apptest.Body(t, resp)
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("a page took %s while the database was away: it must fail fast", took)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "The database is not answering") ||
		!strings.Contains(body, "Nothing was changed") {
		t.Fatalf("while the database is away: %d\n%s", resp.StatusCode, body)
	}
	if strings.Contains(body, "postgres://") || strings.Contains(body, pg.addr) {
		t.Errorf("the page names the database: %s", body)
	}

	pg.restore()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp := r.Get(t, c, "/refunds")
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the database came back: %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// cuttableProxy forwards TCP connections to a PostgreSQL server until cut:
// then it drops every open connection and every new one, as a server that
// restarts does, until restored.
type cuttableProxy struct {
	url, addr string
	target    func() (net.Conn, error)

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]bool
}

func newCuttableProxy(t *testing.T, dsn string) *cuttableProxy {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	network, address := "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if strings.HasPrefix(cfg.Host, "/") {
		network, address = "unix", fmt.Sprintf("%s/.s.PGSQL.%d", cfg.Host, cfg.Port)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	q := u.Query()
	q.Set("host", host)
	q.Set("port", port)
	u.Host, u.RawQuery = "", q.Encode()
	p := &cuttableProxy{url: u.String(), addr: ln.Addr().String(), conns: map[net.Conn]bool{},
		target: func() (net.Conn, error) { return net.DialTimeout(network, address, 5*time.Second) }}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(in)
		}
	}()
	return p
}

func (p *cuttableProxy) serve(in net.Conn) {
	if !p.track(in) {
		in.Close()
		return
	}
	out, err := p.target()
	if err != nil || !p.track(out) {
		in.Close()
		if out != nil {
			out.Close()
		}
		return
	}
	go func() { io.Copy(out, in); out.Close() }()
	io.Copy(in, out)
	in.Close()
}

// track registers c unless the proxy is cut.
func (p *cuttableProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *cuttableProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *cuttableProxy) restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}
