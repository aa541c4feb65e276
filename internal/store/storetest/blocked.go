package storetest

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"
)

// WaitBlocked is the barrier of a concurrency test on PostgreSQL: it
// returns once another session of db's database waits for a lock while
// running a statement whose text contains marker (true), or once done is
// closed (false: the operation under test ran through without waiting).
// A test holds one transaction open at a rule's decision point, starts
// the competing one, and calls WaitBlocked before letting the first
// commit, so the competitor has certainly reached its lock (or finished)
// by then and the outcome does not depend on timing. It polls
// pg_stat_activity, failing t after a minute.
//
// On SQLite there is nothing to wait for and no way to see it: the
// single writer queues the competitor until the first commits, whatever
// the order. It returns false at once.
func WaitBlocked(t testing.TB, db *sql.DB, postgres bool, marker string, done <-chan struct{}) bool {
	t.Helper()
	if !postgres {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		var n int
		err := db.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid()
			AND wait_event_type = 'Lock' AND strpos(query, $1) > 0`, marker).Scan(&n)
		if err != nil {
			t.Fatalf("WaitBlocked: read pg_stat_activity: %v", err)
		}
		if n > 0 {
			return true
		}
		select {
		case <-done:
			return false
		case <-ctx.Done():
			t.Fatalf("WaitBlocked: no session waited on a lock in %q, and the operation did not finish", marker)
		case <-tick.C:
		}
	}
}

// Race runs first until it calls hold inside its transaction, at the
// decision point of the rule under test (its change written, not yet
// committed), then second beside it; hold returns, and first goes on to
// commit, once second waits on a lock whose statement contains marker
// ("" any lock) or has finished (WaitBlocked). hold may be called more
// than once: only the first call waits. It returns both errors.
func Race(t testing.TB, db *sql.DB, postgres bool, marker string, first func(hold func()) error, second func() error) (error, error) {
	t.Helper()
	parked, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	hold := func() {
		once.Do(func() {
			close(parked)
			<-release
		})
	}
	firstErr := make(chan error, 1)
	go func() { firstErr <- first(hold) }()
	select {
	case <-parked:
	case err := <-firstErr:
		t.Fatalf("Race: first finished without reaching its decision point: %v", err)
	}
	done := make(chan struct{})
	var secondErr error
	go func() {
		defer close(done)
		secondErr = second()
	}()
	WaitBlocked(t, db, postgres, marker, done)
	close(release)
	errA := <-firstErr
	<-done
	return errA, secondErr
}
