package store

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// BenchmarkAuditAppendContended is many writers appending at once, as
// the desk's requests do: each transaction appends two events (a webhook's
// receipt and the state change it makes, a NeoX call and its outcome),
// from 16 goroutines per core. On PostgreSQL every appender waits for the
// chain's head row, which its holder keeps until it has committed, so
// what counts is how few round trips the holder makes. "go-row-by-row"
// links in Go and inserts each event with its own statement, then moves
// the head; "go-chunked" inserts the two events in one statement
// (auditChunks); "db-linked" (PostgreSQL only, what the store does there)
// puts them in audit_pending and the COMMIT links them (auditLinkInDB).
// Run on both databases (STORE_TEST_DIALECT=postgres for PostgreSQL) and
// compare the sub-benchmarks' tx/s of one run. AUDIT_BENCH_RTT (say
// 500us) puts PostgreSQL that much further away per round trip, through a
// delaying proxy on loopback (storetest.Delayed), as a managed database a
// network away would be.
func BenchmarkAuditAppendContended(b *testing.B) {
	var rtt time.Duration
	if v := os.Getenv("AUDIT_BENCH_RTT"); v != "" {
		var err error
		if rtt, err = time.ParseDuration(v); err != nil || rtt < 0 {
			b.Fatalf("AUDIT_BENCH_RTT=%q: want a duration such as 500us", v)
		}
	}
	for _, mode := range []struct {
		name   string
		chunks []int
		inDB   bool
	}{{"go-row-by-row", []int{1}, false}, {"go-chunked", auditChunks, false}, {"db-linked", auditChunks, true}} {
		b.Run(mode.name, func(b *testing.B) {
			if mode.inDB && storetest.DialectOf(b) != storetest.Postgres {
				b.Skip("SQLite links in Go")
			}
			saved, savedInDB := auditChunks, auditLinkInDB
			// Before Open, which prepares the statements.
			auditChunks, auditLinkInDB = mode.chunks, mode.inDB
			defer func() { auditChunks, auditLinkInDB = saved, savedInDB }()
			u := storetest.URL(b, "")
			if rtt > 0 && storetest.DialectOf(b) == storetest.Postgres {
				u = storetest.Delayed(b, u, rtt/2)
			}
			db, err := OpenURL(context.Background(), u, PoolConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			// The round trip as measured: a proxy's sleeps overshoot.
			start := time.Now()
			for range 20 {
				if _, err := db.Read.ExecContext(ctx, `SELECT 1`); err != nil {
					b.Fatal(err)
				}
			}
			roundTrip := time.Since(start) / 20
			var seen atomic.Int64
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := seen.Add(1)
					err := db.Tx(ctx, func(tx *Tx) error {
						for range 2 {
							if err := tx.AppendAudit(ctx, auditDraft(fmt.Sprint("rf-", n), 1)); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			b.ReportMetric(float64(roundTrip.Microseconds()), "rtt-µs")
		})
	}
}
