package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// The tests in this file play an attacker who holds genuine NeoX
// notifications (captured, or read from a log) but not the secrets. NeoX
// signs values concatenated without separators, so the attacker can move
// bytes between adjacent fields, or into a new field, and keep a valid
// hash. Whatever they post, no refund may change.

const pgTestSecret = "pg-secret-for-tests"

// refundIn creates a refund through the service and puts it in submission
// state sub with NeoX refund id neoxID, as the worker would have left it.
// QUEUED is where approval leaves it; PENDING leaves it unapproved.
func (e *env) refundIn(req refunds.NewRequest, sub, neoxID string) refunds.Refund {
	e.t.Helper()
	ctx := context.Background()
	staff := e.actor("forge-staff", auth.RoleStaff)
	mgr := e.actor("forge-manager", auth.RoleManager)
	req.IdempotencyKey = uuid.NewString()
	if req.ReasonCode == "" {
		req.ReasonCode, req.ReasonText = "other", "forgery test"
	}
	r, err := e.refunds.Create(ctx, staff, req)
	if err != nil {
		e.t.Fatalf("create %s refund: %v", req.API, err)
	}
	if sub == "PENDING" {
		return r
	}
	if _, err := e.refunds.Approve(ctx, mgr, r.ID, ""); err != nil {
		e.t.Fatal(err)
	}
	if sub != refunds.SubQueued {
		if _, err := e.db.Write.Exec(`UPDATE refunds SET submission = ?, attempts = 1, neox_refund_id = ? WHERE id = ?`,
			sub, neoxID, r.ID); err != nil {
			e.t.Fatal(err)
		}
	}
	got, err := e.refunds.Get(ctx, r.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	return got
}

// actor returns a refunds.Actor for a user, creating it on first use.
func (e *env) actor(name string, role auth.Role) refunds.Actor {
	e.t.Helper()
	u, err := e.auth.UserByUsername(context.Background(), name)
	if err != nil {
		u = e.user(name, role)
	}
	return refunds.Actor{ID: u.ID, Name: u.Username, Role: role}
}

// snapshot is what must not change on a refund that a forgery targets.
func (e *env) snapshot(id string) string {
	e.t.Helper()
	r, err := e.refunds.Get(context.Background(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("%s/%s/%s/%s/%s/%s/%s", r.Approval, r.Submission, r.NeoXRefundID, r.NeoXStatus, r.NeoXCode,
		r.FailedReason, r.UpdatedAt)
}

// notification is a signed NeoX notification as its fields' text.
type notification struct {
	path    string
	hashKey string
	fields  map[string]string
}

func pgNotification(fields map[string]string) notification {
	f := cloneFields(fields)
	f["neo_SecureHash"] = strings.ToUpper(neox.PGHash(f, pgTestSecret))
	return notification{"/webhooks/neox/pg", "neo_SecureHash", f}
}

func openAPINotification(path, secret string, fields map[string]string) notification {
	return notification{path, "secureHash", neox.SignOpenAPIWebhook(cloneFields(fields), secret)}
}

func cloneFields(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (n notification) body(t testing.TB) string {
	t.Helper()
	b, err := json.Marshal(n.fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// signedValues is the byte string NeoX's hash covers, secret aside.
func (n notification) signedValues() string {
	keys := make([]string, 0, len(n.fields))
	for k := range n.fields {
		if k != n.hashKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var sb strings.Builder
	for _, k := range keys {
		sb.WriteString(n.fields[k])
	}
	return sb.String()
}

// recuts returns every re-cut of n that keeps its hash valid: for each
// pair of adjacent fields (in the key order the hash uses), 1..all bytes
// moved from the left value to the right one and back, and each value
// moved, whole or from its middle, into a new key that sorts right after
// its own.
func recuts(t *testing.T, n notification) map[string]notification {
	t.Helper()
	keys := make([]string, 0, len(n.fields))
	for k := range n.fields {
		if k != n.hashKey {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := map[string]notification{}
	add := func(name string, f map[string]string) {
		c := notification{n.path, n.hashKey, f}
		if c.signedValues() != n.signedValues() {
			t.Fatalf("re-cut %s does not keep the signed bytes", name)
		}
		out[name] = c
	}
	for i := 0; i+1 < len(keys); i++ {
		l, r := keys[i], keys[i+1]
		lv, rv := n.fields[l], n.fields[r]
		for k := 1; k <= len(lv); k++ {
			f := cloneFields(n.fields)
			f[l], f[r] = lv[:len(lv)-k], lv[len(lv)-k:]+rv
			add(fmt.Sprintf("%d bytes %s→%s", k, l, r), f)
		}
		for k := 1; k <= len(rv); k++ {
			f := cloneFields(n.fields)
			f[l], f[r] = lv+rv[:k], rv[k:]
			add(fmt.Sprintf("%d bytes %s←%s", k, l, r), f)
		}
	}
	for _, k := range keys {
		v := n.fields[k]
		for _, cut := range []int{0, len(v) / 2} {
			f := cloneFields(n.fields)
			f[k], f[k+"0"] = v[:cut], v[cut:]
			add(fmt.Sprintf("%s from byte %d into %s0", k, cut, k), f)
		}
	}
	return out
}

// post sends n and returns the status.
func (e *env) postNotification(n notification) result {
	e.t.Helper()
	return e.postRaw(n.path, n.body(e.t), nil)
}

// forgeryCase is one product's scene: a refund whose genuine notification
// the attacker holds (already applied, so the refund is final), and a
// victim refund in flight with the same product, target and amount.
type forgeryCase struct {
	name     string
	captured func(a refunds.Refund) notification
	// genuine is the victim's own, later notification: NeoX's real word.
	genuine  func(b refunds.Refund) notification
	setup    func(e *env) (a, b refunds.Refund)
	wantB    string // victim's submission after its genuine notification
	wantAAPI refunds.API
}

func pgFields(r refunds.Refund, neoxID, code, msg string) map[string]string {
	return map[string]string{"neo_MerchantCode": "TEST01", "neo_Command": "REFUND", "neo_OrderID": "BK-DN-778120",
		"neo_PaymentID": r.PaymentID, "neo_RequestID": r.ID, "neo_TransactionID": neoxID,
		"neo_Amount": strconv.FormatInt(r.Amount, 10), "neo_Fee": "3300", "neo_Version": "1",
		"neo_ResponseCode": code, "neo_ResponseMsg": msg}
}

func gcFields(r refunds.Refund, neoxID, status, note string) map[string]string {
	return map[string]string{"refundRequestId": neoxID, "type": "REFUND", "merchantCode": "TEST01",
		"collectionOrderId": r.TransactionRef, "amount": neox.FormatMinor(r.Amount, r.Currency), "currency": r.Currency,
		"status": status, "note": note, "createdAt": "2026-11-25T09:00:00+07:00"}
}

func colFields(r refunds.Refund, approval, status, note string) map[string]string {
	return map[string]string{"merchantCode": "TEST01", "requestId": r.ID, "type": "REFUND",
		"collectionTransId": r.TransactionRef, "approvalStatus": approval, "status": status,
		"bankSwiftCode": "", "bankAccountNumber": "", "bankAccountName": "", "amount": strconv.FormatInt(r.Amount, 10),
		"note": note, "failedReason": "", "createdAt": "2026-11-25T09:00:00+07:00"}
}

var forgeryCases = []forgeryCase{
	{
		name: "PG",
		setup: func(e *env) (refunds.Refund, refunds.Refund) {
			req := refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240902141210DNGHTL", PaymentID: "1440002", Amount: 100_000}
			return e.refundIn(req, refunds.SubProcessing, "XBSKM1OELUDA"), e.refundIn(req, refunds.SubProcessing, "XBSKM1OELUDB")
		},
		captured: func(a refunds.Refund) notification {
			return pgNotification(pgFields(a, a.NeoXRefundID, "0", "Success"))
		},
		genuine: func(b refunds.Refund) notification {
			return pgNotification(pgFields(b, b.NeoXRefundID, "1", "Refund rejected by issuing bank"))
		},
		wantB: refunds.SubFailed,
	},
	{
		name: "GC",
		setup: func(e *env) (refunds.Refund, refunds.Refund) {
			req := refunds.NewRequest{API: refunds.APIGC, TransactionRef: "CO-20240502-000200001", FeeChargeWay: "OUR"}
			a := e.refundIn(req, refunds.SubProcessing, "RF-20240502-000000011")
			// GC refunds a whole order: A's failure frees the order for B.
			if res := e.postNotification(openAPINotification("/webhooks/neox/gc", "gc-hook",
				gcFields(a, a.NeoXRefundID, "FAILED", "Payer bank returned the transfer"))); res.status != http.StatusOK {
				e.t.Fatalf("A's failure: %d %s", res.status, res.body)
			}
			return a, e.refundIn(req, refunds.SubProcessing, "RF-20240502-000000012")
		},
		captured: func(a refunds.Refund) notification {
			return openAPINotification("/webhooks/neox/gc", "gc-hook", gcFields(a, a.NeoXRefundID, "FAILED", "Payer bank returned the transfer"))
		},
		genuine: func(b refunds.Refund) notification {
			return openAPINotification("/webhooks/neox/gc", "gc-hook", gcFields(b, b.NeoXRefundID, "SUCCESS", "Refund completed"))
		},
		wantB: refunds.SubSucceeded,
	},
	{
		name: "COL",
		setup: func(e *env) (refunds.Refund, refunds.Refund) {
			req := refunds.NewRequest{API: refunds.APICOL, TransactionRef: "FT24324HCM001", Amount: 50_000}
			return e.refundIn(req, refunds.SubProcessing, ""), e.refundIn(req, refunds.SubProcessing, "")
		},
		captured: func(a refunds.Refund) notification {
			return openAPINotification("/webhooks/neox/col", "col-hook", colFields(a, "APPROVED", "SUCCESS", "Refund completed"))
		},
		genuine: func(b refunds.Refund) notification {
			return openAPINotification("/webhooks/neox/col", "col-hook", colFields(b, "APPROVED", "FAILED", "Refund failed"))
		},
		wantB: refunds.SubFailed,
	},
}

// TestWebhookRecutsChangeNothing: every re-cut of a captured notification
// that keeps its hash valid is refused or kept for review; neither the
// refund it was for nor another in-flight refund of the same product,
// target and amount changes; the victim's own genuine notification still
// applies afterwards.
func TestWebhookRecutsChangeNothing(t *testing.T) {
	for _, tc := range forgeryCases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			a, b := tc.setup(e)
			captured := tc.captured(a)
			if captured.path != "/webhooks/neox/gc" { // GC's A was settled in setup
				if res := e.postNotification(captured); res.status != http.StatusOK {
					t.Fatalf("captured notification, delivered genuinely: %d %s", res.status, res.body)
				}
			}
			if got, _ := e.refunds.Get(context.Background(), a.ID); !got.Final() {
				t.Fatalf("A not final after its own notification: %s", got.Submission)
			}
			beforeA, beforeB := e.snapshot(a.ID), e.snapshot(b.ID)
			applied := e.count(`SELECT count(*) FROM webhook_events WHERE applied = 'applied'`)
			cuts := recuts(t, captured)
			if len(cuts) < 100 {
				t.Fatalf("only %d re-cuts", len(cuts))
			}
			statuses := map[int]int{}
			for name, n := range cuts {
				res := e.postNotification(n)
				statuses[res.status]++
				if res.status == http.StatusOK && !strings.Contains(res.body, "received") {
					t.Fatalf("%s: odd answer %q", name, res.body)
				}
				if got := e.snapshot(b.ID); got != beforeB {
					t.Fatalf("%s moved the victim: %s → %s", name, beforeB, got)
				}
				if got := e.snapshot(a.ID); got != beforeA {
					t.Fatalf("%s moved the captured notification's refund: %s → %s", name, beforeA, got)
				}
			}
			if n := e.count(`SELECT count(*) FROM webhook_events WHERE applied = 'applied'`); n != applied {
				t.Fatalf("%d re-cuts were applied", n-applied)
			}
			if statuses[http.StatusBadRequest] == 0 || statuses[http.StatusUnauthorized]+statuses[http.StatusUnprocessableEntity] == 0 {
				t.Errorf("answers = %v: expected undocumented-field refusals and signature/mismatch refusals", statuses)
			}
			t.Logf("%d re-cuts, answers %v", len(cuts), statuses)

			// NeoX's real word on the victim is not taken for a stale replay.
			if res := e.postNotification(tc.genuine(b)); res.status != http.StatusOK {
				t.Fatalf("victim's genuine notification: %d %s", res.status, res.body)
			}
			if got, _ := e.refunds.Get(context.Background(), b.ID); got.Submission != tc.wantB {
				t.Fatalf("victim = %s after its genuine notification, want %s", got.Submission, tc.wantB)
			}
		})
	}
}

// TestWebhookMismatchesAreKeptForReview: notifications signed with the
// real secret (as if NeoX itself sent them) that disagree with what the
// desk stored, or name a refund the desk never sent, are refused with 422,
// change nothing, and are listed for managers as suspicious.
func TestWebhookMismatchesAreKeptForReview(t *testing.T) {
	e := newEnv(t)
	pg := e.refundIn(refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240902141210DNGHTL", PaymentID: "1440002",
		Amount: 100_000}, refunds.SubProcessing, "XBSKM1OELUDA")
	col := e.refundIn(refunds.NewRequest{API: refunds.APICOL, TransactionRef: "FT24324HCM001", Amount: 50_000},
		refunds.SubProcessing, "")
	gc := e.refundIn(refunds.NewRequest{API: refunds.APIGC, TransactionRef: "CO-20240502-000200001", FeeChargeWay: "OUR"},
		refunds.SubProcessing, "RF-20240502-000000021")
	queued := e.refundIn(refunds.NewRequest{API: refunds.APICOL, TransactionRef: "FT24325HNI002", Amount: 70_000},
		refunds.SubQueued, "")
	pending := e.refundIn(refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240901101500HCMCAF", PaymentID: "1440001",
		Amount: 20_000}, "PENDING", "")

	with := func(m map[string]string, kv ...string) map[string]string {
		m = cloneFields(m)
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	pgOK := pgFields(pg, pg.NeoXRefundID, "0", "Success")
	gcOK := gcFields(gc, gc.NeoXRefundID, "SUCCESS", "done")
	colOK := colFields(col, "APPROVED", "SUCCESS", "done")
	gcHook := func(m map[string]string) notification { return openAPINotification("/webhooks/neox/gc", "gc-hook", m) }
	colHook := func(m map[string]string) notification {
		return openAPINotification("/webhooks/neox/col", "col-hook", m)
	}
	tests := []struct {
		name   string
		n      notification
		target refunds.Refund
		reason string
	}{
		{"PG IPN for a COL refund", pgNotification(with(pgOK, "neo_RequestID", col.ID, "neo_Amount", "50000")), col, refunds.ReasonAPI},
		{"COL event for a PG refund", colHook(with(colOK, "requestId", pg.ID, "amount", "100000")), pg, refunds.ReasonAPI},
		{"GC event with a PG refund's NeoX id", gcHook(with(gcOK, "refundRequestId", pg.NeoXRefundID)), pg, refunds.ReasonAPI},
		{"PG other payment", pgNotification(with(pgOK, "neo_PaymentID", "1440003")), pg, refunds.ReasonTarget},
		{"PG other amount", pgNotification(with(pgOK, "neo_Amount", "100001")), pg, refunds.ReasonAmount},
		{"PG other NeoX refund id", pgNotification(with(pgOK, "neo_TransactionID", "XBSKM1OELUDZ")), pg, refunds.ReasonNeoXRefundID},
		{"GC other order", gcHook(with(gcOK, "collectionOrderId", "CO-20240501-000123456")), gc, refunds.ReasonTarget},
		{"GC other currency", gcHook(with(gcOK, "currency", "USD")), gc, refunds.ReasonCurrency},
		{"GC other amount", gcHook(with(gcOK, "amount", "89.91")), gc, refunds.ReasonAmount},
		{"COL other transaction", colHook(with(colOK, "collectionTransId", "FT24325HNI002")), col, refunds.ReasonTarget},
		{"COL other amount", colHook(with(colOK, "amount", "50001")), col, refunds.ReasonAmount},
		{"COL refund never sent (QUEUED)", colHook(colFields(queued, "APPROVED", "SUCCESS", "done")), queued, refunds.ReasonNotSent},
		{"PG refund never sent (PENDING)", pgNotification(pgFields(pending, "XBSKM1OELUDP", "0", "Success")), pending, refunds.ReasonNotSent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.snapshot(tt.target.ID)
			kept := `SELECT count(*) FROM webhook_events WHERE refund_id = ? AND applied = 'suspicious' AND reason = ?`
			keptBefore := e.count(kept, tt.target.ID, tt.reason)
			res := e.postNotification(tt.n)
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d (%s), want 422", res.status, res.body)
			}
			if got := e.snapshot(tt.target.ID); got != before {
				t.Fatalf("refund changed: %s → %s", before, got)
			}
			// NeoX retries until acknowledged: a redelivery is refused again.
			if res := e.postNotification(tt.n); res.status != http.StatusUnprocessableEntity {
				t.Fatalf("redelivery: %d", res.status)
			}
			if n := e.count(kept, tt.target.ID, tt.reason); n != keptBefore+1 {
				t.Fatalf("%d new suspicious rows with reason %s, want 1", n-keptBefore, tt.reason)
			}
			if n := e.count(`SELECT count(*) FROM audit_events WHERE action = 'webhook.received' AND outcome = 'denied'
				AND target_id = ? AND details LIKE ?`, tt.target.ID, `%"reason":"`+tt.reason+`"%`); n < 2 {
				t.Fatalf("%d denied audit rows for it", n)
			}
		})
	}
	list, err := e.refunds.SuspiciousWebhooks(context.Background(), 100)
	if err != nil || len(list) != len(tests) {
		t.Fatalf("suspicious list: %d, %v", len(list), err)
	}
	if c, err := e.db.CountRefunds(context.Background()); err != nil || c.Review != len(tests) {
		t.Fatalf("counts: %+v %v", c, err)
	}
	// Managers see them, in words, on the needs-attention page and a count
	// on their home page; staff cannot open the page.
	e.user("forge-viewer", auth.RoleManager)
	mgr := e.login("forge-viewer")
	page := e.get(mgr, "/attention")
	if page.status != http.StatusOK || strings.Count(page.body, `data-testid="suspicious-row"`) != len(tests) ||
		!strings.Contains(page.body, "The desk has not sent this refund to NeoX") ||
		!strings.Contains(page.body, "Another amount than the refund") {
		t.Fatalf("attention page: %d %.400s", page.status, page.body)
	}
	if home := e.get(mgr, "/"); !strings.Contains(home.body, "NeoX notifications kept for review") {
		t.Fatalf("home page has no count of suspicious deliveries")
	}
	if res := e.get(e.login("forge-staff"), "/attention"); res.status != http.StatusForbidden {
		t.Fatalf("staff: %d", res.status)
	}
	// The refunds still take NeoX's real word.
	for path, n := range map[string]notification{"pg": pgNotification(pgOK), "gc": gcHook(gcOK), "col": colHook(colOK)} {
		if res := e.postNotification(n); res.status != http.StatusOK {
			t.Fatalf("%s genuine: %d %s", path, res.status, res.body)
		}
	}
	for _, r := range []refunds.Refund{pg, gc, col} {
		if got, _ := e.refunds.Get(context.Background(), r.ID); got.Submission != refunds.SubSucceeded {
			t.Fatalf("%s = %s after its genuine notification", r.API, got.Submission)
		}
	}
}

// TestWebhookUndocumentedFieldsRefused: a field outside the documented set
// is refused with 400 and audited, even when the real secret signed it.
func TestWebhookUndocumentedFieldsRefused(t *testing.T) {
	e := newEnv(t)
	pg := e.refundIn(refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240902141210DNGHTL", PaymentID: "1440002",
		Amount: 100_000}, refunds.SubProcessing, "XBSKM1OELUDA")
	before := e.snapshot(pg.ID)
	for _, extra := range []string{"neo_Note", "neo_requestid", "refundRequestId"} {
		f := pgFields(pg, pg.NeoXRefundID, "0", "Success")
		f[extra] = "x"
		denied := e.auditCount("webhook.received")
		if res := e.postNotification(pgNotification(f)); res.status != http.StatusBadRequest {
			t.Fatalf("%s: status %d", extra, res.status)
		}
		if e.auditCount("webhook.received") != denied+1 {
			t.Fatalf("%s: refusal not audited", extra)
		}
	}
	if got := e.snapshot(pg.ID); got != before {
		t.Fatalf("refund changed: %s → %s", before, got)
	}
}

// TestWebhookPGDocSampleAccepted: NeoX's own IPN sample, byte for byte,
// settles the refund it names (merchant UFLIYL, the doc secret).
func TestWebhookPGDocSampleAccepted(t *testing.T) {
	e := newEnv(t)
	const id = "a68de39f-ea76-43fb-848f-b605b4aaf44e"
	now := e.clock.Now().UTC().Format(store.TimeFormat)
	if _, err := e.db.Write.Exec(`INSERT INTO refunds (id, api, transaction_ref, payment_id, amount, currency,
		payment_method, reason_code, requested_by, requested_by_name, requested_at, approval, decided_by,
		decided_by_name, decided_at, submission, attempts, updated_at)
		VALUES (?, 'PG', '240830080146NDTISR', '1439211', 10000, 'VND', 'QR', 'other', 1, 'lan', ?, 'APPROVED', 2,
		'minh', ?, 'PROCESSING', 1, ?)`, id, now, now, now); err != nil {
		t.Fatal(err)
	}
	srv := New(Deps{DB: e.db, Auth: e.auth, Audit: e.audit, Refunds: e.refunds, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Now: e.clock.Now,
		Webhooks: WebhookSecrets{Keys: refunds.Hooks{PG: refunds.HookKeys{Secret: "311235E7043244EC8306F96720748C56",
			Merchant: "UFLIYL"}}.Keys()}})
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	sample := `{"neo_MerchantCode":"UFLIYL","neo_Command":"REFUND","neo_OrderID":"DH7255715767",` +
		`"neo_PaymentID":"1439211","neo_RequestID":"a68de39f-ea76-43fb-848f-b605b4aaf44e",` +
		`"neo_TransactionID":"XBSKM1OELUDU","neo_Amount":10000,"neo_Fee":3300,"neo_Version":"1",` +
		`"neo_ResponseCode":0,"neo_ResponseMsg":"Success",` +
		`"neo_SecureHash":"3C97E508CBED7561759D049C5FA58BE2DE455EA4E7EE07B1DFDF2AFC4783E144"}`
	resp, err := http.Post(ts.URL+"/webhooks/neox/pg", "application/json", strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	got, err := e.refunds.Get(context.Background(), id)
	if err != nil || got.Submission != refunds.SubSucceeded || got.NeoXRefundID != "XBSKM1OELUDU" {
		t.Fatalf("refund = %+v, %v", got, err)
	}
}

// TestWebhookPGHashWithoutRequestIDRefused: an IPN whose hash leaves
// neo_RequestID out (the REFUND request sample's reading) would let anyone
// point a captured IPN at any refund: it is refused as a bad signature.
func TestWebhookPGHashWithoutRequestIDRefused(t *testing.T) {
	e := newEnv(t)
	req := refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240902141210DNGHTL", PaymentID: "1440002", Amount: 100_000}
	a := e.refundIn(req, refunds.SubProcessing, "XBSKM1OELUDA")
	b := e.refundIn(req, refunds.SubProcessing, "XBSKM1OELUDA")
	f := pgFields(a, a.NeoXRefundID, "0", "Success")
	delete(f, "neo_RequestID")
	f["neo_SecureHash"] = strings.ToUpper(neox.PGHash(f, pgTestSecret))
	f["neo_RequestID"] = b.ID
	before := e.snapshot(b.ID)
	if res := e.postNotification(notification{"/webhooks/neox/pg", "neo_SecureHash", f}); res.status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", res.status)
	}
	if got := e.snapshot(b.ID); got != before {
		t.Fatalf("refund changed: %s → %s", before, got)
	}
}
