package handlers

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/bulk"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

// benchFile is a file of n refunds of n distinct PG payments the sandbox
// knows, so every row is looked up at NeoX (no duplicate short-cuts).
func benchFile(e *env, n int) []byte {
	var buf bytes.Buffer
	buf.WriteString("product,reference,payment_id,amount,currency,reason_code,reason_text\n")
	for i := range n {
		ref, pay := fmt.Sprintf("2412%08dBENCH", i), fmt.Sprintf("9%06d", i)
		e.sandbox.AddPGTransaction(sandbox.PGTransaction{ID: ref, OrderID: "B-" + ref,
			Payments: []sandbox.PGPayment{{ID: pay, Status: "SUCCESS", Method: "ATM", Amount: 500_000}}})
		fmt.Fprintf(&buf, "PG,%s,%s,100.000,VND,customer_request,bench %d\n", ref, pay, i)
	}
	return buf.Bytes()
}

// BenchmarkBatchPreview1000 uploads a 1,000-row file to a real server on
// loopback: every row checked with the refund form's rules and a NeoX
// lookup at the sandbox, the batch kept in SQLite.
func BenchmarkBatchPreview1000(b *testing.B) { benchPreview(b, 1000) }

// BenchmarkBatchPreview10000 is the largest file the desk accepts.
func BenchmarkBatchPreview10000(b *testing.B) { benchPreview(b, bulk.MaxRows) }

func benchPreview(b *testing.B, rows int) {
	e := newEnv(b)
	e.user("alice", auth.RoleStaff)
	c := e.login("alice")
	c.Timeout = 0
	data := benchFile(e, rows)
	b.ResetTimer()
	for range b.N {
		if res := e.upload(c, "bench.csv", data); res.status != http.StatusSeeOther {
			b.Fatalf("upload: %d %.200s", res.status, res.body)
		}
	}
	b.StopTimer()
	// Every row passed the checks (a row refused early would flatter the figure).
	if n := e.countRows(`SELECT count(*) FROM refund_batch_rows WHERE status = 'OK'`); n != rows*b.N {
		b.Fatalf("%d rows OK, want %d", n, rows*b.N)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// BenchmarkBatchParse1000 is the baseline: the same file parsed only.
func BenchmarkBatchParse1000(b *testing.B) {
	e := newEnv(b)
	data := benchFile(e, 1000)
	b.ResetTimer()
	for range b.N {
		if _, err := bulk.Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
