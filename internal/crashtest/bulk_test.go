package crashtest

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

// TestKilledWhileCheckingAFile kills the server (SIGKILL) while it checks
// an uploaded refund file against a slow NeoX, restarts it, and checks
// that the file is resumed at start: the verdicts written before the kill
// stay, only the rows left unchecked are asked at NeoX again (each row at
// most twice: the verdicts the kill lost were in flight or not yet
// written, at most a flush interval's worth), every row ends checked, and
// the batch is finished once.
func TestKilledWhileCheckingAFile(t *testing.T) {
	c := newCluster(t)
	// NeoX's PG host behind a counter of its QUERY_PT calls.
	var queries atomic.Int64
	target, err := url.Parse(c.sb.URL())
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries.Add(1)
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(proxy.Close)
	c.setEnv("NEOX_PG_URL="+proxy.URL, "BULK_LOOKUP_CONCURRENCY=2")

	const rows = 20
	var file bytes.Buffer
	file.WriteString("product,reference,payment_id,amount,currency,reason_code,reason_text\n")
	for i := range rows {
		ref, pay := fmt.Sprintf("2412%08dKILL", i), fmt.Sprintf("7%06d", i)
		c.sb.AddPGTransaction(sandbox.PGTransaction{ID: ref, OrderID: "K-" + ref,
			Payments: []sandbox.PGPayment{{ID: pay, Status: "SUCCESS", Method: "ATM", Amount: 500_000}}})
		fmt.Fprintf(&file, "PG,%s,%s,1000,VND,customer_request,kill %d\n", ref, pay, i)
	}
	c.start()
	c.sb.SetLatency(250 * time.Millisecond)
	c.sb.InjectFault(sandbox.OpPGQuery, sandbox.FaultLatency, 10_000)
	id := c.upload("staff", file.Bytes())

	checked := func() (n int, state string) {
		db := c.readDB()
		if !c.pg {
			defer db.Close()
		}
		if err := db.QueryRow(`SELECT count(*) FROM refund_batch_rows WHERE batch_id = ? AND status <> 'CHECKING'`, id).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(`SELECT state FROM refund_batches WHERE id = ?`, id).Scan(&state); err != nil {
			t.Fatal(err)
		}
		return n, state
	}
	deadline := time.Now().Add(30 * time.Second)
	for n, _ := checked(); n < 4; n, _ = checked() {
		if time.Now().After(deadline) {
			t.Fatalf("only %d rows checked after 30 s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.stop(syscall.SIGKILL)
	atKill, state := checked()
	if state != "CHECKING" || atKill == rows {
		t.Fatalf("killed too late: %s, %d of %d rows checked", state, atKill, rows)
	}
	first := queries.Load()

	c.sb.SetLatency(10 * time.Millisecond)
	c.start()
	deadline = time.Now().Add(60 * time.Second)
	for _, st := checked(); st == "CHECKING"; _, st = checked() {
		if time.Now().After(deadline) {
			t.Fatal("the file was not resumed within 60 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	n, st := checked()
	second := queries.Load() - first
	if st != "PREVIEW" || n != rows {
		t.Fatalf("after the restart: %s, %d of %d rows checked", st, n, rows)
	}
	if second != int64(rows-atKill) {
		t.Errorf("the restarted server asked NeoX %d times for %d unchecked rows", second, rows-atKill)
	}
	// Asked twice: only rows whose verdict the kill lost (in flight, or
	// checked within the last flush interval and not yet written).
	if first < int64(atKill) || first+second-rows > first-int64(atKill) {
		t.Errorf("%d + %d lookups for %d rows, %d written before the kill", first, second, rows, atKill)
	}
	page := c.get("staff", "/batches/"+id)
	if got := strings.Count(page, `data-status="OK"`); got != rows {
		t.Errorf("%d valid rows on the page, want %d", got, rows)
	}
	if n := c.auditCount(`action = 'batch.checked'`); n != 1 {
		t.Errorf("%d batch.checked events", n)
	}
	c.verifyAudit()
	t.Logf("killed with %d of %d rows checked (%d lookups), resumed with %d lookups", atKill, rows, first, second)
}

// upload posts a refund file to /batches as user and returns the batch id.
func (c *cluster) upload(user string, data []byte) string {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "kill.csv")
	if err != nil {
		c.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, c.base+"/batches", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.base)
	resp, err := c.client(user).Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/batches/") {
		c.t.Fatalf("upload: %d %q", resp.StatusCode, loc)
	}
	return strings.TrimPrefix(loc, "/batches/")
}
