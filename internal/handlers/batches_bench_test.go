package handlers

import (
	"bytes"
	"flag"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/bulk"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

var (
	benchLatency = flag.Duration("bulk.latency", 100*time.Millisecond,
		"BenchmarkBatchPreview*Slow: how long the sandbox takes to answer each NeoX lookup")
	benchLookups = flag.Int("bulk.lookups", bulk.DefaultLookups,
		"BenchmarkBatchPreview*: rows checked at once (BULK_LOOKUP_CONCURRENCY)")
)

// benchFile is a file of n refunds of PG payments the sandbox knows, perTxn
// payments to a transaction: with 1, every row is its own NeoX lookup.
func benchFile(e *env, n, perTxn int) []byte {
	var buf bytes.Buffer
	buf.WriteString("product,reference,payment_id,amount,currency,reason_code,reason_text\n")
	for t := 0; t*perTxn < n; t++ {
		ref := fmt.Sprintf("2412%08dBENCH", t)
		var pays []sandbox.PGPayment
		for p := range min(perTxn, n-t*perTxn) {
			pay := fmt.Sprintf("9%06d", t*perTxn+p)
			pays = append(pays, sandbox.PGPayment{ID: pay, Status: "SUCCESS", Method: "ATM", Amount: 500_000})
			fmt.Fprintf(&buf, "PG,%s,%s,100.000,VND,customer_request,bench %d\n", ref, pay, t*perTxn+p)
		}
		e.sandbox.AddPGTransaction(sandbox.PGTransaction{ID: ref, OrderID: "B-" + ref, Payments: pays})
	}
	return buf.Bytes()
}

// BenchmarkBatchPreview1000 uploads a 1,000-row file to a real server on
// loopback and waits until the background check has checked every row
// (the refund form's rules and a NeoX lookup at the sandbox, verdicts kept
// in SQLite). The sandbox answers at once.
func BenchmarkBatchPreview1000(b *testing.B) { benchPreview(b, 1000, 1, 0) }

// BenchmarkBatchPreview10000 is the largest file the desk accepts.
func BenchmarkBatchPreview10000(b *testing.B) { benchPreview(b, bulk.MaxRows, 1, 0) }

// BenchmarkBatchPreview10000Slow: the largest file with NeoX answering
// each lookup after -bulk.latency (100 ms): the figure issue 18's "a
// 10,000-row file previews in seconds" is about. Each row its own
// transaction, so no lookup is shared.
func BenchmarkBatchPreview10000Slow(b *testing.B) { benchPreview(b, bulk.MaxRows, 1, *benchLatency) }

// BenchmarkBatchPreview10000SlowShared: the same with two payments to each
// PG transaction: rows of one transaction share its QUERY_PT answer.
func BenchmarkBatchPreview10000SlowShared(b *testing.B) {
	benchPreview(b, bulk.MaxRows, 2, *benchLatency)
}

func benchPreview(b *testing.B, rows, perTxn int, latency time.Duration) {
	e := newEnv(b, func(d *Deps) { d.BulkLookups = *benchLookups })
	e.user("alice", auth.RoleStaff)
	c := e.login("alice")
	c.Timeout = 0
	data := benchFile(e, rows, perTxn)
	if latency > 0 {
		e.sandbox.SetLatency(latency)
		e.sandbox.InjectFault(sandbox.OpPGQuery, sandbox.FaultLatency, 1<<30)
	}
	e.neoxCalls.api()
	var upload time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		res := e.upload(c, "bench.csv", data)
		if res.status != http.StatusSeeOther {
			b.Fatalf("upload: %d %.200s", res.status, res.body)
		}
		upload += time.Since(start)
		id := strings.TrimPrefix(res.header.Get("Location"), "/batches/")
		e.waitFor(time.Hour, "the file checked", func() bool {
			return e.countRows(`SELECT count(*) FROM refund_batches WHERE id = ? AND state = 'CHECKING'`, id) == 0
		})
	}
	b.StopTimer()
	// Every row passed the checks (a row refused early would flatter the figure).
	if n := e.countRows(`SELECT count(*) FROM refund_batch_rows WHERE status = 'OK'`); n != rows*b.N {
		b.Fatalf("%d rows OK, want %d", n, rows*b.N)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/file")
	b.ReportMetric(float64(upload.Milliseconds())/float64(b.N), "upload-ms")
	b.ReportMetric(float64(e.neoxCalls.api())/float64(b.N), "lookups/file")
	b.ReportMetric(float64(*benchLookups), "concurrency")
}

// BenchmarkBatchParse1000 is the baseline: the same file parsed only.
func BenchmarkBatchParse1000(b *testing.B) {
	e := newEnv(b)
	data := benchFile(e, 1000, 1)
	b.ResetTimer()
	for range b.N {
		if _, err := bulk.Parse(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "rows/s")
}
