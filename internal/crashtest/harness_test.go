package crashtest

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

const password = "crash test passphrase"

// cluster is a sandbox in this process and the server in a child process
// that can be killed and restarted on the same port and database.
type cluster struct {
	t     *testing.T
	sb    *sandbox.Sandbox
	env   []string
	base  string
	db    string // the SQLite file, or the PostgreSQL URL when pg
	pg    bool
	pgDB  *store.DB // the test's own connection to PostgreSQL, opened on first use
	cmd   *exec.Cmd
	logs  *os.File
	runs  int
	users map[string]*http.Client
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	// STORE_TEST_DIALECT=postgres runs the cluster on a fresh PostgreSQL
	// schema (storetest), the server told by DATABASE_URL.
	return newClusterOn(t, storetest.URL(t, ""))
}

// newClusterOn is newCluster on the database dsn (a SQLite file or a
// postgres:// URL).
func newClusterOn(t *testing.T, dsn string) *cluster {
	t.Helper()
	sb := sandbox.New(sandbox.Config{MerchantCode: "CRASH1", PGSecretKey: "pg-crash-secret",
		ClientID: "gc-crash", ClientSecret: "gc-crash-secret", COLClientID: "col-crash", COLClientSecret: "col-crash-secret",
		GCWebhookSecret: "gc-crash-hook", COLWebhookSecret: "col-crash-hook",
		SettleDelay: 100 * time.Millisecond, WebhookRetryBase: 50 * time.Millisecond, Seed: true})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	c := &cluster{t: t, sb: sb, base: "http://" + addr, db: dsn, pg: store.IsPostgresURL(dsn), users: map[string]*http.Client{}}
	dbEnv := "DB_PATH=" + c.db
	if c.pg {
		dbEnv = "DATABASE_URL=" + c.db
	}
	c.env = append(os.Environ(), childEnv+"=1",
		"ADDR="+addr, "BASE_URL="+c.base, dbEnv, "LOG_LEVEL=debug", "NEOX_MODE=live",
		"NEOX_PG_URL="+sb.URL(), "NEOX_PG_MERCHANT_CODE=CRASH1", "NEOX_PG_SECRET_KEY=pg-crash-secret",
		"NEOX_OPENAPI_URL="+sb.URL(),
		"NEOX_GC_CLIENT_ID=gc-crash", "NEOX_GC_CLIENT_SECRET=gc-crash-secret", "NEOX_GC_WEBHOOK_SECRET=gc-crash-hook",
		"NEOX_COL_CLIENT_ID=col-crash", "NEOX_COL_CLIENT_SECRET=col-crash-secret", "NEOX_COL_WEBHOOK_SECRET=col-crash-hook",
		"NEOX_TIMEOUT=3s")
	sb.SetWebhookURLs(c.base+"/webhooks/neox/pg", c.base+"/webhooks/neox/gc", c.base+"/webhooks/neox/col")
	if c.logs, err = os.Create(filepath.Join(dir, "server.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c.stop(syscall.SIGTERM)
		if t.Failed() {
			b, _ := os.ReadFile(c.logs.Name())
			if len(b) > 8000 {
				b = b[len(b)-8000:]
			}
			t.Logf("server log (tail):\n%s", b)
		}
		c.logs.Close()
	})
	c.seedUsers()
	return c
}

// setEnv sets server environment variables (KEY=value) for the next
// starts, replacing earlier values of the same keys.
func (c *cluster) setEnv(kvs ...string) {
	for _, kv := range kvs {
		key, _, _ := strings.Cut(kv, "=")
		c.env = slices.DeleteFunc(c.env, func(e string) bool { return strings.HasPrefix(e, key+"=") })
		c.env = append(c.env, kv)
	}
}

// seedUsers creates the staff and manager accounts before the first start.
func (c *cluster) seedUsers() {
	ctx := context.Background()
	cfg, err := app.ParseConfig("seed", nil, func(k string) string {
		if k == "DB_PATH" && !c.pg || k == "DATABASE_URL" && c.pg {
			return c.db
		}
		return ""
	}, io.Discard)
	if err != nil {
		c.t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, app.NewLogger(io.Discard, cfg.Level()), app.Options{Argon: &auth.Params{Memory: 64, Time: 1, Threads: 1}})
	if err != nil {
		c.t.Fatal(err)
	}
	defer a.Close()
	for name, role := range map[string]auth.Role{"staff": auth.RoleStaff, "manager": auth.RoleManager} {
		if _, err := a.Auth.CreateUser(ctx, name, "", role, password, false); err != nil {
			c.t.Fatal(err)
		}
	}
}

// start runs the server and waits until it answers /readyz.
func (c *cluster) start() {
	c.t.Helper()
	c.runs++
	fmt.Fprintf(c.logs, "\n=== start %d\n", c.runs)
	c.cmd = exec.Command(os.Args[0], "-test.run=^$")
	c.cmd.Env = c.env
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(c.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("server did not become ready")
}

// stop ends the server with sig (SIGKILL: no cleanup at all).
func (c *cluster) stop(sig syscall.Signal) {
	if c.cmd == nil || c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(sig)
	_ = c.cmd.Wait()
	c.cmd = nil
}

// client returns a signed-in HTTP client for user (logging in again after
// a restart is not needed: sessions live in the database).
func (c *cluster) client(user string) *http.Client {
	c.t.Helper()
	if hc, ok := c.users[user]; ok {
		return hc
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp := c.post(hc, "/login", url.Values{"username": {user}, "password": {password}})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d", user, resp.StatusCode)
	}
	c.users[user] = hc
	return hc
}

func (c *cluster) post(hc *http.Client, path string, v url.Values) *http.Response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	resp, err := hc.Do(req)
	if err != nil {
		c.t.Fatalf("POST %s: %v", path, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// get fetches a page as user and returns its body.
func (c *cluster) get(user, path string) string {
	c.t.Helper()
	resp, err := c.client(user).Get(c.base + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s as %s: %d, %v", path, user, resp.StatusCode, err)
	}
	return string(b)
}

var refundPath = regexp.MustCompile(`^/refunds/([0-9a-f-]{36})`)

// request asks for a PG refund as staff and returns its id.
func (c *cluster) request(txn, payment string, amount int64, token string) string {
	c.t.Helper()
	resp := c.post(c.client("staff"), "/refunds", url.Values{"api": {"PG"}, "ref": {txn}, "payment": {payment},
		"amount": {fmt.Sprint(amount)}, "reason_code": {"customer_request"}, "reason_text": {"crash test"}, "token": {token}})
	m := refundPath.FindStringSubmatch(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || m == nil {
		c.t.Fatalf("request refund: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return m[1]
}

func (c *cluster) approve(id string) {
	c.t.Helper()
	resp := c.post(c.client("manager"), "/refunds/"+id+"/approve", url.Values{})
	if resp.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("approve %s: %d", id, resp.StatusCode)
	}
}

// row reads a refund's states straight from the database file.
func (c *cluster) row(id string) (approval, submission string, attempts int) {
	c.t.Helper()
	db := c.readDB()
	if !c.pg {
		defer db.Close()
	}
	if err := db.QueryRow(`SELECT approval, submission, attempts FROM refunds WHERE id = ?`, id).Scan(&approval, &submission, &attempts); err != nil {
		c.t.Fatalf("read refund %s: %v", id, err)
	}
	return
}

// waitFinal waits until every refund is SUCCEEDED or FAILED.
func (c *cluster) waitFinal(ids []string, within time.Duration) {
	c.t.Helper()
	c.waitEach(ids, within, "final", func(sub string, _ int) bool { return sub == "SUCCEEDED" || sub == "FAILED" })
}

// waitEach waits until ok holds for every refund's submission state and
// attempt count, read from the database file; what names the wait.
func (c *cluster) waitEach(ids []string, within time.Duration, what string, ok func(sub string, attempts int) bool) {
	c.t.Helper()
	deadline := time.Now().Add(within)
	for _, id := range ids {
		for {
			_, sub, attempts := c.row(id)
			if ok(sub, attempts) {
				break
			}
			if time.Now().After(deadline) {
				c.t.Fatalf("refund %s still %s after %d attempts and %s, want %s", id, sub, attempts, within, what)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

// readDB is a read connection to the cluster's database: a fresh
// read-only one on the SQLite file (the caller closes it), or the test's
// pool on PostgreSQL (kept until the test ends).
func (c *cluster) readDB() *sql.DB {
	c.t.Helper()
	if !c.pg {
		db, err := sql.Open("sqlite", "file:"+c.db+"?_pragma=busy_timeout(5000)&mode=ro")
		if err != nil {
			c.t.Fatal(err)
		}
		return db
	}
	if c.pgDB == nil {
		db, err := store.OpenPostgres(context.Background(), c.db, store.PoolConfig{MaxConns: 2})
		if err != nil {
			c.t.Fatal(err)
		}
		c.pgDB = db
		c.t.Cleanup(func() { db.Close() })
	}
	return c.pgDB.Read
}

// verifyAudit checks the hash chain of the database left by the kills.
func (c *cluster) verifyAudit() {
	c.t.Helper()
	db, err := store.OpenURL(context.Background(), c.db, store.PoolConfig{MaxConns: 2})
	if err != nil {
		c.t.Fatal(err)
	}
	defer db.Close()
	st, err := audit.New(db, nil).Verify(context.Background(), audit.Anchor{})
	if err != nil {
		c.t.Fatal(err)
	}
	if !st.OK {
		c.t.Fatalf("audit chain broken after crashes: %s", st)
	}
}

// auditCount counts audit events matching a WHERE clause.
func (c *cluster) auditCount(where string, args ...any) int {
	c.t.Helper()
	db := c.readDB()
	if !c.pg {
		defer db.Close()
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM audit_events WHERE `+where, args...).Scan(&n); err != nil {
		c.t.Fatal(err)
	}
	return n
}

// second starts another server on the cluster's database (PostgreSQL
// only: SQLite allows one) on a port of its own, stopped when the test
// ends; its sessions are its own clients'.
func (c *cluster) second() *cluster {
	c.t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		c.t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := &cluster{t: c.t, sb: c.sb, base: "http://" + addr, db: c.db, pg: c.pg, users: map[string]*http.Client{}}
	for _, kv := range c.env {
		switch {
		case strings.HasPrefix(kv, "ADDR="):
			kv = "ADDR=" + addr
		case strings.HasPrefix(kv, "BASE_URL="):
			kv = "BASE_URL=" + s.base
		}
		s.env = append(s.env, kv)
	}
	if s.logs, err = os.Create(filepath.Join(c.t.TempDir(), "server2.log")); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() {
		s.stop(syscall.SIGTERM)
		if c.t.Failed() {
			b, _ := os.ReadFile(s.logs.Name())
			if len(b) > 4000 {
				b = b[len(b)-4000:]
			}
			c.t.Logf("second server log (tail):\n%s", b)
		}
		s.logs.Close()
	})
	s.start()
	return s
}
