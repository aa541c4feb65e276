package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// batchChecking stores a CHECKING batch of n rows (the last one refused by
// the file itself: ERROR from the start).
func batchChecking(t *testing.T, db *DB, id string, n int, at time.Time) {
	t.Helper()
	rows := make([]BatchRowRecord, n)
	for i := range rows {
		rows[i] = BatchRowRecord{RowNo: i + 2, API: "PG", TransactionRef: fmt.Sprintf("T%05d", i), PaymentID: "1",
			AmountText: "1000", Amount: 1000, Currency: "VND", ReasonCode: "customer_request", Status: "CHECKING",
			BankAccountNumber: "0107201111"}
	}
	rows[n-1].Status, rows[n-1].Message = "ERROR", "not an amount"
	refundTx(t, db, at, func(tx *Tx) error {
		return tx.InsertBatch(context.Background(), BatchRecord{ID: id, UploadedBy: 1, UploadedByName: "lan", Lang: "vi", State: "CHECKING"}, rows)
	})
}

func batchClaim(t *testing.T, db *DB, id, owner string, now time.Time, lease time.Duration, sole bool) bool {
	t.Helper()
	var ok bool
	refundTx(t, db, now, func(tx *Tx) error {
		var err error
		ok, err = tx.ClaimBatchCheck(context.Background(), id, owner, now.Add(lease), sole)
		return err
	})
	return ok
}

// TestBatchCheckLeases: one checker holds a batch at a time; another takes
// it over only once the lease ran out (or at once as the sole checker);
// the old owner then can neither write nor finish; the batch finishes only
// with no row left CHECKING; a cancelled batch is nobody's.
func TestBatchCheckLeases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		ctx := context.Background()
		db := openTest(t)
		const lease = 30 * time.Second
		batchChecking(t, db, "b1", 1200, refundT0) // more rows than one INSERT takes
		if p, err := db.BatchProgress(ctx, "b1"); err != nil || p.Rows != 1200 || p.Pending != 1199 {
			t.Fatalf("progress %+v %v", p, err)
		}
		if ids, err := db.CheckingBatches(ctx, 10); err != nil || len(ids) != 1 || ids[0] != "b1" {
			t.Fatalf("checking batches %v %v", ids, err)
		}
		if !batchClaim(t, db, "b1", "a", refundT0, lease, false) {
			t.Fatal("first claim lost")
		}
		if batchClaim(t, db, "b1", "b", refundT0.Add(lease-time.Second), lease, false) {
			t.Fatal("a live lease was taken over")
		}
		if !batchClaim(t, db, "b1", "a", refundT0.Add(time.Second), lease, false) {
			t.Fatal("the owner could not claim its own batch again")
		}
		// Verdicts and a renewal by the owner.
		unchecked, err := db.UncheckedRows(ctx, "b1")
		if err != nil || len(unchecked) != 1199 {
			t.Fatalf("unchecked %d %v", len(unchecked), err)
		}
		refundTx(t, db, refundT0.Add(2*time.Second), func(tx *Tx) error {
			ok, err := tx.RenewBatchLease(ctx, "b1", "a", refundT0.Add(2*time.Second+lease))
			if !ok {
				t.Error("owner's renewal refused")
			}
			r := unchecked[0]
			r.Status, r.Message, r.Amount = "OK", "", 900
			if err == nil {
				err = tx.SetBatchRowVerdict(ctx, "b1", r)
			}
			return err
		})
		// Run out: b takes it over, a can no longer renew (nor write).
		after := refundT0.Add(2*time.Second + lease)
		if !batchClaim(t, db, "b1", "b", after, lease, false) {
			t.Fatal("an expired lease was not taken over")
		}
		refundTx(t, db, after, func(tx *Tx) error {
			ok, err := tx.RenewBatchLease(ctx, "b1", "a", after.Add(lease))
			if ok {
				t.Error("the old owner renewed a lease taken over")
			}
			return err
		})
		// A verdict written twice keeps the first.
		refundTx(t, db, after, func(tx *Tx) error {
			r := unchecked[0]
			r.Status, r.Message = "ERROR", "second opinion"
			return tx.SetBatchRowVerdict(ctx, "b1", r)
		})
		if rows, _ := db.BatchRows(ctx, "b1"); rows[0].Status != "OK" || rows[0].Amount != 900 {
			t.Errorf("first verdict replaced: %+v", rows[0])
		}
		// The sole checker takes a live lease over at once.
		if !batchClaim(t, db, "b1", "c", after, lease, true) {
			t.Fatal("the sole checker could not resume")
		}
		// Not finished while rows are CHECKING, nor by another owner.
		finish := func(owner string) bool {
			var ok bool
			refundTx(t, db, after, func(tx *Tx) error {
				var err error
				ok, err = tx.FinishBatchCheck(ctx, "b1", owner)
				return err
			})
			return ok
		}
		if finish("c") {
			t.Fatal("finished with rows left CHECKING")
		}
		refundTx(t, db, after, func(tx *Tx) error {
			for _, r := range unchecked[1:] {
				r.Status = "OK"
				if err := tx.SetBatchRowVerdict(ctx, "b1", r); err != nil {
					return err
				}
			}
			return nil
		})
		if finish("b") {
			t.Fatal("finished by a checker that no longer holds it")
		}
		if !finish("c") {
			t.Fatal("not finished by its owner with every row checked")
		}
		b, err := db.Batch(ctx, "b1")
		if err != nil || b.State != "PREVIEW" || !b.CheckedAt.Equal(after) {
			t.Fatalf("finished batch %+v %v", b, err)
		}
		var counts map[string]int
		refundTx(t, db, after, func(tx *Tx) error {
			var err error
			counts, err = tx.BatchStatusCounts(ctx, "b1")
			return err
		})
		if counts["OK"] != 1199 || counts["ERROR"] != 1 {
			t.Errorf("counts %v", counts)
		}

		// Cancel: only from CHECKING; nobody claims it then; account numbers go.
		batchChecking(t, db, "b2", 3, refundT0)
		var ok bool
		refundTx(t, db, after, func(tx *Tx) error {
			var err error
			ok, err = tx.CancelBatchCheck(ctx, "b2")
			return err
		})
		if !ok || batchClaim(t, db, "b2", "a", after, lease, true) {
			t.Fatalf("cancel %v, or a cancelled batch claimed", ok)
		}
		refundTx(t, db, after, func(tx *Tx) error {
			if again, err := tx.CancelBatchCheck(ctx, "b1"); again || err != nil {
				t.Errorf("a checked batch cancelled: %v %v", again, err)
			}
			return nil
		})
		rows, _ := db.BatchRows(ctx, "b2")
		for _, r := range rows {
			if r.BankAccountNumber != "" {
				t.Errorf("cancelled batch keeps an account number on line %d", r.RowNo)
			}
		}
	})
}

// TestBatchClaimIsWonOnce: checkers claiming one batch at once: exactly
// one wins.
func TestBatchClaimIsWonOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		batchChecking(t, db, "b1", 2, refundT0)
		var wg sync.WaitGroup
		won := make([]bool, 6)
		for i := range won {
			wg.Go(func() {
				_ = db.TxAt(context.Background(), refundT0, func(tx *Tx) error {
					var err error
					won[i], err = tx.ClaimBatchCheck(context.Background(), "b1", fmt.Sprintf("w%d", i), refundT0.Add(time.Minute), false)
					return err
				})
			})
		}
		wg.Wait()
		n := 0
		for _, w := range won {
			if w {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d checkers won the claim, want 1", n)
		}
	})
}

// BenchmarkBatchVerdicts writes 10,000 rows' verdicts with their lease
// renewal, perTx rows to a transaction: one commit a row against the
// bulk checker's 100 (CheckOptions.FlushRows).
func BenchmarkBatchVerdicts(b *testing.B) {
	for _, perTx := range []int{1, 100} {
		b.Run(fmt.Sprintf("rows-per-commit=%d", perTx), func(b *testing.B) {
			db, err := OpenURL(context.Background(), storetest.URL(b, ""), PoolConfig{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			ctx := context.Background()
			b.StopTimer()
			for i := range b.N {
				id := fmt.Sprintf("b%d", i)
				rows := make([]BatchRowRecord, 10_000)
				for j := range rows {
					rows[j] = BatchRowRecord{RowNo: j + 2, API: "PG", TransactionRef: fmt.Sprintf("T%05d", j), Status: "CHECKING"}
				}
				if err := db.TxAt(ctx, refundT0, func(tx *Tx) error {
					return tx.InsertBatch(ctx, BatchRecord{ID: id, UploadedBy: 1, State: "CHECKING"}, rows)
				}); err != nil {
					b.Fatal(err)
				}
				if err := db.TxAt(ctx, refundT0, func(tx *Tx) error {
					_, err := tx.ClaimBatchCheck(ctx, id, "me", refundT0.Add(time.Minute), true)
					return err
				}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				for j := 0; j < len(rows); j += perTx {
					if err := db.TxAt(ctx, refundT0, func(tx *Tx) error {
						if _, err := tx.RenewBatchLease(ctx, id, "me", refundT0.Add(time.Minute)); err != nil {
							return err
						}
						for _, r := range rows[j:min(j+perTx, len(rows))] {
							r.Status = "OK"
							if err := tx.SetBatchRowVerdict(ctx, id, r); err != nil {
								return err
							}
						}
						return nil
					}); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
			}
			b.ReportMetric(float64(10_000*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
