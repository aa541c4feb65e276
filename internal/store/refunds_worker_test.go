package store

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// refundQueued stores an approved refund queued for sending at at.
func refundQueued(t *testing.T, db *DB, id string, at time.Time) {
	t.Helper()
	refundInsert(t, db, refundNew(id, 100, at), "")
	refundTx(t, db, at, func(tx *Tx) error {
		_, err := tx.ApproveRefund(context.Background(), id, Decision{By: 2, ByName: "minh"})
		return err
	})
}

// refundClaim claims id for owner at now with a lease of lease.
func refundClaim(t *testing.T, db *DB, id, owner string, now time.Time, lease time.Duration) bool {
	t.Helper()
	var ok bool
	refundTx(t, db, now, func(tx *Tx) error {
		cur, err := tx.Refund(context.Background(), id)
		if err != nil {
			return err
		}
		ok, err = tx.ClaimSend(context.Background(), id, Claim{From: cur.Submission, Attempt: cur.Attempts + 1,
			Owner: owner, LeaseUntil: now.Add(lease)})
		return err
	})
	return ok
}

// refundExpired lists, as owner at now, the claims it may take over.
func refundExpired(t *testing.T, db *DB, owner string, sole bool, now time.Time) []string {
	t.Helper()
	var ids []string
	refundTx(t, db, now, func(tx *Tx) error {
		list, err := tx.ExpiredClaims(context.Background(), owner, sole)
		for _, r := range list {
			ids = append(ids, r.ID)
		}
		return err
	})
	return ids
}

// TestRefundClaimIsWonOnce: of several workers claiming the same refund
// at once, exactly one wins and one attempt row is opened.
func TestRefundClaimIsWonOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		refundQueued(t, db, "r", refundT0)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				err := db.TxAt(context.Background(), refundT0, func(tx *Tx) error {
					// Every worker read the refund as QUEUED with no attempts.
					ok, err := tx.ClaimSend(context.Background(), "r", Claim{From: "QUEUED", Attempt: 1, Owner: "w",
						LeaseUntil: refundT0.Add(time.Minute)})
					if ok {
						wins.Add(1)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Errorf("%d workers won the claim, want 1", wins.Load())
		}
		r := refundMust(t, db, "r")
		atts, err := db.RefundAttempts(context.Background(), "r")
		if err != nil || r.Submission != "SENDING" || r.Attempts != 1 || len(atts) != 1 || !atts[0].FinishedAt.IsZero() {
			t.Errorf("after claims: %s attempts %d, attempt rows %+v, %v", r.Submission, r.Attempts, atts, err)
		}
	})
}

// TestRefundLeases: a claim held by another live owner is not taken over
// before its lease expires, and is after; the claimant's own claims are
// never its to recover; a sole worker takes over every other claim at once.
func TestRefundLeases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		const lease = 5 * time.Minute
		refundQueued(t, db, "live", refundT0)
		refundQueued(t, db, "mine", refundT0)
		if !refundClaim(t, db, "live", "other", refundT0, lease) || !refundClaim(t, db, "mine", "me", refundT0, lease) {
			t.Fatal("claims not won")
		}
		tests := []struct {
			name string
			at   time.Time
			sole bool
			want string
		}{
			{"before expiry", refundT0.Add(lease - time.Second), false, ""},
			{"at expiry", refundT0.Add(lease), false, "live"},
			{"after expiry", refundT0.Add(lease + time.Hour), false, "live"},
			{"sole worker, before expiry", refundT0.Add(time.Second), true, "live"},
		}
		for _, tc := range tests {
			got := ""
			for _, id := range refundExpired(t, db, "me", tc.sole, tc.at) {
				got += id
			}
			if got != tc.want {
				t.Errorf("%s: expired claims %q, want %q", tc.name, got, tc.want)
			}
		}

		// Taking the expired claim over: UNKNOWN, due now, its attempt closed.
		at := refundT0.Add(lease)
		refundTx(t, db, at, func(tx *Tx) error {
			ok, err := tx.ReleaseClaim(context.Background(), "live", "interrupted")
			if !ok {
				t.Error("release: not released")
			}
			return err
		})
		r := refundMust(t, db, "live")
		atts, _ := db.RefundAttempts(context.Background(), "live")
		if r.Submission != "UNKNOWN" || !r.NextAttemptAt.Equal(at) || r.LastError != "interrupted" ||
			len(atts) != 1 || atts[0].Outcome != "interrupted" {
			t.Errorf("released: %+v, attempts %+v", r, atts)
		}
		refundTx(t, db, at, func(tx *Tx) error {
			ok, err := tx.ReleaseClaim(context.Background(), "live", "again")
			if ok {
				t.Error("released a claim that is no longer SENDING")
			}
			return err
		})
		// The new owner's claim starts attempt 2 under its own lease.
		if !refundClaim(t, db, "live", "me", at, lease) {
			t.Fatal("reclaim lost")
		}
		// For another worker a minute later, only "mine" (claimed at T0) has expired.
		if got := refundExpired(t, db, "other", false, at.Add(time.Minute)); len(got) != 1 || got[0] != "mine" {
			t.Errorf("expired for another worker = %v, want [mine]: a fresh claim counted as expired?", got)
		}
	})
}

func TestRefundAttemptOutcome(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		refundQueued(t, db, "r", refundT0)
		refundClaim(t, db, "r", "me", refundT0, time.Minute)
		later := refundT0.Add(3 * time.Second)
		refundTx(t, db, later, func(tx *Tx) error {
			if err := tx.FinishAttempt(ctx, "r", 1, AttemptResult{Outcome: "unknown", Message: "timeout",
				Latency: 1500 * time.Millisecond}); err != nil {
				return err
			}
			for _, c := range []struct {
				owner   string
				attempt int
				want    bool
			}{{"other", 1, false}, {"me", 2, false}, {"me", 1, true}} {
				ok, err := tx.MarkUnknown(ctx, "r", c.owner, c.attempt, "timeout", later.Add(time.Minute))
				if err != nil {
					return err
				}
				if ok != c.want {
					t.Errorf("MarkUnknown by %s, attempt %d: %v, want %v", c.owner, c.attempt, ok, c.want)
				}
			}
			return nil
		})
		atts, err := db.RefundAttempts(ctx, "r")
		if err != nil || len(atts) != 1 || atts[0].LatencyMS != 1500 || !atts[0].FinishedAt.Equal(later) || atts[0].Outcome != "unknown" {
			t.Errorf("attempts = %+v, %v", atts, err)
		}
		if r := refundMust(t, db, "r"); r.Submission != "UNKNOWN" || !r.NextAttemptAt.Equal(later.Add(time.Minute)) {
			t.Errorf("r = %s next %v", r.Submission, r.NextAttemptAt)
		}
	})
}

func TestRefundDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		for i, id := range []string{"a", "b", "c"} {
			refundQueued(t, db, id, refundT0.Add(time.Duration(i)*time.Minute))
		}
		due, next, err := db.DueRefunds(ctx, "QUEUED", refundT0.Add(90*time.Second), 10)
		if err != nil || len(due) != 2 || due[0].ID != "a" || due[1].ID != "b" || due[0].API != "PG" ||
			!next.Equal(refundT0.Add(2*time.Minute)) {
			t.Errorf("due = %+v next %v, %v", due, next, err)
		}
		due, next, err = db.DueRefunds(ctx, "QUEUED", refundT0.Add(time.Hour), 1)
		if err != nil || len(due) != 1 || !next.IsZero() {
			t.Errorf("limit 1: due = %+v next %v, %v", due, next, err)
		}

		// Needs attention: b waited too long; c not yet (next due when it will).
		refundTx(t, db, refundT0, func(tx *Tx) error {
			for _, id := range []string{"b", "c"} {
				if _, err := tx.Transition(ctx, id, "QUEUED", SubmissionChange{To: "PROCESSING"}); err != nil {
					return err
				}
			}
			return nil
		})
		list, err := db.AttentionDue(ctx, "PG", refundT0.Add(time.Minute), 10, 200)
		if err != nil || len(list) != 1 || list[0].ID != "b" {
			t.Errorf("attention due = %v, %v", list, err)
		}
		// a is still QUEUED: past due but mid-call, it is the next to look at.
		oldest, err := db.OldestUnflagged(ctx, "PG")
		if err != nil || !oldest.Equal(refundT0) {
			t.Errorf("oldest unflagged = %v, %v", oldest, err)
		}
	})
}
