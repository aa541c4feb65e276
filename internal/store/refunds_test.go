package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// refundT0 is the clock the refund tests act at.
var refundT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// refundNew is a pending PG refund of amount on payment P1 of TXN1.
func refundNew(id string, amount int64, at time.Time) RefundRecord {
	return RefundRecord{ID: id, API: "PG", TransactionRef: "TXN1", PaymentID: "P1", Amount: amount, Currency: "VND",
		RequestedBy: 7, RequestedByName: "lan", RequestedAt: at, UpdatedAt: at, RefundedBase: -1}
}

// refundInsert stores r (with an optional form token) in its own transaction.
func refundInsert(t *testing.T, db *DB, r RefundRecord, key string) {
	t.Helper()
	if err := db.TxAt(context.Background(), r.RequestedAt, func(tx *Tx) error {
		return tx.InsertRefund(context.Background(), NewRefund{RefundRecord: r, IdempotencyKey: key, AccountHash: "h"})
	}); err != nil {
		t.Fatalf("insert %s: %v", r.ID, err)
	}
}

// refundTx runs fn in a write transaction at now and fails the test on error.
func refundTx(t *testing.T, db *DB, now time.Time, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.TxAt(context.Background(), now, fn); err != nil {
		t.Fatal(err)
	}
}

func refundMust(t *testing.T, db *DB, id string) RefundRecord {
	t.Helper()
	r, err := db.Refund(context.Background(), id)
	if err != nil {
		t.Fatalf("read %s: %v", id, err)
	}
	return r
}

func TestRefundInsertAndRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		in := refundNew("r1", 1000, refundT0)
		in.Lang, in.RefundedBase, in.BaseAt = "en", 500, refundT0
		refundInsert(t, db, in, "tok-1")

		got := refundMust(t, db, "r1")
		if got.Approval != "PENDING" || got.Submission != "NOT_SENT" || got.Amount != 1000 || got.Lang != "en" ||
			got.RefundedBase != 500 || !got.BaseAt.Equal(refundT0) || !got.RequestedAt.Equal(refundT0) ||
			!got.DecidedAt.IsZero() || !got.FinalAt.IsZero() {
			t.Errorf("read back %+v", got)
		}
		if r, err := db.RefundByIdempotencyKey(ctx, "tok-1"); err != nil || r.ID != "r1" {
			t.Errorf("by key = %v, %v", r.ID, err)
		}
		if _, err := db.Refund(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing refund: %v, want ErrNotFound", err)
		}
		if _, err := db.RefundByIdempotencyKey(ctx, "other"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing key: %v, want ErrNotFound", err)
		}
		err := db.Tx(ctx, func(tx *Tx) error {
			return tx.InsertRefund(ctx, NewRefund{RefundRecord: refundNew("r2", 5, refundT0), IdempotencyKey: "tok-1"})
		})
		if !IsConstraint(err) {
			t.Errorf("second use of a form token: %v, want a constraint error", err)
		}
	})
}

// TestRefundConditionalWrites: every state change is conditional on the
// state the rule was decided on, and says whether it happened, so a
// writer that lost a race changes nothing.
func TestRefundConditionalWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		refundInsert(t, db, refundNew("a", 100, refundT0), "")
		refundInsert(t, db, refundNew("c", 100, refundT0), "")
		at := refundT0.Add(time.Hour)
		d := Decision{By: 2, ByName: "minh", Note: "ok"}

		tests := []struct {
			name string
			op   func(tx *Tx) (bool, error)
			want bool
		}{
			{"approve pending", func(tx *Tx) (bool, error) { return tx.ApproveRefund(ctx, "a", d) }, true},
			{"approve again", func(tx *Tx) (bool, error) { return tx.ApproveRefund(ctx, "a", d) }, false},
			{"reject approved", func(tx *Tx) (bool, error) { return tx.CloseRefund(ctx, "a", "REJECTED", d) }, false},
			{"cancel pending", func(tx *Tx) (bool, error) { return tx.CloseRefund(ctx, "c", "CANCELLED", d) }, true},
			{"transition from a state it is not in", func(tx *Tx) (bool, error) {
				return tx.Transition(ctx, "a", "PROCESSING", SubmissionChange{To: "SUCCEEDED"})
			}, false},
			{"transition from its state", func(tx *Tx) (bool, error) {
				return tx.Transition(ctx, "a", "QUEUED", SubmissionChange{To: "PROCESSING", NeoXRefundID: "N1", Code: "0"})
			}, true},
			{"flag", func(tx *Tx) (bool, error) { return tx.FlagAttention(ctx, "a", "PROCESSING", "no_final_answer") }, true},
			{"flag twice", func(tx *Tx) (bool, error) { return tx.FlagAttention(ctx, "a", "PROCESSING", "no_final_answer") }, false},
			{"resolve", func(tx *Tx) (bool, error) {
				return tx.ResolveRefund(ctx, "a", "PROCESSING", Resolution{Outcome: "SUCCEEDED", By: 2, ByName: "minh", Note: "n", Ref: "R"})
			}, true},
			{"resolve twice", func(tx *Tx) (bool, error) {
				return tx.ResolveRefund(ctx, "a", "SUCCEEDED", Resolution{Outcome: "FAILED", By: 2, Note: "n", Ref: "R"})
			}, false},
		}
		for _, tc := range tests {
			refundTx(t, db, at, func(tx *Tx) error {
				got, err := tc.op(tx)
				if err != nil {
					return fmt.Errorf("%s: %w", tc.name, err)
				}
				if got != tc.want {
					t.Errorf("%s: changed = %v, want %v", tc.name, got, tc.want)
				}
				return nil
			})
		}
		a := refundMust(t, db, "a")
		if a.Approval != "APPROVED" || a.Submission != "SUCCEEDED" || a.NeoXRefundID != "N1" || a.NeoXCode != "0" ||
			!a.DecidedAt.Equal(at) || !a.FinalAt.Equal(at) || a.ResolutionRef != "R" || a.AttentionReason != "no_final_answer" {
			t.Errorf("a = %+v", a)
		}
		if c := refundMust(t, db, "c"); c.Approval != "CANCELLED" || !c.FinalAt.Equal(at) {
			t.Errorf("c = %+v", c)
		}
	})
}

// TestRefundTransitionKeepsNeoXFields: empty NeoX fields of a change keep
// what NeoX said before.
func TestRefundTransitionKeepsNeoXFields(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		refundInsert(t, db, refundNew("a", 100, refundT0), "")
		refundTx(t, db, refundT0, func(tx *Tx) error {
			if _, err := tx.ApproveRefund(ctx, "a", Decision{By: 2}); err != nil {
				return err
			}
			if _, err := tx.Transition(ctx, "a", "QUEUED", SubmissionChange{To: "PROCESSING", NeoXRefundID: "N1",
				Message: "accepted", NextAttemptAt: refundT0.Add(time.Minute)}); err != nil {
				return err
			}
			_, err := tx.Transition(ctx, "a", "PROCESSING", SubmissionChange{To: "FAILED", FailedReason: "closed account",
				FinalAt: refundT0})
			return err
		})
		a := refundMust(t, db, "a")
		if a.Submission != "FAILED" || a.NeoXRefundID != "N1" || a.NeoXMessage != "accepted" ||
			a.FailedReason != "closed account" || !a.NextAttemptAt.IsZero() {
			t.Errorf("a = %+v", a)
		}
	})
}

func TestRefundReservedFor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		for _, r := range []struct {
			id, pay string
			amount  int64
		}{{"a", "P1", 100}, {"b", "P1", 200}, {"c", "P2", 400}, {"d", "P1", 800}} {
			rec := refundNew(r.id, r.amount, refundT0)
			rec.PaymentID = r.pay
			refundInsert(t, db, rec, "")
		}
		refundTx(t, db, refundT0, func(tx *Tx) error {
			_, err := tx.CloseRefund(ctx, "d", "REJECTED", Decision{}) // a closed refund reserves nothing
			return err
		})
		tests := []struct {
			pay, exclude string
			want         int64
		}{{"P1", "", 300}, {"P1", "a", 200}, {"P2", "", 400}, {"P3", "", 0}}
		for _, tc := range tests {
			refundTx(t, db, refundT0, func(tx *Tx) error {
				if err := tx.LockTarget(ctx, "PG", "TXN1", tc.pay); err != nil {
					return err
				}
				got, err := tx.ReservedFor(ctx, "PG", "TXN1", tc.pay, tc.exclude)
				if err != nil {
					return err
				}
				if got != tc.want {
					t.Errorf("reserved on %s except %q = %d, want %d", tc.pay, tc.exclude, got, tc.want)
				}
				return nil
			})
		}
	})
}

// TestRefundLockTargetSerialisesChecks: writers that lock the target, sum
// what is reserved and insert when it fits never together reserve more
// than the target holds.
func TestRefundLockTargetSerialisesChecks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		const paid, each, writers = 1000, 300, 8
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				err := db.TxAt(ctx, refundT0, func(tx *Tx) error {
					if err := tx.LockTarget(ctx, "PG", "TXN1", "P1"); err != nil {
						return err
					}
					reserved, err := tx.ReservedFor(ctx, "PG", "TXN1", "P1", "")
					if err != nil || reserved+each > paid {
						return err
					}
					return tx.InsertRefund(ctx, NewRefund{RefundRecord: refundNew(fmt.Sprint("r", i), each, refundT0)})
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		var total int64
		if err := db.Read.QueryRow(`SELECT coalesce(sum(amount), 0) FROM refunds`).Scan(&total); err != nil {
			t.Fatal(err)
		}
		if total != 900 {
			t.Errorf("reserved %d of %d, want 900", total, paid)
		}
	})
}

func TestRefundReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		for i, id := range []string{"a", "b", "c"} {
			refundInsert(t, db, refundNew(id, int64(100*(i+1)), refundT0.Add(time.Duration(i)*time.Minute)), "")
		}
		refundTx(t, db, refundT0, func(tx *Tx) error {
			if _, err := tx.ApproveRefund(ctx, "b", Decision{By: 2}); err != nil {
				return err
			}
			_, err := tx.Transition(ctx, "b", "QUEUED", SubmissionChange{To: "PROCESSING", NeoXRefundID: "N-b"})
			return err
		})
		ids := func(rs []RefundRecord, err error) string {
			t.Helper()
			if err != nil {
				t.Fatal(err)
			}
			out := ""
			for _, r := range rs {
				out += r.ID
			}
			return out
		}
		if got := ids(db.PendingRefunds(ctx)); got != "ac" {
			t.Errorf("pending = %q", got)
		}
		if got := ids(db.RefundsOfTransaction(ctx, "PG", "TXN1")); got != "cba" {
			t.Errorf("of transaction = %q", got)
		}
		if got := ids(db.ApprovedRefundsOfPayment(ctx, "TXN1", "P1", "a")); got != "b" {
			t.Errorf("approved of payment = %q", got)
		}
		refundTx(t, db, refundT0, func(tx *Tx) error {
			r, err := tx.RefundByNeoXID(ctx, "N-b")
			if err != nil || r.ID != "b" {
				t.Errorf("by NeoX id = %q, %v", r.ID, err)
			}
			if _, err := tx.RefundByNeoXID(ctx, "N-x"); !errors.Is(err, ErrNotFound) {
				t.Errorf("unknown NeoX id: %v", err)
			}
			return nil
		})
	})
}

func TestRefundSecretAndLookups(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		refundTx(t, db, refundT0, func(tx *Tx) error {
			if _, err := tx.RefundSecret(ctx, "k"); !errors.Is(err, ErrNotFound) {
				t.Errorf("missing secret: %v", err)
			}
			if v, err := tx.InsertRefundSecret(ctx, "k", []byte{1, 2, 3}); err != nil || string(v) != "\x01\x02\x03" {
				t.Fatalf("insert secret = %v, %v", v, err)
			}
			// A second first use keeps the value stored first.
			if v, err := tx.InsertRefundSecret(ctx, "k", []byte{4, 5, 6}); err != nil || string(v) != "\x01\x02\x03" {
				t.Errorf("second insert = %v, %v; want the first value", v, err)
			}
			v, err := tx.RefundSecret(ctx, "k")
			if err != nil || string(v) != "\x01\x02\x03" {
				t.Errorf("secret = %v, %v", v, err)
			}
			for i, ref := range []string{"T1", "T2", "T1"} {
				if err := tx.CacheLookup(ctx, "PG", ref, "{}", refundT0.Add(time.Duration(i)*time.Second)); err != nil {
					return err
				}
			}
			return nil
		})
		got, err := db.RecentLookups(ctx, 10)
		if err != nil || len(got) != 2 || got[0].Ref != "T1" || !got[0].FetchedAt.Equal(refundT0.Add(2*time.Second)) {
			t.Errorf("recent = %+v, %v", got, err)
		}
	})
}
