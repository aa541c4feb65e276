package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// Hostile inputs: text that tries to break out of HTML, SQL or the eye of
// the reader, and numbers that try to break parsing.
var (
	textPayloads = map[string]string{
		"script tag":      `<script>alert(1)</script>`,
		"attribute break": `"><img src=x onerror=alert(1)>`,
		"sql comment":     `' OR 1=1 --`,
		"sql stacked":     `1; DROP TABLE refunds; --`,
		"percent nul":     `a%00b`,
		"nul byte":        "a\x00b",
		"rtl override":    "abc\u202egnp.exe",
		"zero width":      "adm\u200bin\ufeff",
		"10 KB":           strings.Repeat("A", 10<<10),
		"invalid utf-8":   "\xff\xfe<script>",
	}
	numberPayloads = map[string]string{
		"negative":        "-1",
		"minus sign":      "−5",
		"overflow":        "99999999999999999999",
		"max int64":       "9223372036854775807",
		"exponent":        "1e9",
		"hex":             "0x10",
		"unicode digits":  "１２３",
		"decimal":         "1.5",
		"zero":            "0",
		"spaces and sign": " +100 ",
	}
)

// dangerous are fragments that must never reach a page unescaped.
var dangerous = []string{"<script>alert(1)", "<img src=x onerror", "<script>"}

// tables whose row counts a refused input must not change.
var countedTables = []string{"refunds", "users", "webhook_events", "refund_attempts", "transactions_cache", "login_throttle", "refund_batches"}

type snapshot struct {
	counts map[string]int
	seq    int64
}

func snap(t *testing.T, app *apptest.Running) snapshot {
	t.Helper()
	s := snapshot{counts: map[string]int{}}
	db := app.App.DB.Read
	for _, tbl := range countedTables {
		var n int
		if err := db.QueryRowContext(context.Background(), `SELECT count(*) FROM `+tbl).Scan(&n); err != nil {
			t.Fatal(err)
		}
		s.counts[tbl] = n
	}
	if err := db.QueryRowContext(context.Background(), `SELECT coalesce(max(seq), 0) FROM audit_events`).Scan(&s.seq); err != nil {
		t.Fatal(err)
	}
	return s
}

// newAuditActions lists the actions recorded after seq, leaving out the
// refusal limiter's aggregate events: the server writes those every few
// seconds for refusals counted in a minute that has ended, so one can land
// while any later input is tried (it failed CI once that way), and what
// they count was tried, and checked, before.
func newAuditActions(t *testing.T, app *apptest.Running, seq int64) []string {
	t.Helper()
	rows, err := app.App.DB.Read.QueryContext(context.Background(), `SELECT action FROM audit_events
		WHERE seq > ? AND coalesce(json_extract(details, '$.aggregate'), 0) = 0 ORDER BY seq`, seq)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// hostileTarget is one form field or query parameter of one route.
type hostileTarget struct {
	name    string
	who     string // client: anon, staff, manager, admin
	method  string
	numeric bool // also gets the number payloads
	// build returns the path (with query) and, for POST, the form, for payload p.
	build func(p string) (string, url.Values)
	// ok200 allows 200 for an answer that shows the refusal inside the page
	// (filters, searches, bulk results); otherwise a 4xx is required.
	ok200 bool
	// audit lists the actions a refused request may record.
	audit []string
	// tables whose count may change (login failures count toward throttling).
	mayChange []string
	// knownBug names a defect this target still shows: the subtest is
	// skipped with that note while it fails, and fails once it passes, so
	// the mark is removed together with the fix.
	knownBug string
}

func TestHostileInputs(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t)
	app.CreateUser(t, "hstaff", auth.RoleStaff, pass)
	mgrUser := app.CreateUser(t, "hmanager", auth.RoleManager, pass)
	adminUser := app.CreateUser(t, "hadmin", auth.RoleAdmin, pass)
	clients := map[string]*http.Client{"anon": app.Client(t)}
	for who, name := range map[string]string{"staff": "hstaff", "manager": "hmanager", "admin": "hadmin"} {
		clients[who] = app.Client(t)
		app.Login(t, clients[who], name, pass)
	}
	// A refund the manager requested: deciding on it is refused (maker ≠
	// checker), whatever the note says.
	own := createRefund(t, app, clients["manager"], url.Values{})

	const pgRef, pgPay = "240901101500HCMCAF", "1440001"
	refundForm := func(field, p string) url.Values {
		v := url.Values{"api": {"PG"}, "ref": {pgRef}, "payment": {pgPay}, "token": {uuid.NewString()},
			"amount": {"1000"}, "reason_code": {"customer_request"}, "reason_text": {"hostile input test"}}
		v.Set(field, p)
		return v
	}
	// Free-text fields accept any text, so the form is made invalid by
	// another field: the hostile value must come back escaped, nothing stored.
	freeRefundForm := func(field, p string) url.Values {
		v := refundForm(field, p)
		v.Set("amount", "0")
		return v
	}
	q := func(path string, kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return path + "?" + v.Encode()
	}
	var targets []hostileTarget
	get := func(name, who string, numeric, ok200 bool, build func(string) string, auditOK ...string) {
		targets = append(targets, hostileTarget{name: name, who: who, method: http.MethodGet, numeric: numeric, ok200: ok200,
			build: func(p string) (string, url.Values) { return build(p), nil }, audit: auditOK})
	}
	post := func(name, who string, numeric, ok200 bool, build func(string) (string, url.Values), auditOK ...string) {
		targets = append(targets, hostileTarget{name: name, who: who, method: http.MethodPost, numeric: numeric, ok200: ok200,
			build: build, audit: auditOK})
	}
	login := func(field string) func(string) (string, url.Values) {
		return func(p string) (string, url.Values) {
			v := url.Values{"username": {"hstaff"}, "password": {"wrong password here"}}
			v.Set(field, p)
			return "/login", v
		}
	}
	targets = append(targets,
		hostileTarget{name: "POST /login username", who: "anon", method: http.MethodPost, build: login("username"),
			audit: []string{"auth.login_failed", "auth.login_throttled"}, mayChange: []string{"login_throttle"}},
		hostileTarget{name: "POST /login password", who: "anon", method: http.MethodPost, build: login("password"),
			audit: []string{"auth.login_failed", "auth.login_throttled"}, mayChange: []string{"login_throttle"}},
	)
	get("GET /login next", "anon", false, true, func(p string) string { return q("/login", "next", p) })
	post("POST /account/password new", "staff", false, false, func(p string) (string, url.Values) {
		return "/account/password", url.Values{"current": {pass}, "new": {p}, "confirm": {p + "x"}}
	}, "auth.password_changed")
	// A wrong current password counts on the user's own throttle row.
	targets = append(targets, hostileTarget{name: "POST /account/password current", who: "staff", method: http.MethodPost,
		build: func(p string) (string, url.Values) {
			return "/account/password", url.Values{"current": {p}, "new": {"another long passphrase"}, "confirm": {"another long passphrase"}}
		}, audit: []string{"auth.password_changed"}, mayChange: []string{"login_throttle"}})
	post("POST /users username", "admin", false, false, func(p string) (string, url.Values) {
		return "/users", url.Values{"username": {p}, "display_name": {"Hostile"}, "role": {"staff"}}
	}, "user.created")
	post("POST /users display_name", "admin", false, false, func(p string) (string, url.Values) {
		return "/users", url.Values{"username": {"x"}, "display_name": {p}, "role": {"staff"}}
	}, "user.created")
	post("POST /users role", "admin", false, false, func(p string) (string, url.Values) {
		return "/users", url.Values{"username": {"newuser"}, "display_name": {"New"}, "role": {p}}
	}, "user.created")
	post("POST /users/{id}/role role", "admin", false, false, func(p string) (string, url.Values) {
		return fmt.Sprintf("/users/%d/role", mgrUser.ID), url.Values{"role": {p}}
	}, "user.role_changed")
	// The approval policy: every field of each form; nothing stored.
	for _, f := range []string{"currency", "api", "auto_up_to", "dual_above", "version"} {
		post("POST /settings/approvals/rules "+f, "admin", false, false, func(p string) (string, url.Values) {
			v := url.Values{"version": {"0"}, "currency": {"VND"}, "dual_above": {"5000000"}}
			v.Set(f, p)
			return "/settings/approvals/rules", v
		})
	}
	for _, f := range []string{"user", "currency", "up_to", "version"} {
		post("POST /settings/approvals/limits "+f, "admin", false, false, func(p string) (string, url.Values) {
			v := url.Values{"version": {"0"}, "user": {fmt.Sprint(mgrUser.ID)}, "currency": {"VND"}, "up_to": {"1000000"}}
			v.Set(f, p)
			return "/settings/approvals/limits", v
		})
	}
	for _, f := range []string{"currency", "api"} {
		post("POST /settings/approvals/rules/remove "+f, "admin", false, false, func(p string) (string, url.Values) {
			v := url.Values{"version": {"0"}, "currency": {"VND"}}
			v.Set(f, p)
			return "/settings/approvals/rules/remove", v
		})
	}
	for _, f := range []string{"user", "currency"} {
		post("POST /settings/approvals/limits/remove "+f, "admin", false, false, func(p string) (string, url.Values) {
			v := url.Values{"version": {"0"}, "user": {fmt.Sprint(mgrUser.ID)}, "currency": {"VND"}}
			v.Set(f, p)
			return "/settings/approvals/limits/remove", v
		})
	}
	post("POST /users/{id}/disable id", "admin", true, false, func(p string) (string, url.Values) {
		return "/users/" + url.PathEscape(p) + "/disable", url.Values{}
	})
	post("POST /users/{id}/reset-password id", "admin", true, false, func(p string) (string, url.Values) {
		return "/users/" + url.PathEscape(p) + "/reset-password", url.Values{}
	})
	get("GET /transactions api", "staff", false, false, func(p string) string { return q("/transactions", "api", p, "ref", pgRef) })
	// Number-like strings are well-formed references: NeoX is asked and the
	// page says it does not know them, so only the text payloads apply.
	get("GET /transactions ref", "staff", false, false, func(p string) string { return q("/transactions", "api", "PG", "ref", p) })
	get("GET /refunds/new api", "staff", false, false, func(p string) string { return q("/refunds/new", "api", p, "ref", pgRef, "payment", pgPay) })
	get("GET /refunds/new ref", "staff", true, false, func(p string) string { return q("/refunds/new", "api", "PG", "ref", p, "payment", pgPay) })
	get("GET /refunds/new payment", "staff", true, false, func(p string) string { return q("/refunds/new", "api", "PG", "ref", pgRef, "payment", p) })
	for _, f := range []string{"api", "ref", "payment", "amount"} {
		post("POST /refunds "+f, "staff", true, false, func(p string) (string, url.Values) { return "/refunds", refundForm(f, p) })
	}
	for _, f := range []string{"reason_code", "reason_text", "token", "fee_charge_way", "sub_merchant_id", "bank_swift",
		"bank_account_number", "bank_account_name", "bank_branch"} {
		post("POST /refunds "+f, "staff", false, false, func(p string) (string, url.Values) { return "/refunds", freeRefundForm(f, p) })
	}
	for _, f := range []string{"status", "api", "requester", "from", "to", "min", "max", "sort", "dir", "after"} {
		get("GET /refunds "+f, "manager", true, true, func(p string) string { return q("/refunds", f, p) })
	}
	get("GET /refunds/{id} id", "manager", true, false, func(p string) string { return "/refunds/" + url.PathEscape(p) })
	get("GET /refunds/{id}/status id", "staff", true, false, func(p string) string { return "/refunds/" + url.PathEscape(p) + "/status" })
	for _, action := range []string{"approve", "reject", "cancel"} {
		post("POST /refunds/{id}/"+action+" id", "manager", true, false, func(p string) (string, url.Values) {
			return "/refunds/" + url.PathEscape(p) + "/" + action, url.Values{"note": {"x"}}
		})
	}
	post("POST /refunds/{id}/reject note (own refund)", "manager", false, false, func(p string) (string, url.Values) {
		return "/refunds/" + own + "/reject", url.Values{"note": {p}}
	}, "access.denied") // self-approval is refused and recorded
	post("POST /approvals/bulk id", "manager", true, true, func(p string) (string, url.Values) {
		return "/approvals/bulk", url.Values{"id": {p, own}}
	}, "access.denied")
	for _, f := range []string{"range", "from", "to", "actor", "action", "outcome", "target", "q", "c"} {
		get("GET /audit "+f, "manager", true, true, func(p string) string { return q("/audit", f, p) })
		post("POST /audit/export.csv "+f, "manager", true, true, func(p string) (string, url.Values) {
			return "/audit/export.csv", url.Values{f: {p}}
		}, "audit.exported")
	}
	get("GET /audit/events/{seq} seq", "manager", true, false, func(p string) string { return "/audit/events/" + url.PathEscape(p) })
	for _, api := range []string{"pg", "gc", "col"} {
		for _, shape := range []string{"raw", "json"} {
			targets = append(targets, hostileTarget{name: "POST /webhooks/neox/" + api + " " + shape, who: "anon", method: http.MethodPost,
				numeric: true, audit: []string{"webhook.received"},
				build: func(p string) (string, url.Values) { return "/webhooks/neox/" + api + "#" + shape, nil }})
		}
	}

	webhookBody := func(shape, p string) string {
		if shape == "raw" {
			return p
		}
		// Well-formed JSON carrying the payload in every field NeoX uses, with a forged signature.
		return fmt.Sprintf(`{"neo_MerchantCode":%[1]q,"neo_RequestID":%[1]q,"neo_ResponseCode":%[1]q,"neo_SecureHash":"00","refundRequestId":%[1]q,"status":%[1]q,"requestId":%[1]q,"signature":%[1]q}`, p)
	}

	for _, tg := range targets {
		payloads := maps(textPayloads)
		if tg.numeric {
			payloads = append(payloads, maps(numberPayloads)...)
		}
		t.Run(tg.name, func(t *testing.T) {
			var fails []string
			for _, pl := range payloads {
				before := snap(t, app)
				path, form := tg.build(pl.value)
				var req *http.Request
				if base, shape, ok := strings.Cut(path, "#"); ok {
					req, _ = http.NewRequest(http.MethodPost, app.URL+base, strings.NewReader(webhookBody(shape, pl.value)))
					req.Header.Set("Content-Type", "application/json")
				} else if tg.method == http.MethodPost {
					req, _ = http.NewRequest(http.MethodPost, app.URL+path, strings.NewReader(form.Encode()))
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					req.Header.Set("Origin", app.URL)
				} else {
					req, _ = http.NewRequest(http.MethodGet, app.URL+path, nil)
				}
				resp := apptest.Do(t, clients[tg.who], req)
				body := apptest.Body(t, resp)
				fails = append(fails, refusalProblems(pl.name, resp.StatusCode, body, tg.ok200)...)
				after := snap(t, app)
				for _, tbl := range countedTables {
					if after.counts[tbl] != before.counts[tbl] && !slices.Contains(tg.mayChange, tbl) {
						fails = append(fails, fmt.Sprintf("%s: %s rows %d → %d", pl.name, tbl, before.counts[tbl], after.counts[tbl]))
					}
				}
				for _, a := range newAuditActions(t, app, before.seq) {
					if !slices.Contains(tg.audit, a) {
						fails = append(fails, fmt.Sprintf("%s: unexpected audit event %s", pl.name, a))
					}
				}
			}
			switch {
			case len(fails) > 0 && tg.knownBug != "":
				t.Skipf("known bug, still present: %s (%d failures, first: %s)", tg.knownBug, len(fails), fails[0])
			case len(fails) > 0:
				t.Error(strings.Join(fails, "\n"))
			case tg.knownBug != "":
				t.Errorf("the known bug is fixed; remove its mark: %s", tg.knownBug)
			}
		})
	}

	// A body over the limit is refused before it is parsed.
	big := strings.Repeat("A", 2<<20)
	for _, tc := range []struct{ who, path string }{{"anon", "/login"}, {"staff", "/refunds"}, {"manager", "/approvals/bulk"},
		{"admin", "/users"}, {"anon", "/webhooks/neox/pg"}, {"anon", "/webhooks/neox/gc"}} {
		t.Run("2 MB body "+tc.path, func(t *testing.T) {
			before := snap(t, app)
			req, _ := http.NewRequest(http.MethodPost, app.URL+tc.path, strings.NewReader("amount="+big))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", app.URL)
			resp := apptest.Do(t, clients[tc.who], req)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Errorf("status %d, want 413", resp.StatusCode)
			}
			after := snap(t, app)
			for _, tbl := range countedTables {
				if after.counts[tbl] != before.counts[tbl] {
					t.Errorf("%s rows %d → %d", tbl, before.counts[tbl], after.counts[tbl])
				}
			}
		})
	}
	_ = adminUser
}

type payload struct{ name, value string }

func maps(m map[string]string) []payload {
	var out []payload
	for k, v := range m {
		out = append(out, payload{k, v})
	}
	slices.SortFunc(out, func(a, b payload) int { return strings.Compare(a.name, b.name) })
	return out
}

// refusalProblems checks for a clear refusal: no 5xx, a 4xx (or a 200 page
// that shows the refusal, where allowed), and nothing dangerous echoed raw.
func refusalProblems(name string, status int, body string, ok200 bool) []string {
	var out []string
	switch {
	case status >= 500:
		out = append(out, fmt.Sprintf("%s: status %d", name, status))
	case status >= 400:
	case status == http.StatusOK && ok200:
	default:
		out = append(out, fmt.Sprintf("%s: status %d, want a 4xx refusal", name, status))
	}
	for _, d := range dangerous {
		if i := strings.Index(body, d); i >= 0 {
			out = append(out, fmt.Sprintf("%s: response contains %q unescaped: …%s…", name, d, body[max(i-80, 0):min(i+80, len(body))]))
		}
	}
	return out
}

func checkRefused(t *testing.T, name string, status int, body string, ok200 bool) {
	t.Helper()
	for _, p := range refusalProblems(name, status, body, ok200) {
		t.Error(p)
	}
}

// createRefund requests a refund of the seeded PG ATM payment as c and
// returns its id; extra overrides form fields.
func createRefund(t *testing.T, app *apptest.Running, c *http.Client, extra url.Values) string {
	t.Helper()
	v := url.Values{"api": {"PG"}, "ref": {"240901101500HCMCAF"}, "payment": {"1440001"}, "token": {uuid.NewString()},
		"amount": {"1000"}, "reason_code": {"customer_request"}, "reason_text": {"hostile input test"}}
	for k, vs := range extra {
		v[k] = vs
	}
	resp := app.PostForm(t, c, "/refunds", v)
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/refunds/") {
		t.Fatalf("create refund: status %d location %q: %s", resp.StatusCode, loc, apptest.Body(t, resp))
	}
	id, _, _ := strings.Cut(strings.TrimPrefix(loc, "/refunds/"), "?")
	return id
}

// TestStoredHostileTextIsEscaped stores hostile text where free text is
// allowed (reason, decision note) and checks every page that shows it.
func TestStoredHostileTextIsEscaped(t *testing.T) {
	t.Parallel()
	app := apptest.Start(t)
	app.CreateUser(t, "xstaff", auth.RoleStaff, pass)
	app.CreateUser(t, "xmanager", auth.RoleManager, pass)
	staff, mgr := app.Client(t), app.Client(t)
	app.Login(t, staff, "xstaff", pass)
	app.Login(t, mgr, "xmanager", pass)
	xss := `"><img src=x onerror=alert(1)><script>alert(1)</script>` + "\u202e"
	id := createRefund(t, app, staff, url.Values{"reason_text": {xss}})
	resp := app.PostForm(t, mgr, "/refunds/"+id+"/reject", url.Values{"note": {xss}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reject with a hostile note: status %d", resp.StatusCode)
	}
	var seq int64
	if err := app.App.DB.Read.QueryRow(`SELECT max(seq) FROM audit_events WHERE target_id = ?`, id).Scan(&seq); err != nil {
		t.Fatal(err)
	}
	pages := []struct {
		c    *http.Client
		path string
	}{{staff, "/refunds/" + id}, {mgr, "/refunds/" + id}, {staff, "/refunds"}, {mgr, "/refunds"}, {mgr, "/approvals"},
		{mgr, "/audit"}, {mgr, "/audit?target=" + id}, {mgr, fmt.Sprintf("/audit/events/%d", seq)}, {staff, "/"}, {mgr, "/"}}
	for _, p := range pages {
		resp := app.Get(t, p.c, p.path)
		checkRefused(t, p.path, resp.StatusCode, apptest.Body(t, resp), true)
	}
	if resp := app.Get(t, mgr, "/refunds/"+id); !strings.Contains(apptest.Body(t, resp), "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Errorf("refund page does not show the stored reason escaped")
	}
}
