package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// colHook signs a COL refund webhook the way NeoX does.
func colHook(t *testing.T, fields map[string]string) string {
	t.Helper()
	b, err := json.Marshal(neox.SignOpenAPIWebhook(fields, "col-hook"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (e *env) postRaw(path, body string, hdr map[string]string) result {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var sb strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return result{resp.StatusCode, resp.Header, sb.String()}
}

// approvedCOLRefund creates and approves a COL refund and lets the worker
// send it, so it waits at NeoX in PROCESSING.
func approvedCOLRefund(t *testing.T, e *env) refunds.Refund {
	t.Helper()
	staff := e.user("staff1", auth.RoleStaff)
	mgr := e.user("manager1", auth.RoleManager)
	return approvedCOLRefundAs(t, e, refunds.Actor{ID: staff.ID, Name: staff.Username, Role: "staff"},
		refunds.Actor{ID: mgr.ID, Name: mgr.Username, Role: "manager"})
}

// approvedCOLRefundAs is approvedCOLRefund asked by maker and approved by
// checker.
func approvedCOLRefundAs(t *testing.T, e *env, maker, checker refunds.Actor) refunds.Refund {
	t.Helper()
	ctx := context.Background()
	r, err := e.refunds.Create(ctx, maker, refunds.NewRequest{
		API: refunds.APICOL, TransactionRef: "FT24324HCM001", Amount: 50000, ReasonCode: "other", ReasonText: "test",
		IdempotencyKey: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.refunds.Approve(ctx, checker, r.ID, ""); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- e.refunds.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := e.refunds.Get(ctx, r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Submission == "PROCESSING" {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund stuck in %s", got.Submission)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if e.db.Postgres() {
		q = pgJSON(q)
	}
	if err := e.db.Read.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// jsonPath matches SQLite's json_extract on the audit details, with what
// follows it.
var jsonPath = regexp.MustCompile(`json_extract\(details, '\$\.(\w+)'\)(\)| IS NULL| = \?)?`)

// pgJSON is a test's SQLite JSON query in PostgreSQL's words: counts are
// numbers, a bare flag is a boolean.
func pgJSON(q string) string {
	return jsonPath.ReplaceAllStringFunc(q, func(m string) string {
		g := jsonPath.FindStringSubmatch(m)
		switch key, rest := g[1], g[2]; rest {
		case " IS NULL":
			return `details::jsonb->'` + key + `' IS NULL`
		case " = ?":
			return `details::jsonb->>'` + key + `' = ?`
		case ")":
			return `(details::jsonb->>'` + key + `')::bigint)`
		default:
			if key == "count" {
				return `(details::jsonb->>'` + key + `')::bigint`
			}
			return `(details::jsonb->>'` + key + `')::boolean`
		}
	})
}

// The same webhook five times, then an older one, ends in one final state.
func TestWebhookDuplicatesAndOrder(t *testing.T) {
	e := newEnv(t)
	r := approvedCOLRefund(t, e)
	base := map[string]string{"merchantCode": "TEST01", "requestId": r.ID, "type": "REFUND", "collectionTransId": "FT24324HCM001", "amount": "50000"}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	success := colHook(t, with("approvalStatus", "APPROVED", "status", "SUCCESS", "note", "done"))
	for i := range 5 {
		if res := e.postRaw("/webhooks/neox/col", success, nil); res.status != http.StatusOK {
			t.Fatalf("delivery %d: %d %s", i, res.status, res.body)
		}
	}
	// An older event arriving late must not move the refund backwards.
	if res := e.postRaw("/webhooks/neox/col", colHook(t, with("approvalStatus", "PENDING", "note", "waiting")), nil); res.status != http.StatusOK {
		t.Fatalf("late event: %d", res.status)
	}
	got, _ := e.refunds.Get(context.Background(), r.ID)
	if got.Submission != "SUCCEEDED" {
		t.Fatalf("submission %s, want SUCCEEDED", got.Submission)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = 'refund.state_changed' AND target_id = ? AND details LIKE '%SUCCEEDED%'`, r.ID); n != 1 {
		t.Errorf("%d transitions to SUCCEEDED audited, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = 'webhook.received' AND target_id = ?`, r.ID); n != 6 {
		t.Errorf("%d webhook deliveries audited, want 6", n)
	}
}

func TestWebhookRefusals(t *testing.T) {
	e := newEnv(t)
	r := approvedCOLRefund(t, e)
	good := colHook(t, map[string]string{"merchantCode": "TEST01", "requestId": r.ID, "type": "REFUND", "collectionTransId": "FT24324HCM001",
		"amount": "50000", "approvalStatus": "APPROVED", "status": "SUCCESS"})
	forged := strings.Replace(good, `"SUCCESS"`, `"FAILED"`, 1)
	tests := []struct {
		name, path, body string
		want             int
	}{
		{"bad signature", "/webhooks/neox/col", forged, http.StatusUnauthorized},
		{"not JSON", "/webhooks/neox/col", `{"requestId":`, http.StatusBadRequest},
		{"empty", "/webhooks/neox/col", ``, http.StatusBadRequest},
		{"too large", "/webhooks/neox/col", `{"x":"` + strings.Repeat("a", 70<<10) + `"}`, http.StatusRequestEntityTooLarge},
		{"PG fields on the GC endpoint", "/webhooks/neox/gc", `{"neo_Command":"REFUND"}`, http.StatusBadRequest},
		{"unsigned GC body", "/webhooks/neox/gc", `{"refundRequestId":"RF-1","status":"FAILED"}`, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if res := e.postRaw(tt.path, tt.body, nil); res.status != tt.want {
				t.Fatalf("status %d, want %d (%s)", res.status, tt.want, res.body)
			}
			if got, _ := e.refunds.Get(context.Background(), r.ID); got.Submission != "PROCESSING" {
				t.Fatalf("a refused webhook changed the refund to %s", got.Submission)
			}
		})
	}
	// An event for a refund this desk does not know is kept for review and acknowledged.
	unknown := colHook(t, map[string]string{"merchantCode": "TEST01", "requestId": uuid.NewString(), "type": "REFUND",
		"collectionTransId": "FT99999", "amount": "1", "approvalStatus": "APPROVED", "status": "SUCCESS"})
	if res := e.postRaw("/webhooks/neox/col", unknown, nil); res.status != http.StatusOK {
		t.Fatalf("unknown refund: %d", res.status)
	}
	hooks, err := e.db.UnmatchedWebhooks(context.Background(), 10)
	if err != nil || len(hooks) != 1 {
		t.Fatalf("unmatched webhooks: %v, %v", hooks, err)
	}
	// The good one still applies after all that.
	if res := e.postRaw("/webhooks/neox/col", good, nil); res.status != http.StatusOK {
		t.Fatalf("good webhook: %d", res.status)
	}
	if got, _ := e.refunds.Get(context.Background(), r.ID); got.Submission != "SUCCEEDED" {
		t.Fatalf("submission %s", got.Submission)
	}
}

// PG IPNs are answered in the format NeoX expects.
func TestWebhookPGAnswer(t *testing.T) {
	e := newEnv(t)
	fields := map[string]string{"neo_MerchantCode": "TEST01", "neo_Command": "REFUND", "neo_OrderID": "o1", "neo_PaymentID": "1",
		"neo_RequestID": uuid.NewString(), "neo_TransactionID": "T1", "neo_Amount": "1000", "neo_Fee": "0", "neo_Version": "1",
		"neo_ResponseCode": "0", "neo_ResponseMsg": "ok"}
	fields["neo_SecureHash"] = strings.ToUpper(neox.PGHash(fields, "pg-secret-for-tests"))
	body, _ := json.Marshal(fields)
	res := e.postRaw("/webhooks/neox/pg", string(body), nil)
	if res.status != http.StatusOK || strings.TrimSpace(res.body) != `{"respcode":0,"respmsg":"received"}` {
		t.Fatalf("PG IPN answer: %d %q", res.status, res.body)
	}
}
