package store

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// BenchmarkAuditAppendContended is many writers appending at once, as
// the desk's requests do: each transaction appends two events (a webhook's
// receipt and the state change it makes, a NeoX call and its outcome),
// from 16 goroutines per core. On PostgreSQL every appender waits for the
// chain's head row, which its holder keeps until it has committed, so
// what counts is how few round trips the holder makes. "row-by-row"
// inserts each event with its own statement and then moves the head, as
// the append did before; "chunked" inserts the two events in one
// statement (auditChunks); "chunked-moving" also moves the head in that
// statement (auditMoveWithInsert, PostgreSQL only; the same as "chunked"
// on SQLite). Run on both databases (STORE_TEST_DIALECT=postgres for
// PostgreSQL) and compare the sub-benchmarks' tx/s of one run.
func BenchmarkAuditAppendContended(b *testing.B) {
	for _, mode := range []struct {
		name   string
		chunks []int
		moving bool
	}{{"row-by-row", []int{1}, false}, {"chunked", auditChunks, false}, {"chunked-moving", auditChunks, true}} {
		b.Run(mode.name, func(b *testing.B) {
			saved, savedMoving := auditChunks, auditMoveWithInsert
			// Before Open, which prepares the statements.
			auditChunks, auditMoveWithInsert = mode.chunks, mode.moving
			defer func() { auditChunks, auditMoveWithInsert = saved, savedMoving }()
			db, err := OpenURL(context.Background(), storetest.URL(b, ""), PoolConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
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
		})
	}
}
