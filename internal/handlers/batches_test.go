package handlers

import (
	"bytes"
	"context"
	"encoding/csv"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// upload posts a CSV file to /batches as a browser would.
func (e *env) upload(c *http.Client, name string, data []byte) result {
	e.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		e.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	return e.doBody(c, http.MethodPost, "/batches", mw.FormDataContentType(), &body)
}

const bulkFile = "product,reference,payment_id,amount,currency,reason_code,reason_text,fee_charge_way,bank_swift,bank_account_number,bank_account_name\n" +
	"PG,240901101500HCMCAF,1440001,100.000,VND,customer_request,bulk one,,,,\n" + // 2: ok
	"PG,240902141210DNGHTL,1440002,200000,VND,customer_request,bulk two,,,,\n" + // 3: ok
	"PG,240901101500HCMCAF,1440001,5000,VND,customer_request,again,,,,\n" + // 4: duplicate of 2
	"PG,240904161530SGNFAL,1440005,1000,VND,customer_request,failed payment,,,,\n" + // 5: not refundable
	"GC,CO-20240502-000200001,,,EUR,customer_request,bulk gc,OUR,,,\n" + // 6: ok, the whole order
	"GC,CO-20240504-000200003,,,JPY,customer_request,in flight,OUR,,,\n" + // 7: a refund already pending
	"PG,240901101500HCMCAF,1440001,1.5,VND,customer_request,decimals,,,,\n" + // 8: not an amount
	"PG,240830080146NDTISR,1439211,500000,VND,customer_request,qr,,ASCBVNVX,0107201111,NGUYEN VAN A\n" + // 9: ok, QR with receiver
	"PG,240903090000HNIFLR,1440004,1000,VND,customer_request,qr without receiver,,,,\n" + // 10: QR needs the receiver
	"PG,240902141210DNGHTL,1440003,1000,VND,customer_request,failed attempt,,,,\n" + // 11: that payment FAILED
	"GC,CO-20240503-000200002,,,USD,customer_request,wrong currency,OUR,,,\n" // 12: the order is in SGD

// waitChecked waits until the background check of batch id is over
// (the batch left CHECKING), for at most 60 s, and returns its state.
func (e *env) waitChecked(id string) string {
	e.t.Helper()
	var state string
	e.waitFor(60*time.Second, "batch "+id+" checked", func() bool {
		if err := e.db.Read.QueryRow(`SELECT state FROM refund_batches WHERE id = ?`, id).Scan(&state); err != nil {
			e.t.Fatal(err)
		}
		return state != "CHECKING"
	})
	return state
}

// waitFor polls cond until it holds, failing the test after limit.
func (e *env) waitFor(limit time.Duration, what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s after %s", what, limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (e *env) countRows(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.db.Read.QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestBatchFlow: upload → preview (bad rows, a duplicate, one in flight,
// totals per currency) → submit → PENDING refunds with their own ids and
// audit rows → a second submit creates nothing → results.csv; another
// user sees and submits nothing.
func TestBatchFlow(t *testing.T) {
	e := newEnv(t)
	alice := e.user("alice", auth.RoleStaff)
	e.user("bob", auth.RoleStaff)
	ctx := context.Background()
	if _, err := e.refunds.Create(ctx, refunds.Actor{ID: alice.ID, Name: "alice", Role: alice.Role}, refunds.NewRequest{
		API: refunds.APIGC, TransactionRef: "CO-20240504-000200003", FeeChargeWay: "OUR", ReasonCode: "customer_request"}); err != nil {
		t.Fatal(err)
	}
	a, b := e.login("alice"), e.login("bob")

	res := e.upload(a, "march.csv", []byte(bulkFile))
	if res.status != http.StatusSeeOther || !strings.HasPrefix(res.header.Get("Location"), "/batches/") {
		t.Fatalf("upload: %d %s %.300s", res.status, res.header.Get("Location"), res.body)
	}
	page := res.header.Get("Location")
	id := strings.TrimPrefix(page, "/batches/")
	e.waitChecked(id)
	before := e.countRows(`SELECT count(*) FROM refunds`)

	res = e.get(a, page) // the preview survives a reload: it is read back
	if res.status != http.StatusOK {
		t.Fatalf("preview: %d", res.status)
	}
	wantStatus := map[string]string{"2": "OK", "3": "OK", "4": "ERROR", "5": "ERROR", "6": "OK", "7": "ERROR", "8": "ERROR", "9": "OK", "10": "ERROR", "11": "ERROR", "12": "ERROR"}
	for line, st := range wantStatus {
		if !strings.Contains(res.body, `data-line="`+line+`" data-status="`+st+`"`) {
			t.Errorf("line %s: want %s", line, st)
		}
	}
	for _, want := range []string{`data-currency="VND"`, `data-amount="800000"`, `data-currency="EUR"`, `data-amount="8990"`} {
		if !strings.Contains(res.body, want) {
			t.Errorf("totals lack %s", want)
		}
	}
	if !strings.Contains(res.body, "The same refund as line 2") { // the duplicate, in the user's language
		i := strings.Index(res.body, `data-line="4"`)
		t.Errorf("duplicate message missing: %.600s", res.body[max(i, 0):])
	}

	// Someone else: neither sees nor submits, nor downloads.
	for _, r := range []result{e.get(b, page), e.post(b, page+"/submit", url.Values{}), e.get(b, page+"/results.csv")} {
		if r.status != http.StatusForbidden {
			t.Errorf("bob: status %d, want 403", r.status)
		}
	}
	if strings.Contains(e.get(b, "/batches").body, id) {
		t.Error("bob's list shows alice's batch")
	}
	if n := e.countRows(`SELECT count(*) FROM refunds`); n != before {
		t.Fatalf("bob created %d refunds", n-before)
	}

	if res := e.post(a, page+"/submit", url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("submit: %d %.300s", res.status, res.body)
	}
	if n := e.countRows(`SELECT count(*) FROM refunds`); n != before+4 {
		t.Fatalf("%d refunds created, want 4", n-before)
	}
	rows, err := e.db.Read.Query(`SELECT r.id, r.approval, r.requested_by FROM refund_batch_rows b JOIN refunds r ON r.id = b.refund_id
		WHERE b.batch_id = ? ORDER BY b.row_no`, id)
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for rows.Next() {
		var rid, approval string
		var by int64
		if err := rows.Scan(&rid, &approval, &by); err != nil {
			t.Fatal(err)
		}
		if approval != "PENDING" || by != alice.ID {
			t.Errorf("refund %s: %s by %d", rid, approval, by)
		}
		if n := e.countRows(`SELECT count(*) FROM audit_events WHERE action = 'refund.requested' AND target_id = ?`, rid); n != 1 {
			t.Errorf("refund %s: %d refund.requested audit rows", rid, n)
		}
		ids[rid] = true
	}
	rows.Close()
	if len(ids) != 4 {
		t.Fatalf("%d distinct refunds on the batch, want 4", len(ids))
	}
	if n := e.auditCount("batch.submitted"); n != 1 {
		t.Fatalf("%d batch.submitted events", n)
	}

	// Submitting again (a double click, a resent form) creates nothing.
	if res := e.post(a, page+"/submit", url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("second submit: %d", res.status)
	}
	if n := e.countRows(`SELECT count(*) FROM refunds`); n != before+4 {
		t.Fatalf("second submit created %d more", n-before-4)
	}
	if n := e.auditCount("batch.submitted"); n != 1 {
		t.Fatalf("%d batch.submitted events after a second submit", n)
	}
	if n := e.countRows(`SELECT count(*) FROM refund_batch_rows WHERE batch_id = ? AND bank_account_number <> ''`, id); n != 0 {
		t.Errorf("%d rows keep an account number after the submit", n)
	}

	res = e.get(a, page+"/results.csv")
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("results: %d %s", res.status, res.header.Get("Content-Type"))
	}
	recs, err := csv.NewReader(strings.NewReader(res.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+len(wantStatus) {
		t.Fatalf("results has %d lines, want %d", len(recs), 1+len(wantStatus))
	}
	for _, rec := range recs[1:] {
		if rec[6] == "CREATED" && !ids[rec[8]] {
			t.Errorf("line %s: refund %q is not the batch's", rec[0], rec[8])
		}
		if want := map[string]string{"OK": "CREATED"}[wantStatus[rec[0]]]; want != "" && rec[6] != want {
			t.Errorf("line %s: %s, want %s", rec[0], rec[6], want)
		}
	}
	if !strings.Contains(e.get(a, "/batches").body, id) {
		t.Error("alice's list lacks her batch")
	}
}

// TestBatchSubmitTwiceAtOnce: two submits racing create each refund once
// and audit the batch once.
func TestBatchSubmitTwiceAtOnce(t *testing.T) {
	e := newEnv(t)
	e.user("alice", auth.RoleStaff)
	a := e.login("alice")
	page := e.upload(a, "race.csv", []byte(bulkFile)).header.Get("Location")
	if page == "" {
		t.Fatal("upload refused")
	}
	e.waitChecked(strings.TrimPrefix(page, "/batches/"))
	before := e.countRows(`SELECT count(*) FROM refunds`)
	var wg sync.WaitGroup
	codes := make([]int, 3)
	for i := range codes {
		wg.Go(func() { codes[i] = e.post(a, page+"/submit", url.Values{}).status })
	}
	wg.Wait()
	for _, c := range codes {
		if c != http.StatusSeeOther {
			t.Errorf("submit: %d", c)
		}
	}
	// Here nothing is in flight for line 7: five valid rows.
	if n := e.countRows(`SELECT count(*) FROM refunds`); n != before+5 {
		t.Fatalf("%d refunds created by racing submits, want 5", n-before)
	}
	if n := e.auditCount("batch.submitted"); n != 1 {
		t.Fatalf("%d batch.submitted events", n)
	}
}

// TestBatchUploadRefused: a file the desk cannot use keeps nothing and
// says why next to the field; the upload's larger body limit is its own.
func TestBatchUploadRefused(t *testing.T) {
	e := newEnv(t)
	e.user("alice", auth.RoleStaff)
	e.user("root", auth.RoleAdmin)
	a := e.login("alice")
	res := e.upload(a, "x.csv", []byte("name,amount\nbob,=cmd\n"))
	if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, `data-testid="error-file"`) {
		t.Fatalf("wrong header: %d", res.status)
	}
	big := bytes.Repeat([]byte("a"), uploadMaxBody+1)
	if res := e.upload(a, "big.csv", big); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("over the limit: %d", res.status)
	}
	// Four MiB is fine for the upload (refused for its content, not its
	// size) and too large for any other route.
	four := append([]byte("product,reference,payment_id,amount,currency,reason_code,reason_text\n"), bytes.Repeat([]byte("\n"), 4<<20)...)
	if res := e.upload(a, "blank.csv", four); res.status != http.StatusUnprocessableEntity {
		t.Fatalf("4 MiB upload: %d", res.status)
	}
	if res := e.doBody(a, http.MethodPost, "/refunds", "application/x-www-form-urlencoded",
		bytes.NewReader(append([]byte("a="), bytes.Repeat([]byte("b"), 4<<20)...))); res.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("4 MiB elsewhere: %d", res.status)
	}
	if res := e.doBody(a, http.MethodPost, "/batches", "multipart/form-data; boundary=xyz", strings.NewReader("--xyz\r\nContent-Disp")); res.status != http.StatusBadRequest {
		t.Fatalf("broken multipart: %d", res.status)
	}
	if n := e.countRows(`SELECT count(*) FROM refund_batches`); n != 0 {
		t.Fatalf("%d batches kept", n)
	}
	if res := e.get(e.login("root"), "/batches"); res.status != http.StatusForbidden {
		t.Fatalf("admin: %d", res.status)
	}
}

// doBody sends a same-origin request with a raw body.
func (e *env) doBody(c *http.Client, method, path, contentType string, body io.Reader) result {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Origin", e.url)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, string(b)}
}

// TestBatchHostileTextEscaped: a file's name and cells are shown as text,
// never as markup, and the result file neutralises formulas.
func TestBatchHostileTextEscaped(t *testing.T) {
	e := newEnv(t)
	e.user("alice", auth.RoleStaff)
	a := e.login("alice")
	file := "product,reference,payment_id,amount,currency,reason_code,reason_text\n" +
		"PG,<script>alert(1)</script>,=cmd|' /C calc'!A0,1000,VND,customer_request,x\n"
	res := e.upload(a, `<img src=x onerror=alert(1)>.csv`, []byte(file))
	if res.status != http.StatusSeeOther {
		t.Fatalf("upload: %d", res.status)
	}
	e.waitChecked(strings.TrimPrefix(res.header.Get("Location"), "/batches/"))
	page := e.get(a, res.header.Get("Location"))
	for _, bad := range []string{"<script>alert(1)", "<img src=x"} {
		if strings.Contains(page.body, bad) {
			t.Errorf("page carries %q unescaped", bad)
		}
	}
	if !strings.Contains(page.body, `data-status="ERROR"`) {
		t.Error("the hostile row is not an error")
	}
	csvBody := e.get(a, res.header.Get("Location")+"/results.csv").body
	if !strings.Contains(csvBody, "'=cmd|") {
		t.Errorf("formula not neutralised: %s", csvBody)
	}
}
