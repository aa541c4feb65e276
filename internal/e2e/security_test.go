package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// sessionCookie returns the Set-Cookie line of the session cookie in resp.
func sessionSetCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if (c.Name == auth.DefaultCookieName || c.Name == "__Host-"+auth.DefaultCookieName) && c.Value != "" && c.MaxAge >= 0 {
			return c
		}
	}
	t.Fatalf("no session cookie set; Set-Cookie: %q", resp.Header.Values("Set-Cookie"))
	return nil
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, base string
		secure     bool
	}{{"http base URL", "", false}, {"https base URL", "https://refunds.example.com", true}} {
		t.Run(tc.name, func(t *testing.T) {
			var opts []apptest.Option
			if tc.base != "" {
				// The server still listens on plain HTTP (TLS ends at a proxy);
				// only the Set-Cookie header is inspected.
				opts = append(opts, apptest.WithEnv("BASE_URL", tc.base))
			}
			app := apptest.Start(t, opts...)
			app.CreateUser(t, "cookie", auth.RoleStaff, pass)
			c := app.Client(t)
			resp := app.PostForm(t, c, "/login", url.Values{"username": {"cookie"}, "password": {pass}})
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			ck := sessionSetCookie(t, resp)
			if !ck.HttpOnly {
				t.Error("session cookie is not HttpOnly")
			}
			if ck.SameSite != http.SameSiteLaxMode {
				t.Errorf("SameSite %v, want Lax", ck.SameSite)
			}
			if ck.Secure != tc.secure {
				t.Errorf("Secure %v, want %v", ck.Secure, tc.secure)
			}
			if ck.Path != "/" {
				t.Errorf("Path %q, want /", ck.Path)
			}
			if wantName := map[bool]string{false: auth.DefaultCookieName, true: "__Host-" + auth.DefaultCookieName}[tc.secure]; ck.Name != wantName {
				t.Errorf("cookie name %q, want %q", ck.Name, wantName)
			}
			if len(ck.Value) < 32 {
				t.Errorf("session token %q looks short", ck.Value)
			}
			// A second login gets a new id: no session fixation.
			c2 := app.Client(t)
			resp2 := app.PostForm(t, c2, "/login", url.Values{"username": {"cookie"}, "password": {pass}})
			if ck2 := sessionSetCookie(t, resp2); ck2.Value == ck.Value {
				t.Error("two logins got the same session token")
			}
		})
	}
}

// policyActions names the policy actions the route table may gate by.
var policyActions = map[string]policy.Action{
	"RefundWork": policy.RefundWork, "Request": policy.Request, "ViewAll": policy.ViewAll,
	"ViewApprovals": policy.ViewApprovals, "ViewAttention": policy.ViewAttention, "ViewAudit": policy.ViewAudit,
	"Export": policy.Export, "ManageUsers": policy.ManageUsers, "View": policy.View, "Cancel": policy.Cancel,
	"Approve": policy.Approve, "Reject": policy.Reject, "Resolve": policy.Resolve,
	"ManageApprovalPolicy": policy.ManageApprovalPolicy, "ManageAPIKeys": policy.ManageAPIKeys,
	"ManageWebhooks": policy.ManageWebhooks, "ViewDeliveries": policy.ViewDeliveries, "BulkRequest": policy.BulkRequest,
}

// stateChangingRoutes reads the route table itself, so a new POST route
// is covered by the cross-origin test the moment it is added.
func stateChangingRoutes(t *testing.T) []struct{ method, path, access string } {
	t.Helper()
	src, err := os.ReadFile("../handlers/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	// access is public, signedIn, webhook, or a gated route's policy
	// action, which becomes the first role the policy permits it.
	re := regexp.MustCompile(`\{"(POST|PUT|PATCH|DELETE) ([^"]+)", (\w+|may\(policy\.\w+\)),`)
	var out []struct{ method, path, access string }
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		access := m[3]
		if name, ok := strings.CutPrefix(access, "may(policy."); ok {
			action, ok := policyActions[strings.TrimSuffix(name, ")")]
			if !ok {
				t.Fatalf("routes.go: %s %s: add policy.%s to policyActions", m[1], m[2], strings.TrimSuffix(name, ")"))
			}
			access = ""
			for _, r := range policy.Roles() {
				if (policy.Policy{}).Permits(policy.Actor{Role: r}, action) {
					access = string(r)
					break
				}
			}
			if access == "" {
				t.Fatalf("routes.go: %s %s: no role may %s", m[1], m[2], action)
			}
		}
		out = append(out, struct{ method, path, access string }{m[1], m[2], access})
	}
	if len(out) < 10 {
		t.Fatalf("found only %d state-changing routes in routes.go: has its format changed?", len(out))
	}
	return out
}

func TestCrossOriginRequestsRefused(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t)
	app.CreateUser(t, "cstaff", auth.RoleStaff, pass)
	app.CreateUser(t, "cmanager", auth.RoleManager, pass)
	app.CreateUser(t, "cadmin", auth.RoleAdmin, pass)
	target := app.CreateUser(t, "ctarget", auth.RoleStaff, pass)
	clients := map[string]*http.Client{"public": app.Client(t)}
	for access, name := range map[string]string{"signedIn": "cstaff", "staff": "cstaff", "manager": "cmanager", "admin": "cadmin"} {
		clients[access] = app.Client(t)
		app.Login(t, clients[access], name, pass)
	}
	refundID := createRefund(t, app, clients["staff"], url.Values{})
	for _, rt := range stateChangingRoutes(t) {
		if rt.access == "webhook" {
			continue // no cookies, no CSRF: verified by signature (see TestWebhookSignatures in handlers)
		}
		path := strings.ReplaceAll(rt.path, "{id}", refundID)
		if strings.HasPrefix(rt.path, "/users/") {
			path = strings.ReplaceAll(rt.path, "{id}", strconv.FormatInt(target.ID, 10))
		}
		c := clients[rt.access]
		for _, h := range []map[string]string{
			{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
			{"Origin": "http://evil.example.com", "Sec-Fetch-Site": "same-site"},
			{"Origin": "https://evil.example"}, // older browsers: Origin only
		} {
			t.Run(rt.method+" "+rt.path+" "+h["Sec-Fetch-Site"], func(t *testing.T) {
				before := snap(t, app)
				form := url.Values{"note": {"csrf"}, "role": {"admin"}, "id": {refundID}, "username": {"csrfuser"},
					"current": {pass}, "new": {"csrf chosen passphrase"}, "confirm": {"csrf chosen passphrase"}}
				req, _ := http.NewRequest(rt.method, app.URL+path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				for k, v := range h {
					req.Header.Set(k, v)
				}
				resp := apptest.Do(t, c, req)
				if resp.StatusCode != http.StatusForbidden {
					t.Errorf("status %d, want 403", resp.StatusCode)
				}
				after := snap(t, app)
				for _, tbl := range countedTables {
					if after.counts[tbl] != before.counts[tbl] {
						t.Errorf("%s rows %d → %d", tbl, before.counts[tbl], after.counts[tbl])
					}
				}
				// The refusal itself is recorded (access.denied, through
				// the refusal limiter, so at most one row); nothing else.
				if got := newAuditActions(t, app, before.seq); len(got) > 1 || (len(got) == 1 && got[0] != "access.denied") {
					t.Errorf("refused request was acted on: audit %v", got)
				}
			})
		}
	}
	// The session still works: nothing above signed anyone out.
	if resp := app.Get(t, clients["manager"], "/approvals"); resp.StatusCode != http.StatusOK {
		t.Errorf("manager session after the cross-origin attempts: %d", resp.StatusCode)
	}
}

var inlineHandler = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)

// TestCSPNoViolations opens every kind of page in Chromium as each role
// and requires a console free of CSP violations and script errors; it
// also checks the policy header and that no page carries inline script.
func TestCSPNoViolations(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t)
	app.CreateUser(t, "pstaff", auth.RoleStaff, pass)
	app.CreateUser(t, "pmanager", auth.RoleManager, pass)
	app.CreateUser(t, "padmin", auth.RoleAdmin, pass)
	hc := app.Client(t)
	app.Login(t, hc, "pstaff", pass)
	refundID := createRefund(t, app, hc, url.Values{})
	pages := map[string][]string{
		"pstaff": {"/", "/account", "/transactions", "/transactions?api=PG&ref=240901101500HCMCAF",
			"/refunds/new?api=PG&ref=240901101500HCMCAF&payment=1440001", "/refunds", "/refunds/" + refundID,
			"/approvals" /* 403 page */, "/no-such-page"},
		"pmanager": {"/", "/approvals", "/refunds?status=PENDING", "/refunds/" + refundID, "/audit", "/audit?actor=pstaff",
			"/audit/events/1", "/transactions?api=GC&ref=CO-20240501-000123456"},
		"padmin": {"/", "/users", "/account", "/refunds" /* 403 page */},
	}
	// Anonymous: the login page, with an error.
	anon := apptest.NewBrowser(t)
	anon.Run(t, chromedp.Navigate(app.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`[data-testid=login-form]`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "nobody"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "wrong password, clearly"),
		chromedp.Click(chromedp.CSS(`[data-testid=login-submit]`)))
	time.Sleep(300 * time.Millisecond)
	anon.WaitFor(t, `[data-testid=login-form]`)
	for _, m := range anon.Problems() {
		t.Errorf("login page console: %s", m)
	}
	for _, user := range []string{"pstaff", "pmanager", "padmin"} {
		paths := pages[user]
		b := anon // the anonymous browser signs in as staff: one Chromium fewer
		if user != "pstaff" {
			b = apptest.NewBrowser(t)
		}
		b.Login(t, app.URL, user, pass)
		hc := app.Client(t)
		app.Login(t, hc, user, pass)
		for _, p := range paths {
			b.Run(t, chromedp.Navigate(app.URL+p), chromedp.WaitReady(chromedp.CSS(`body`)))
			resp := app.Get(t, hc, p)
			csp := resp.Header.Get("Content-Security-Policy")
			for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
				if !strings.Contains(csp, want) {
					t.Errorf("%s %s: CSP %q lacks %q", user, p, csp, want)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
				t.Errorf("%s %s: CSP allows unsafe sources: %q", user, p, csp)
			}
			body := apptest.Body(t, resp)
			for _, tag := range regexp.MustCompile(`(?is)<script[^>]*>`).FindAllString(body, -1) {
				if !strings.Contains(tag, "src=") {
					t.Errorf("%s %s: inline script %q", user, p, tag)
				}
			}
			if m := inlineHandler.FindString(body); m != "" {
				t.Errorf("%s %s: inline event handler %q", user, p, m)
			}
		}
		// Let htmx polling and late resources report before reading the console.
		time.Sleep(300 * time.Millisecond)
		for _, m := range b.Problems() {
			t.Errorf("%s: browser console: %s", user, m)
		}
	}
}

// TestBruteForceThrottling measures how many passwords an attacker can try
// in an hour and in a day, on the app's own clock (advanced by Retry-After
// whenever it is refused), against one account from one address, against
// one account from 20 addresses, and against 20 accounts from one address.
func TestBruteForceThrottling(t *testing.T) {
	t.Parallel()
	clock := apptest.NewClock(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	app := apptest.Start(t, apptest.WithClock(clock))
	for i := range 22 {
		app.CreateUser(t, fmt.Sprintf("victim%02d", i), auth.RoleStaff, pass)
	}
	clientFrom := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	attack := func(name string, window time.Duration, user func(i int) string, from func(i int) *http.Client) (tried, refused int) {
		start := clock.Now()
		for i := 0; clock.Now().Sub(start) < window; i++ {
			req, _ := http.NewRequest(http.MethodPost, app.URL+"/login",
				strings.NewReader(url.Values{"username": {user(i)}, "password": {fmt.Sprintf("guess number %d", i)}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp := apptest.Do(t, from(i), req)
			switch resp.StatusCode {
			case http.StatusUnauthorized:
				tried++
			case http.StatusTooManyRequests:
				refused++
				wait, err := strconv.Atoi(resp.Header.Get("Retry-After"))
				if err != nil || wait <= 0 {
					t.Fatalf("%s: 429 without a usable Retry-After: %q", name, resp.Header.Get("Retry-After"))
				}
				clock.Advance(time.Duration(wait) * time.Second)
			default:
				t.Fatalf("%s: status %d", name, resp.StatusCode)
			}
			if i > 100_000 {
				t.Fatalf("%s: no throttling after %d attempts", name, i)
			}
		}
		return tried, refused
	}
	one := clientFrom("127.0.0.1")
	var many []*http.Client
	for i := range 20 {
		many = append(many, clientFrom(fmt.Sprintf("127.0.10.%d", 2+i)))
	}
	victim := func(string) func(int) string { return func(int) string { return "victim00" } }
	cases := []struct {
		name   string
		user   func(int) string
		from   func(int) *http.Client
		maxDay int // what the policy allows, with slack; fails if throttling weakens
	}{
		{"one account, one address", victim(""), func(int) *http.Client { return one }, 120},
		// The account's budget of untrusted guesses: 5, then one per 12 min.
		{"one account, 20 addresses", func(int) string { return "victim01" }, func(i int) *http.Client { return many[i%20] }, 125},
		{"20 accounts, one address", func(i int) string { return fmt.Sprintf("victim%02d", 2+i%20) }, func(int) *http.Client { return clientFrom("127.0.20.2") }, 200},
	}
	for _, tc := range cases {
		hour, _ := attack(tc.name, time.Hour, tc.user, tc.from)
		rest, _ := attack(tc.name, 23*time.Hour, tc.user, tc.from)
		t.Logf("brute force, %s: %d guesses in the first hour, %d in 24 hours", tc.name, hour, hour+rest)
		if hour+rest > tc.maxDay {
			t.Errorf("%s: %d guesses in a day, want at most %d", tc.name, hour+rest, tc.maxDay)
		}
		clock.Advance(48 * time.Hour) // counters forget after 24h without failures
	}
	// The real user still gets in once the lock has passed.
	clock.Advance(time.Hour)
	app.Login(t, app.Client(t), "victim00", pass)
}

// TestSecretsNeverShown runs the app in live mode against a NeoX sandbox
// with known credentials, goes through sign-in, lookups, refunds of all
// three products, approvals, webhooks and audit review, then searches the
// server log, every audit row, every stored webhook body and every page
// and export fetched for each configured secret.
func TestSecretsNeverShown(t *testing.T) {
	t.Parallel()
	secrets := map[string]string{
		"NEOX_PG_SECRET_KEY":      "pgsecret-7f3a9c1e5b2d4f6a8c0e",
		"NEOX_GC_CLIENT_SECRET":   "gcclientsecret-93be1d7a5c",
		"NEOX_GC_WEBHOOK_SECRET":  "gchooksecret-4e8f2a6c0b",
		"NEOX_COL_CLIENT_SECRET":  "colclientsecret-1a2b3c4d5e",
		"NEOX_COL_WEBHOOK_SECRET": "colhooksecret-6f7e8d9c0b",
		"WEBHOOK_BASIC_PASS":      "basicpass-0c9d8e7f6a",
		"SESSION_KEY":             "5e55104b0e4a3c2d1f0e9d8c7b6a59483726150f1e2d3c4b5a69788796a5b4c3",
	}
	sb := sandbox.New(sandbox.Config{MerchantCode: "SECR01", PGSecretKey: secrets["NEOX_PG_SECRET_KEY"],
		ClientID: "gc-client", ClientSecret: secrets["NEOX_GC_CLIENT_SECRET"],
		COLClientID: "col-client", COLClientSecret: secrets["NEOX_COL_CLIENT_SECRET"],
		GCWebhookSecret: secrets["NEOX_GC_WEBHOOK_SECRET"], COLWebhookSecret: secrets["NEOX_COL_WEBHOOK_SECRET"],
		WebhookBasicUser: "neox", WebhookBasicPass: secrets["WEBHOOK_BASIC_PASS"],
		SettleDelay: 50 * time.Millisecond, Seed: true})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	opts := []apptest.Option{apptest.WithEnv("NEOX_MODE", "live"), apptest.WithEnv("NEOX_PG_URL", sb.URL()),
		apptest.WithEnv("NEOX_PG_MERCHANT_CODE", "SECR01"), apptest.WithEnv("NEOX_OPENAPI_URL", sb.URL()),
		apptest.WithEnv("NEOX_GC_CLIENT_ID", "gc-client"), apptest.WithEnv("NEOX_COL_CLIENT_ID", "col-client"),
		apptest.WithEnv("WEBHOOK_BASIC_USER", "neox"), apptest.WithEnv("LOG_LEVEL", "debug")}
	for k, v := range secrets {
		opts = append(opts, apptest.WithEnv(k, v))
	}
	app := apptest.Start(t, opts...)
	sb.SetWebhookURLs(app.URL+"/webhooks/neox/pg", app.URL+"/webhooks/neox/gc", app.URL+"/webhooks/neox/col")
	app.CreateUser(t, "sstaff", auth.RoleStaff, pass)
	app.CreateUser(t, "smanager", auth.RoleManager, pass)
	staff, mgr := app.Client(t), app.Client(t)
	app.Login(t, staff, "sstaff", pass)
	app.Login(t, mgr, "smanager", pass)

	var pages strings.Builder
	fetch := func(c *http.Client, path string) {
		resp := app.Get(t, c, path)
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
		pages.WriteString(apptest.Body(t, resp))
		for k, vs := range resp.Header {
			pages.WriteString(k + ": " + strings.Join(vs, " ") + "\n")
		}
	}
	requests := []url.Values{
		{"api": {"PG"}, "ref": {"240901101500HCMCAF"}, "payment": {"1440001"}, "amount": {"1000"}},
		{"api": {"GC"}, "ref": {"CO-20240502-000200001"}, "fee_charge_way": {"OUR"}},
		{"api": {"COL"}, "ref": {"FT24325HNI002"}, "amount": {"50000"}},
	}
	var ids []string
	for _, v := range requests {
		fetch(staff, "/transactions?api="+v.Get("api")+"&ref="+v.Get("ref"))
		v.Set("reason_code", "customer_request")
		v.Set("reason_text", "secrets test")
		id := createRefund(t, app, staff, v)
		ids = append(ids, id)
		if resp := app.PostForm(t, mgr, "/refunds/"+id+"/approve", url.Values{}); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("approve %s: %d", v.Get("api"), resp.StatusCode)
		}
	}
	// Wait for every refund to be final (webhooks with Basic Auth and signatures arrived).
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for {
			var final string
			if err := app.App.DB.Read.QueryRow(`SELECT final_at FROM refunds WHERE id = ?`, id).Scan(&final); err != nil {
				t.Fatal(err)
			}
			if final != "" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("refund %s not final", id)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// A forged webhook and a failed login, so refusals are logged and audited too.
	req, _ := http.NewRequest(http.MethodPost, app.URL+"/webhooks/neox/gc", strings.NewReader(`{"signature":"x"}`))
	req.SetBasicAuth("neox", "wrong-"+secrets["WEBHOOK_BASIC_PASS"][:4])
	apptest.Do(t, app.Client(t), req)
	app.PostForm(t, app.Client(t), "/login", url.Values{"username": {"sstaff"}, "password": {"not the password"}})
	for _, id := range ids {
		fetch(staff, "/refunds/"+id)
		fetch(mgr, "/refunds/"+id)
		fetch(staff, "/refunds/"+id+"/status")
	}
	for _, p := range []string{"/", "/refunds", "/approvals", "/audit", "/account"} {
		fetch(mgr, p)
	}
	// The export and the verify button are POST forms.
	for _, p := range []string{"/audit/verify", "/audit/export.csv"} {
		resp := app.PostForm(t, mgr, p, url.Values{})
		if resp.StatusCode >= 400 {
			t.Errorf("POST %s: %d", p, resp.StatusCode)
		}
		pages.WriteString(apptest.Body(t, resp))
	}
	var maxSeq int64
	_ = app.App.DB.Read.QueryRow(`SELECT max(seq) FROM audit_events`).Scan(&maxSeq)
	for seq := int64(1); seq <= maxSeq; seq++ {
		fetch(mgr, fmt.Sprintf("/audit/events/%d", seq))
	}

	stored := dumpTables(t, app, "audit_events", "webhook_events", "refund_attempts", "refunds", "transactions_cache", "sessions", "users")
	outputs := map[string]string{"server log": app.Logs.String(), "pages and exports": pages.String(), "database rows": stored}
	for name, out := range outputs {
		if len(out) < 1000 {
			t.Errorf("%s: only %d bytes: the search would prove nothing", name, len(out))
		}
		for k, v := range secrets {
			if strings.Contains(out, v) {
				i := strings.Index(out, v)
				t.Errorf("%s contains %s: …%s…", name, k, out[max(i-100, 0):min(i+len(v)+20, len(out))])
			}
		}
		if strings.Contains(out, pass) {
			t.Errorf("%s contains a user's password", name)
		}
	}
}

// dumpTables returns every row of the tables as text.
func dumpTables(t *testing.T, app *apptest.Running, tables ...string) string {
	t.Helper()
	var b strings.Builder
	for _, tbl := range tables {
		rows, err := app.App.DB.Read.QueryContext(context.Background(), `SELECT * FROM `+tbl)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				fmt.Fprintf(&b, "%s|", v)
			}
			b.WriteByte('\n')
		}
		rows.Close()
	}
	return b.String()
}
