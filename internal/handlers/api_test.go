package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/apikeys"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// apiEnv is a server with the API on, rate-limited to perMinute per key,
// logging into logs.
type apiEnv struct {
	*env
	admin auth.User
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newAPIEnv(t *testing.T, perMinute int) *apiEnv {
	t.Helper()
	logs := &syncBuffer{}
	e := newEnv(t, func(d *Deps) {
		d.APIRateLimit = perMinute
		d.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	return &apiEnv{env: e, admin: e.user("root", auth.RoleAdmin), logs: logs}
}

// key issues a key with scopes, valid for a day.
func (a *apiEnv) key(name string, scopes policy.Scopes) (apikeys.Key, string) {
	a.t.Helper()
	k, token, err := a.srv.keys.Create(context.Background(), apikeys.Admin{ID: a.admin.ID, Name: a.admin.Username, Role: a.admin.Role},
		apikeys.NewKey{Name: name, Scopes: scopes, ExpiresAt: a.clock.Now().Add(24 * time.Hour)})
	if err != nil {
		a.t.Fatal(err)
	}
	return k, token
}

// call sends an API request with token (none when ""), body as is.
func (a *apiEnv) call(method, path, token, body string, hdr map[string]string) result {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

// refundsOf lists the refunds key k requested.
func (a *apiEnv) refundsOf(k apikeys.Key) []refunds.Refund {
	a.t.Helper()
	rows, _, err := a.refunds.List(context.Background(), refunds.ListFilter{RequestedBy: k.ActorID()}, "", 100)
	if err != nil {
		a.t.Fatal(err)
	}
	return rows
}

// problemOf decodes a problem answer and checks its shape.
func problemOf(t *testing.T, r result, status int) apiProblem {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q: %s", ct, r.body)
	}
	var p apiProblem
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatal(err)
	}
	if p.Status != status || p.Type == "" || p.Title == "" {
		t.Fatalf("problem %+v", p)
	}
	return p
}

func fieldsOf(p apiProblem) map[string]string {
	out := map[string]string{}
	for _, e := range p.Errors {
		out[e.Field] = e.Detail
	}
	return out
}

const colBody = `{"api":"COL","transaction_ref":"FT24324HCM001","amount":%d,"reason_code":"OTHER","reason_text":"customer changed their mind"}`

func TestAPICreateGetList(t *testing.T) {
	a := newAPIEnv(t, 0)
	k, token := a.key("erp", policy.ScopeRead|policy.ScopeCreate)
	r := a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 1000), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var got apiRefund
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	if r.header.Get("Location") != "/api/v1/refunds/"+got.ID || got.Amount != 1000 || got.Approval != "PENDING" ||
		got.Submission != "NOT_SENT" || got.RequestedBy != "apikey:erp" || got.API != "COL" || got.Currency != "VND" {
		t.Fatalf("created %+v (Location %q)", got, r.header.Get("Location"))
	}
	// The same refund as the domain stores it, asked for by the key, in
	// the managers' queue like any other.
	ref, err := a.refunds.Get(context.Background(), got.ID)
	if err != nil || ref.RequestedBy != k.ActorID() || ref.Approval != refunds.ApprovalPending {
		t.Fatalf("stored %+v, %v", ref, err)
	}
	a.user("mai", auth.RoleManager)
	if q := a.get(a.login("mai"), "/approvals"); !strings.Contains(q.body, got.ID) {
		t.Errorf("the approvals queue does not list %s", got.ID)
	}

	one := a.call("GET", "/api/v1/refunds/"+got.ID, token, "", nil)
	if one.status != http.StatusOK || strings.TrimSpace(one.body) != strings.TrimSpace(r.body) {
		t.Errorf("get: %d %s\nwant %s", one.status, one.body, r.body)
	}
	if g := a.call("GET", "/api/v1/refunds/00000000-0000-4000-8000-000000000000", token, "", nil); g.status != http.StatusNotFound {
		t.Errorf("unknown id: %d", g.status)
	}
	problemOf(t, a.call("GET", "/api/v1/refunds/not-a-uuid", token, "", nil), http.StatusNotFound)
	problemOf(t, a.call("GET", "/api/v2/refunds", token, "", nil), http.StatusNotFound)
	if r := a.call("PUT", "/api/v1/refunds/"+got.ID, token, "{}", nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET" {
		t.Errorf("PUT one: %d Allow %q", r.status, r.header.Get("Allow"))
	}
	if r := a.call("DELETE", "/api/v1/refunds", token, "", nil); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST, GET" {
		t.Errorf("DELETE list: %d Allow %q", r.status, r.header.Get("Allow"))
	}

	second := a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 2000), nil)
	if second.status != http.StatusCreated {
		t.Fatalf("second: %d %s", second.status, second.body)
	}
	// Pages of one, newest first, with the list page's filters.
	var ids []string
	cursor := ""
	for range 3 {
		l := a.call("GET", "/api/v1/refunds?status=PENDING&api=COL&limit=1&cursor="+url.QueryEscape(cursor), token, "", nil)
		var page apiRefundPage
		if l.status != http.StatusOK || json.Unmarshal([]byte(l.body), &page) != nil {
			t.Fatalf("list: %d %s", l.status, l.body)
		}
		for _, x := range page.Refunds {
			ids = append(ids, x.ID)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if len(ids) != 2 || ids[0] == ids[1] || (ids[0] != got.ID && ids[1] != got.ID) {
		t.Errorf("listed %v", ids)
	}
	var none apiRefundPage
	if l := a.call("GET", "/api/v1/refunds?status=REJECTED", token, "", nil); json.Unmarshal([]byte(l.body), &none) != nil || len(none.Refunds) != 0 {
		t.Errorf("rejected: %s", l.body)
	}
	p := problemOf(t, a.call("GET", "/api/v1/refunds?status=NOPE&limit=1000&cursor=zzz", token, "", nil), http.StatusBadRequest)
	if f := fieldsOf(p); f["status"] == "" || f["limit"] == "" {
		t.Errorf("bad filters: %+v", p)
	}
	problemOf(t, a.call("GET", "/api/v1/refunds?cursor=zzz", token, "", nil), http.StatusBadRequest)

	// Every use audited, under the key's name, never a user's.
	page, err := a.audit.Query(context.Background(), audit.Filter{Action: audit.ActionAPIKeyUsed}, audit.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) < 8 {
		t.Errorf("%d apikey.used events", len(page.Entries))
	}
	for _, e := range page.Entries {
		if e.ActorID != k.ActorID() || e.ActorName != "apikey:erp" || e.ActorRole != "apikey" {
			t.Errorf("use event %+v", e)
		}
	}
	if e, err := a.audit.Get(context.Background(), page.Entries[0].Seq); err != nil || fmt.Sprint(e.Details["api_client_id"]) != fmt.Sprint(k.ID) ||
		e.Details["api_client"] != "erp" || e.Details["route"] != "GET /api/v1/refunds" {
		t.Errorf("use event details %+v, %v", e.Details, err)
	}
	req, err := a.audit.Query(context.Background(), audit.Filter{Action: audit.ActionRefundRequested}, audit.Cursor{}, 10)
	if err != nil || len(req.Entries) != 2 || req.Entries[0].ActorName != "apikey:erp" || req.Entries[0].ActorID != k.ActorID() {
		t.Errorf("refund.requested events %+v, %v", req.Entries, err)
	}
	keys, _ := a.srv.keys.List(context.Background())
	if len(keys) != 1 || !keys[0].LastUsedAt.Equal(a.clock.Now()) {
		t.Errorf("last used %+v", keys)
	}
}

func TestAPIRefusesWithoutValidKey(t *testing.T) {
	a := newAPIEnv(t, 0)
	k, token := a.key("erp", policy.ScopeRead|policy.ScopeCreate)
	_, revokedToken := a.key("old", policy.ScopeRead)
	keys, _ := a.srv.keys.List(context.Background())
	admin := apikeys.Admin{ID: a.admin.ID, Name: "root", Role: policy.Admin}
	for _, x := range keys {
		if x.Name == "old" {
			if err := a.srv.keys.Revoke(context.Background(), admin, x.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A signed-in manager's session is nobody here.
	a.user("mai", auth.RoleManager)
	session := a.login("mai")
	wrongSecret := token[:len(token)-4] + "aaaa"
	if wrongSecret == token {
		wrongSecret = token[:len(token)-4] + "bbbb"
	}
	for name, tc := range map[string]struct{ auth, token string }{
		"missing": {}, "garbage": {token: "hello"}, "basic": {auth: "Basic " + token}, "wrong secret": {token: wrongSecret},
		"no prefix": {token: strings.TrimPrefix(token, apikeys.Prefix)}, "revoked": {token: revokedToken},
	} {
		t.Run(name, func(t *testing.T) {
			// A new minute: the refusal limiter records each case's rows.
			a.clock.Advance(time.Minute)
			for _, m := range []string{"GET", "POST"} {
				hdr := map[string]string{}
				if tc.auth != "" {
					hdr["Authorization"] = tc.auth
				}
				r := a.call(m, "/api/v1/refunds", tc.token, fmt.Sprintf(colBody, 1000), hdr)
				problemOf(t, r, http.StatusUnauthorized)
				if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("WWW-Authenticate %q", r.header.Get("WWW-Authenticate"))
				}
			}
		})
	}
	for _, m := range []string{"GET", "POST"} {
		req, _ := http.NewRequest(m, a.url+"/api/v1/refunds", strings.NewReader(fmt.Sprintf(colBody, 1000)))
		req.Header.Set("Content-Type", "application/json")
		resp, err := session.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("%s with a session cookie: %d", m, resp.StatusCode)
		}
	}
	// Expired: a day and a second later.
	a.clock.Advance(24 * time.Hour)
	problemOf(t, a.call("GET", "/api/v1/refunds", token, "", nil), http.StatusUnauthorized)
	if n := len(a.refundsOf(k)); n != 0 {
		t.Errorf("%d refunds created", n)
	}
	denied, err := a.audit.Query(context.Background(), audit.Filter{Action: audit.ActionAccessDenied}, audit.Cursor{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	reasons := map[any]bool{}
	for _, e := range denied.Entries {
		full, err := a.audit.Get(context.Background(), e.Seq)
		if err != nil {
			t.Fatal(err)
		}
		reasons[full.Details["reason"]] = true
	}
	for _, r := range []string{deniedNoKey, deniedBadKey, deniedRevokedKey, deniedExpiredKey} {
		if !reasons[r] {
			t.Errorf("no access.denied with reason %s (have %v)", r, reasons)
		}
	}
}

func TestAPIScopesAndNoDecisions(t *testing.T) {
	a := newAPIEnv(t, 0)
	reader, readToken := a.key("reader", policy.ScopeRead)
	_, createToken := a.key("writer", policy.ScopeCreate)
	p := problemOf(t, a.call("POST", "/api/v1/refunds", readToken, fmt.Sprintf(colBody, 1000), nil), http.StatusForbidden)
	if !strings.Contains(p.Detail, "read") {
		t.Errorf("detail %q", p.Detail)
	}
	if n := len(a.refundsOf(reader)); n != 0 {
		t.Errorf("a read-only key created %d refunds", n)
	}
	problemOf(t, a.call("GET", "/api/v1/refunds", createToken, "", nil), http.StatusForbidden)
	r := a.call("POST", "/api/v1/refunds", createToken, fmt.Sprintf(colBody, 1000), nil)
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var got apiRefund
	_ = json.Unmarshal([]byte(r.body), &got)
	problemOf(t, a.call("GET", "/api/v1/refunds/"+got.ID, createToken, "", nil), http.StatusForbidden)

	// No route decides, and the session routes that do ignore a bearer key.
	for _, path := range []string{"/api/v1/refunds/" + got.ID + "/approve", "/api/v1/refunds/" + got.ID + "/reject", "/api/v1/approvals/bulk"} {
		problemOf(t, a.call("POST", path, createToken, `{}`, nil), http.StatusNotFound)
	}
	for _, path := range []string{"/refunds/" + got.ID + "/approve", "/refunds/" + got.ID + "/reject", "/refunds/" + got.ID + "/resolve", "/audit/export.csv"} {
		if r := a.call("POST", path, createToken, "", nil); r.status != http.StatusSeeOther && r.status != http.StatusUnauthorized {
			t.Errorf("POST %s with a key: %d", path, r.status)
		}
	}
	// And the domain, asked directly, refuses whatever the scopes.
	all := refunds.Actor{ID: -1, Name: "apikey:x", Role: policy.APIKey, Scopes: policy.ScopeRead | policy.ScopeCreate}
	if _, err := a.refunds.Approve(context.Background(), all, got.ID, ""); err == nil {
		t.Error("the domain let an API key approve")
	}
	if ref, _ := a.refunds.Get(context.Background(), got.ID); ref.Approval != refunds.ApprovalPending {
		t.Errorf("approval %s", ref.Approval)
	}
}

func TestAPIIdempotency(t *testing.T) {
	a := newAPIEnv(t, 0)
	k, token := a.key("erp", policy.ScopeRead|policy.ScopeCreate)
	idem := map[string]string{"Idempotency-Key": "order-42-refund"}
	first := a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 1000), idem)
	if first.status != http.StatusCreated {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	// The same request, spaced and ordered otherwise.
	again := a.call("POST", "/api/v1/refunds", token,
		`{ "reason_text":"customer changed their mind", "amount": 1000, "reason_code":"OTHER", "transaction_ref":"FT24324HCM001", "api":"COL" }`, idem)
	if again.status != http.StatusCreated || again.body != first.body || again.header.Get("Idempotent-Replayed") != "true" ||
		again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("retry: %d %q %s\nfirst %s", again.status, again.header.Get("Idempotent-Replayed"), again.body, first.body)
	}
	p := problemOf(t, a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 1001), idem), http.StatusUnprocessableEntity)
	if !strings.Contains(p.Type, "idempotency") {
		t.Errorf("type %q", p.Type)
	}
	if n := len(a.refundsOf(k)); n != 1 {
		t.Fatalf("%d refunds after retries", n)
	}
	// Another key's same Idempotency-Key is its own.
	other, otherToken := a.key("pos", policy.ScopeCreate)
	if r := a.call("POST", "/api/v1/refunds", otherToken, fmt.Sprintf(colBody, 1001), idem); r.status != http.StatusCreated {
		t.Fatalf("other key: %d %s", r.status, r.body)
	}
	problemOf(t, a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 1000), map[string]string{"Idempotency-Key": "é"}), http.StatusBadRequest)
	problemOf(t, a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 1000), map[string]string{"Idempotency-Key": strings.Repeat("x", 65)}), http.StatusBadRequest)

	// Concurrent retries of one request: one refund, one answer.
	const n = 8
	var wg sync.WaitGroup
	bodies := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			bodies[i] = a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, 1200), map[string]string{"Idempotency-Key": "burst"})
		}()
	}
	wg.Wait()
	for i, b := range bodies {
		if b.status != http.StatusCreated || b.body != bodies[0].body {
			t.Errorf("retry %d: %d %s", i, b.status, b.body)
		}
	}
	if got := len(a.refundsOf(k)); got != 2 {
		t.Errorf("%d refunds after a burst of retries, want 2", got)
	}
	if got := len(a.refundsOf(other)); got != 1 {
		t.Errorf("other key: %d refunds", got)
	}
}

func TestAPIRefusesBadInput(t *testing.T) {
	a := newAPIEnv(t, 0)
	k, token := a.key("erp", policy.ScopeRead|policy.ScopeCreate)
	big := `{"api":"COL","transaction_ref":"FT24324HCM001","amount":1000,"reason_code":"OTHER","reason_text":"` + strings.Repeat("x", 70<<10) + `"}`
	for name, tc := range map[string]struct {
		body   string
		status int
		field  string
	}{
		"oversized":     {big, http.StatusRequestEntityTooLarge, ""},
		"unknown field": {`{"api":"COL","transaction_ref":"FT24324HCM001","amount":1000,"reason_code":"OTHER","reason_text":"x","approve":true}`, http.StatusBadRequest, "approve"},
		"float":         {fmt.Sprintf(`{"api":"COL","transaction_ref":"FT24324HCM001","amount":%s,"reason_code":"OTHER","reason_text":"x"}`, "1000.5"), http.StatusBadRequest, "amount"},
		"exponent":      {`{"api":"COL","transaction_ref":"FT24324HCM001","amount":1e3,"reason_code":"OTHER","reason_text":"x"}`, http.StatusBadRequest, "amount"},
		"string amount": {`{"api":"COL","transaction_ref":"FT24324HCM001","amount":"1000","reason_code":"OTHER","reason_text":"x"}`, http.StatusBadRequest, "amount"},
		"negative":      {fmt.Sprintf(colBody, -1000), http.StatusBadRequest, "amount"},
		"zero":          {fmt.Sprintf(colBody, 0), http.StatusBadRequest, "amount"},
		"huge":          {`{"api":"COL","transaction_ref":"FT24324HCM001","amount":99999999999999999999,"reason_code":"OTHER","reason_text":"x"}`, http.StatusBadRequest, "amount"},
		"wrong type":    {`{"api":5,"transaction_ref":"FT24324HCM001","amount":1000,"reason_code":"OTHER","reason_text":"x"}`, http.StatusBadRequest, "api"},
		"no reason":     {`{"api":"COL","transaction_ref":"FT24324HCM001","amount":1000}`, http.StatusBadRequest, "reason_code"},
		"unknown api":   {`{"api":"XX","transaction_ref":"FT24324HCM001","amount":1000,"reason_code":"OTHER","reason_text":"x"}`, http.StatusBadRequest, "api"},
		"too much":      {fmt.Sprintf(colBody, 900_000_000), http.StatusBadRequest, "amount"},
		"two objects":   {fmt.Sprintf(colBody, 1000) + fmt.Sprintf(colBody, 1000), http.StatusBadRequest, ""},
		"not json":      {`api=COL`, http.StatusBadRequest, ""},
	} {
		t.Run(name, func(t *testing.T) {
			p := problemOf(t, a.call("POST", "/api/v1/refunds", token, tc.body, map[string]string{"Idempotency-Key": "k-" + name[:3]}), tc.status)
			if tc.field != "" && fieldsOf(p)[tc.field] == "" {
				t.Errorf("no error for %s: %+v", tc.field, p)
			}
		})
	}
	// Every field's error at once.
	p := problemOf(t, a.call("POST", "/api/v1/refunds", token, `{"api":"COL","amount":-5}`, nil), http.StatusBadRequest)
	if f := fieldsOf(p); f["amount"] == "" || f["transaction_ref"] == "" || f["reason_code"] == "" {
		t.Errorf("field errors %+v", f)
	}
	problemOf(t, a.call("POST", "/api/v1/refunds", token, "", map[string]string{"Content-Type": "text/plain"}), http.StatusUnsupportedMediaType)
	if n := len(a.refundsOf(k)); n != 0 {
		t.Errorf("%d refunds stored from bad input", n)
	}
	if _, err := a.srv.keys.Replay(context.Background(), k.ID, "k-neg"); err == nil {
		t.Error("a refused request left an idempotency record")
	}
}

func TestAPIRateLimit(t *testing.T) {
	a := newAPIEnv(t, 3)
	_, token := a.key("erp", policy.ScopeRead)
	_, other := a.key("pos", policy.ScopeRead)
	for i := range 3 {
		if r := a.call("GET", "/api/v1/refunds", token, "", nil); r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r := a.call("GET", "/api/v1/refunds", token, "", nil)
	problemOf(t, r, http.StatusTooManyRequests)
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 || s > 20 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r := a.call("GET", "/api/v1/refunds", other, "", nil); r.status != http.StatusOK {
		t.Errorf("another key: %d", r.status)
	}
	a.clock.Advance(21 * time.Second) // one token back at 3 a minute
	if r := a.call("GET", "/api/v1/refunds", token, "", nil); r.status != http.StatusOK {
		t.Errorf("after waiting: %d", r.status)
	}
	problemOf(t, a.call("GET", "/api/v1/refunds", token, "", nil), http.StatusTooManyRequests)
}

// TestAPIKeySecretShownOnce: the admin page shows a new key once; the key
// never reaches a later page, the audit trail or the log.
func TestAPIKeySecretShownOnce(t *testing.T) {
	a := newAPIEnv(t, 0)
	c := a.login("root")
	r := a.post(c, "/settings/api-keys", url.Values{"name": {"erp"}, "scope": {"read", "create"},
		"expires": {a.clock.Now().In(a.srv.zone).AddDate(0, 1, 0).Format(time.DateOnly)}})
	if r.status != http.StatusCreated || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("create: %d %q", r.status, r.header.Get("Cache-Control"))
	}
	token := regexpToken.FindString(r.body)
	if token == "" {
		t.Fatalf("no key on the page: %s", r.body)
	}
	secret := token[len(token)-30:]
	if u := a.call("GET", "/api/v1/refunds", token, "", nil); u.status != http.StatusOK {
		t.Fatalf("the key does not work: %d %s", u.status, u.body)
	}
	a.call("GET", "/api/v1/refunds", token+"x", "", nil)
	a.call("GET", "/api/v1/refunds", token[:len(token)-1], "", nil)
	page := a.get(c, "/settings/api-keys")
	if page.status != http.StatusOK || !strings.Contains(page.body, token[:len(apikeys.Prefix)+10]) {
		t.Fatalf("keys page: %d", page.status)
	}
	var csv bytes.Buffer
	if _, err := a.audit.ExportCSV(context.Background(), &csv, audit.Filter{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(csv.String(), "apikey.created") || !strings.Contains(csv.String(), "apikey.used") {
		t.Fatalf("audit trail lacks the key's events")
	}
	for where, text := range map[string]string{"keys page": page.body, "audit trail": csv.String(), "log": a.logs.String()} {
		if strings.Contains(text, secret) {
			t.Errorf("the key's secret is in the %s", where)
		}
	}
	// Revoked from the page: refused from then on, listed as revoked.
	keys, _ := a.srv.keys.List(context.Background())
	if rv := a.post(c, "/settings/api-keys/"+itoa(keys[0].ID)+"/revoke", url.Values{}); rv.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", rv.status)
	}
	problemOf(t, a.call("GET", "/api/v1/refunds", token, "", nil), http.StatusUnauthorized)
	if p := a.get(c, "/settings/api-keys"); !strings.Contains(p.body, "Revoked") || strings.Contains(p.body, secret) {
		t.Error("the page does not show the key revoked")
	}
	// Bad forms create nothing.
	bad := a.post(c, "/settings/api-keys", url.Values{"name": {""}, "expires": {"2020-01-01"}})
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, `data-testid="error-name"`) || !strings.Contains(bad.body, "data-error-summary") ||
		!strings.Contains(bad.body, `data-testid="error-scopes"`) || !strings.Contains(bad.body, `data-testid="error-expires"`) {
		t.Errorf("bad form: %d", bad.status)
	}
	if keys, _ := a.srv.keys.List(context.Background()); len(keys) != 1 {
		t.Errorf("%d keys", len(keys))
	}
	// Staff and managers may not manage keys.
	a.user("lan", auth.RoleStaff)
	if r := a.post(a.login("lan"), "/settings/api-keys", url.Values{"name": {"x"}, "scope": {"read"}, "expires": {"2027-01-01"}}); r.status != http.StatusForbidden {
		t.Errorf("staff: %d", r.status)
	}
}

var regexpToken = regexp.MustCompile(`rd_live_[a-z2-7]{62}`)

// TestAPIRefundsFollowTheApprovalPolicy: a refund requested with a key is
// decided by people like any other, under the approval policy in force
// (here two approvers above 1,000 ₫, and the policy's own approval up to
// 500 ₫).
func TestAPIRefundsFollowTheApprovalPolicy(t *testing.T) {
	a := newAPIEnv(t, 0)
	_, token := a.key("erp", policy.ScopeRead|policy.ScopeCreate)
	m1, m2 := a.user("mai", auth.RoleManager), a.user("minh", auth.RoleManager)
	admin := refunds.Actor{ID: a.admin.ID, Name: a.admin.Username, Role: policy.Admin}
	if _, err := a.refunds.SetApprovalPolicy(context.Background(), admin, 0,
		policy.Approvals{Rules: []policy.Rule{{Currency: "VND", AutoUpTo: 500, DualAbove: 1000}}}); err != nil {
		t.Fatal(err)
	}
	create := func(amount int64) apiRefund {
		t.Helper()
		r := a.call("POST", "/api/v1/refunds", token, fmt.Sprintf(colBody, amount), nil)
		var got apiRefund
		if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &got) != nil {
			t.Fatalf("create %d: %d %s", amount, r.status, r.body)
		}
		return got
	}
	if small := create(400); small.Approval != refunds.ApprovalApproved || small.ApprovalsRequired != 0 || small.DecidedBy == "" {
		t.Errorf("at most the floor: %+v", small)
	}
	big := create(2000)
	if big.Approval != refunds.ApprovalPending || big.ApprovalsRequired != 2 {
		t.Fatalf("above the two-approver line: %+v", big)
	}
	for i, m := range []auth.User{m1, m2} {
		if _, err := a.refunds.Approve(context.Background(), refunds.Actor{ID: m.ID, Name: m.Username, Role: m.Role}, big.ID, ""); err != nil {
			t.Fatalf("approval %d: %v", i+1, err)
		}
	}
	var got apiRefund
	r := a.call("GET", "/api/v1/refunds/"+big.ID, token, "", nil)
	if json.Unmarshal([]byte(r.body), &got) != nil || got.Approval != refunds.ApprovalApproved || got.Submission != refunds.SubQueued || got.DecidedBy != "minh" {
		t.Errorf("after two approvals: %s", r.body)
	}
}
