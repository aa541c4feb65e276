package refunds

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// TestRecordAnswerOutlastsTheDatabase: NeoX's answer to a call is written
// down even when the database does not answer at first (PostgreSQL
// restarting), and once: a try after one whose commit may have gone
// through writes nothing when the attempt is closed already. Other errors
// are not retried.
func TestRecordAnswerOutlastsTheDatabase(t *testing.T) {
	db := openDB(t)
	opts := fastOpts()
	opts.Lease = time.Minute
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(10_000_000, 0)}}, opts)
	ctx := context.Background()
	down := fmt.Errorf("begin transaction: %w", driver.ErrBadConn) // what a lost connection gives
	claimed := func(finished string) Refund {
		t.Helper()
		r := approvedIn(t, s, db, APICOL, SubSending, 1)
		if _, err := db.Write.Exec(`INSERT INTO refund_attempts (refund_id, n, started_at, finished_at) VALUES (?, 1, ?, ?)`,
			r.ID, fmtTime(time.Now()), finished); err != nil {
			t.Fatal(err)
		}
		return r
	}
	finished := func(r Refund) bool {
		t.Helper()
		var done bool
		if err := db.View(ctx, time.Now(), func(tx *store.Tx) (err error) {
			done, err = tx.AttemptFinished(ctx, r.ID, 1)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return done
	}

	// Down for two tries, then back: the third writes the answer.
	r := claimed("")
	tries := 0
	err := s.recordAnswer(ctx, s.now(), r.ID, 1, func(ctx context.Context, tx *store.Tx) error {
		if tries++; tries <= 2 {
			return down
		}
		return tx.FinishAttempt(ctx, r.ID, 1, store.AttemptResult{Outcome: "success"})
	})
	if err != nil || tries != 3 || !finished(r) {
		t.Fatalf("database back on the third try: err %v after %d tries, attempt finished %v", err, tries, finished(r))
	}

	// The attempt was closed by a try whose acknowledgement was lost (here:
	// before the first): the retry writes nothing.
	r = claimed(fmtTime(time.Now()))
	tries = 0
	err = s.recordAnswer(ctx, s.now(), r.ID, 1, func(ctx context.Context, tx *store.Tx) error {
		tries++
		return down
	})
	if err != nil || tries != 1 {
		t.Fatalf("attempt closed already: err %v after %d tries, want nil after 1", err, tries)
	}

	// Any other error is the answer.
	r = claimed("")
	tries = 0
	bug := errors.New("constraint violated")
	err = s.recordAnswer(ctx, s.now(), r.ID, 1, func(ctx context.Context, tx *store.Tx) error {
		tries++
		return bug
	})
	if !errors.Is(err, bug) || tries != 1 {
		t.Fatalf("a bug: err %v after %d tries, want it at once", err, tries)
	}
}
