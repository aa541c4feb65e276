package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// These tests hold one PostgreSQL write transaction open at its decision
// point and run a second one against the same rule: the second must wait
// for the first's lock (seen in pg_locks, not guessed from timing) and then
// read what the first committed; or, where nothing is shared, must not wait
// at all. Without the locks (or with one global write lock) they fail.

// lockTestTimeout bounds every wait of these tests; reaching it fails.
const lockTestTimeout = 20 * time.Second

// pgOpen opens a fresh PostgreSQL desk (TEST_DATABASE_URL; skipped without
// one, failed with CI=true).
func pgOpen(t *testing.T) *DB {
	t.Helper()
	db, err := OpenURL(context.Background(), storetest.URL(t, storetest.Postgres), PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// held is a write transaction running on its own goroutine, stopped at the
// point its test chose until release is called.
type held struct {
	resume chan struct{}
	done   chan error
}

// holdTx runs before in a write transaction, then waits for release, then
// runs after and commits. It returns once before has returned.
func holdTx(t *testing.T, db *DB, before, after func(tx *Tx) error) *held {
	t.Helper()
	h := &held{resume: make(chan struct{}), done: make(chan error, 1)}
	reached := make(chan error, 1)
	go func() {
		once := false
		h.done <- db.Tx(context.Background(), func(tx *Tx) error {
			if once {
				return errors.New("the held transaction was retried")
			}
			once = true
			err := before(tx)
			reached <- err
			if err != nil {
				return err
			}
			<-h.resume
			return after(tx)
		})
	}()
	select {
	case err := <-reached:
		if err != nil {
			t.Fatalf("held transaction: %v", err)
		}
	case <-time.After(lockTestTimeout):
		t.Fatal("the held transaction did not reach its decision point")
	}
	t.Cleanup(func() { h.release() })
	return h
}

// release lets the held transaction go on; it returns its outcome.
func (h *held) release() error {
	select {
	case <-h.resume:
	default:
		close(h.resume)
	}
	select {
	case err := <-h.done:
		h.done <- err // keep it for a second call
		return err
	case <-time.After(lockTestTimeout):
		return errors.New("the held transaction did not end")
	}
}

// blockedTx runs fn in a write transaction on its own goroutine and
// returns once PostgreSQL shows that transaction waiting for a lock. It
// fails the test if the transaction ends first: it did not wait.
func blockedTx(t *testing.T, db *DB, fn func(tx *Tx) error) <-chan error {
	t.Helper()
	pid := make(chan int, 8) // a retry reports again
	done := make(chan error, 1)
	go func() {
		done <- db.Tx(context.Background(), func(tx *Tx) error {
			var p int
			if err := tx.stx.QueryRowContext(context.Background(), `SELECT pg_backend_pid()`).Scan(&p); err != nil {
				return err
			}
			pid <- p
			return fn(tx)
		})
	}()
	var p int
	select {
	case p = <-pid:
	case err := <-done:
		t.Fatalf("the second transaction ended before it began: %v", err)
	case <-time.After(lockTestTimeout):
		t.Fatal("the second transaction did not begin")
	}
	deadline := time.Now().Add(lockTestTimeout)
	for {
		var waiting bool
		if err := db.Read.QueryRow(`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = ? AND NOT granted)`, p).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			return done
		}
		select {
		case err := <-done:
			t.Fatalf("the second transaction did not wait for the first (it ended: %v)", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the second transaction neither waited for a lock nor ended")
		}
		time.Sleep(2 * time.Millisecond) // polling a condition
	}
}

// wait returns the outcome of a transaction started by blockedTx.
func wait(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(lockTestTimeout):
		t.Fatal("the second transaction did not end after the first committed")
		return nil
	}
}

// A write transaction's read of a refund locks it: two managers deciding
// on one refund take turns, and the second decides on what the first
// committed (the two-approver count, "still pending").
func TestPostgresRefundReadLocksTheRow(t *testing.T) {
	db := pgOpen(t)
	ctx := context.Background()
	refundInsert(t, db, refundNew("r1", 100, refundT0), "")

	first := holdTx(t, db, func(tx *Tx) error {
		_, err := tx.Refund(ctx, "r1")
		return err
	}, func(tx *Tx) error {
		_, err := tx.ApproveRefund(ctx, "r1", Decision{By: 2, ByName: "minh"})
		return err
	})
	var seen RefundRecord
	second := blockedTx(t, db, func(tx *Tx) error {
		var err error
		seen, err = tx.Refund(ctx, "r1")
		return err
	})
	if err := first.release(); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, second); err != nil {
		t.Fatal(err)
	}
	if seen.Approval != "APPROVED" {
		t.Errorf("the second writer read approval %q, want the first's APPROVED", seen.Approval)
	}
	// A View never locks: it reads while a writer holds the row.
	holder := holdTx(t, db, func(tx *Tx) error { _, err := tx.Refund(ctx, "r1"); return err }, func(*Tx) error { return nil })
	if err := db.View(ctx, refundT0, func(tx *Tx) error { _, err := tx.Refund(ctx, "r1"); return err }); err != nil {
		t.Errorf("a read beside a held row: %v", err)
	}
	if err := holder.release(); err != nil {
		t.Fatal(err)
	}
}

// A form submitted twice, on two instances at once, makes one refund: the
// second submission waits for the first's token and then finds its refund.
func TestPostgresFormTokenIsLocked(t *testing.T) {
	db := pgOpen(t)
	ctx := context.Background()
	first := holdTx(t, db, func(tx *Tx) error {
		if _, err := tx.RefundByIdempotencyKey(ctx, "tok"); !errors.Is(err, ErrNotFound) {
			return errors.New("token already used")
		}
		return nil
	}, func(tx *Tx) error {
		return tx.InsertRefund(ctx, NewRefund{RefundRecord: refundNew("r1", 100, refundT0), IdempotencyKey: "tok"})
	})
	var found RefundRecord
	second := blockedTx(t, db, func(tx *Tx) error {
		var err error
		found, err = tx.RefundByIdempotencyKey(ctx, "tok")
		return err
	})
	if err := first.release(); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, second); err != nil || found.ID != "r1" {
		t.Errorf("second submission found %q, %v; want the first's r1", found.ID, err)
	}
}

// A webhook redelivered while its first delivery is being applied on
// another instance waits for it and is then a duplicate.
func TestPostgresWebhookKeyIsLocked(t *testing.T) {
	db := pgOpen(t)
	ctx := context.Background()
	first := holdTx(t, db, func(tx *Tx) error {
		_, err := tx.WebhookByKey(ctx, "k1")
		if !errors.Is(err, ErrNotFound) {
			return errors.New("already stored")
		}
		return nil
	}, func(tx *Tx) error {
		return tx.InsertWebhook(ctx, NewWebhook{API: "PG", DedupeKey: "k1", Applied: "unknown_refund"})
	})
	var seen SeenWebhook
	second := blockedTx(t, db, func(tx *Tx) error {
		var err error
		seen, err = tx.WebhookByKey(ctx, "k1")
		return err
	})
	if err := first.release(); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, second); err != nil || seen.ID == 0 {
		t.Errorf("redelivery saw %+v, %v; want the first delivery", seen, err)
	}
}

// A GC webhook naming a NeoX refund id the desk does not know yet is kept;
// the transaction recording that id on its refund then adopts kept events.
// Racing, one of the two must see the other, in either order.
func TestPostgresNeoXIDRace(t *testing.T) {
	const neoxID = "GCR-1"
	recordID := func(ctx context.Context, tx *Tx) error {
		_, err := tx.Refund(ctx, "r1")
		if err != nil {
			return err
		}
		ok, err := tx.Transition(ctx, "r1", "QUEUED", SubmissionChange{To: "PROCESSING", NeoXRefundID: neoxID})
		if err != nil || !ok {
			return errors.Join(err, errors.New("transition refused"))
		}
		return nil
	}
	keep := func(ctx context.Context, tx *Tx) error {
		return tx.InsertWebhook(ctx, NewWebhook{API: "GC", DedupeKey: "k", EventRef: neoxID, Applied: "unknown_refund", Event: `{}`})
	}
	setup := func(t *testing.T) *DB {
		db := pgOpen(t)
		refundQueued(t, db, "r1", refundT0)
		return db
	}

	t.Run("webhook first", func(t *testing.T) {
		db := setup(t)
		ctx := context.Background()
		hook := holdTx(t, db, func(tx *Tx) error {
			if _, err := tx.RefundByNeoXID(ctx, neoxID); !errors.Is(err, ErrNotFound) {
				return errors.New("the id is known already")
			}
			return nil
		}, func(tx *Tx) error { return keep(ctx, tx) })
		var kept []HeldWebhook
		answer := blockedTx(t, db, func(tx *Tx) error {
			if err := recordID(ctx, tx); err != nil {
				return err
			}
			var err error
			kept, err = tx.HeldEvents(ctx, "GC", neoxID)
			return err
		})
		if err := hook.release(); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, answer); err != nil || len(kept) != 1 {
			t.Errorf("the answer's transaction adopted %d kept events (%v); want the webhook's", len(kept), err)
		}
	})
	t.Run("answer first", func(t *testing.T) {
		db := setup(t)
		ctx := context.Background()
		answer := holdTx(t, db, func(tx *Tx) error {
			if err := recordID(ctx, tx); err != nil {
				return err
			}
			kept, err := tx.HeldEvents(ctx, "GC", neoxID)
			if err == nil && len(kept) != 0 {
				err = errors.New("kept events before any webhook")
			}
			return err
		}, func(*Tx) error { return nil })
		var found RefundRecord
		hook := blockedTx(t, db, func(tx *Tx) error {
			var err error
			found, err = tx.RefundByNeoXID(ctx, neoxID)
			return err
		})
		if err := answer.release(); err != nil {
			t.Fatal(err)
		}
		if err := wait(t, hook); err != nil || found.ID != "r1" {
			t.Errorf("the webhook found %q, %v; want r1 by the id the answer recorded", found.ID, err)
		}
	})
}

// Writers of different things do not wait for each other, even when both
// append to the audit chain: the head is taken at the commit, so a
// transaction that appended and is still deciding blocks no one.
func TestPostgresWritersRunSideBySide(t *testing.T) {
	db := pgOpen(t)
	ctx := context.Background()
	refundInsert(t, db, refundNew("a", 100, refundT0), "")
	refundInsert(t, db, refundNew("b", 100, refundT0), "")
	first := holdTx(t, db, func(tx *Tx) error {
		if _, err := tx.Refund(ctx, "a"); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, auditDraft("a", 1))
	}, func(tx *Tx) error {
		_, err := tx.ApproveRefund(ctx, "a", Decision{By: 2})
		return err
	})
	second := make(chan error, 1)
	go func() {
		second <- db.Tx(ctx, func(tx *Tx) error {
			if _, err := tx.Refund(ctx, "b"); err != nil {
				return err
			}
			if _, err := tx.ApproveRefund(ctx, "b", Decision{By: 2}); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, auditDraft("b", 2))
		})
	}()
	select {
	case err := <-second:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(lockTestTimeout):
		t.Fatal("a writer of another refund waited for the open transaction")
	}
	if err := first.release(); err != nil {
		t.Fatal(err)
	}
	// One chain: b's event first (it committed first), then a's on it.
	for seq, target := range map[int64]string{1: "b", 2: "a"} {
		r, found, err := db.AuditGet(ctx, seq)
		if err != nil || !found || r.TargetID != target {
			t.Errorf("event %d = %+v, %v, %v; want target %s", seq, r, found, err, target)
		}
	}
	if h := auditHeadRow(t, db); h.Seq != 2 {
		t.Errorf("head row = %+v, want event 2", h)
	}
}

// Two instances starting the scheduled sweep at once take turns: the
// second waits for the first's start and then refuses.
func TestPostgresSweepStartsOnce(t *testing.T) {
	db := pgOpen(t)
	ctx := context.Background()
	from, to := refundT0.Add(-24*time.Hour), refundT0
	first := holdTx(t, db, func(tx *Tx) error {
		_, err := tx.StartSweep(ctx, from, to, 0, time.Hour)
		return err
	}, func(tx *Tx) error { return nil })
	second := blockedTx(t, db, func(tx *Tx) error {
		_, err := tx.StartSweep(ctx, from, to, 0, time.Hour)
		return err
	})
	if err := first.release(); err != nil {
		t.Fatal(err)
	}
	if err := wait(t, second); !errors.Is(err, ErrSweepStarted) {
		t.Errorf("the second start: %v, want ErrSweepStarted", err)
	}
}

// A value read to be changed is locked until the change commits: a
// second writer reads what the first wrote, so neither loses the other's
// change. A setting is locked row or no row yet; a session's values are
// the row's.
func TestPostgresReadsForUpdate(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		setup func(tx *Tx) error
		read  func(tx *Tx) ([]byte, error)
		write func(tx *Tx) error
	}{
		{"setting, no row yet", nil,
			func(tx *Tx) ([]byte, error) { return tx.SettingForUpdate(ctx, "policy") },
			func(tx *Tx) error { return tx.PutSetting(ctx, "policy", []byte("first")) }},
		{"session values",
			func(tx *Tx) error { return tx.InsertSession(ctx, SessionRecord{ID: "s1", Data: []byte("loaded")}) },
			func(tx *Tx) ([]byte, error) { return tx.SessionDataForUpdate(ctx, "s1") },
			func(tx *Tx) error { _, err := tx.SetSessionData(ctx, "s1", []byte("first")); return err }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := pgOpen(t)
			if tc.setup != nil {
				if err := db.Tx(ctx, tc.setup); err != nil {
					t.Fatal(err)
				}
			}
			first := holdTx(t, db, func(tx *Tx) error {
				if _, err := tc.read(tx); err != nil && !errors.Is(err, ErrNotFound) {
					return err
				}
				return nil
			}, tc.write)
			var seen []byte
			second := blockedTx(t, db, func(tx *Tx) error {
				var err error
				seen, err = tc.read(tx)
				return err
			})
			if err := first.release(); err != nil {
				t.Fatal(err)
			}
			if err := wait(t, second); err != nil || string(seen) != "first" {
				t.Errorf("the second read %q, %v; want what the first wrote", seen, err)
			}
		})
	}
}
