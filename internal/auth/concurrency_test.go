package auth

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// These tests run one rule's read-decide-write twice at once, as two
// instances would on PostgreSQL, where write transactions run side by
// side. The first is held open at its decision point (its change written,
// not committed); the second starts then, and the first commits only
// once the second waits on a lock or has finished (storetest.Race), so a
// missing lock fails them every time, not by timing luck. On SQLite the
// single writer runs them one after the other.

// parkingRecorder records through next, except that the first event with
// action calls hold first, inside its transaction: the change it
// describes is written and not yet committed.
type parkingRecorder struct {
	next   Recorder
	action string
	hold   func()
	once   sync.Once
}

func (p *parkingRecorder) Record(ctx context.Context, tx *store.Tx, e audit.Event) error {
	if e.Action == p.action {
		p.once.Do(p.hold)
	}
	return p.next.Record(ctx, tx, e)
}

// race is storetest.Race on env's database.
func race(t *testing.T, db *store.DB, marker string, first func(hold func()) error, second func() error) (error, error) {
	t.Helper()
	return storetest.Race(t, db.Write, db.Postgres(), marker, first, second)
}

// Two admins removing each other at once: one wins, the other is told
// they would remove the last admin, and an enabled admin remains.
func TestLastAdminHoldsUnderConcurrentChanges(t *testing.T) {
	tests := []struct {
		name   string
		park   string
		change func(s *Service, id int64) error
		other  func(s *Service, id int64) error
	}{
		{"disable each other", audit.ActionUserDisabled,
			func(s *Service, id int64) error { return s.SetDisabled(context.Background(), id, true) },
			func(s *Service, id int64) error { return s.SetDisabled(context.Background(), id, true) }},
		{"demote each other", audit.ActionUserRoleChanged,
			func(s *Service, id int64) error { return s.SetRole(context.Background(), id, RoleStaff) },
			func(s *Service, id int64) error { return s.SetRole(context.Background(), id, RoleManager) }},
		{"disable one, demote the other", audit.ActionUserDisabled,
			func(s *Service, id int64) error { return s.SetDisabled(context.Background(), id, true) },
			func(s *Service, id int64) error { return s.SetRole(context.Background(), id, RoleStaff) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newEnv(t)
			a, b := env.mustCreate(t, "ann", RoleAdmin), env.mustCreate(t, "bob", RoleAdmin)
			parking := &parkingRecorder{next: env.rec, action: tt.park}
			svc := NewService(env.db, parking, Options{Now: env.clock.Now, Argon: testParams})
			errA, errB := race(t, env.db, "pg_advisory_xact_lock",
				func(hold func()) error {
					parking.hold = hold
					return tt.change(svc, a.ID)
				},
				func() error { return tt.other(svc, b.ID) })
			if errA != nil {
				t.Fatalf("first change: %v", errA)
			}
			if !errors.Is(errB, ErrLastAdmin) {
				t.Fatalf("second change: %v, want ErrLastAdmin", errB)
			}
			if n := enabledAdmins(t, env); n != 1 {
				t.Fatalf("%d enabled admins left, want 1", n)
			}
		})
	}
}

func enabledAdmins(t *testing.T, env *testEnv) int {
	t.Helper()
	return env.countRows(t, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0`)
}

// Two instances starting together on an empty database: one creates the
// first admin, the other finds it and starts without error.
func TestEnsureAdminOnceUnderConcurrentStarts(t *testing.T) {
	env := newEnv(t)
	parking := &parkingRecorder{next: env.rec, action: audit.ActionUserCreated}
	svc := NewService(env.db, parking, Options{Now: env.clock.Now, Argon: testParams})
	var createdA, createdB bool
	errA, errB := race(t, env.db, "",
		func(hold func()) (err error) {
			parking.hold = hold
			_, createdA, err = svc.EnsureAdmin(context.Background())
			return err
		},
		func() (err error) {
			_, createdB, err = svc.EnsureAdmin(context.Background())
			return err
		})
	if errA != nil || errB != nil {
		t.Fatalf("EnsureAdmin: %v, %v", errA, errB)
	}
	if !createdA || createdB {
		t.Fatalf("created = %v, %v; want only the first", createdA, createdB)
	}
	if n := env.countRows(t, `SELECT count(*) FROM users`); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
}

// Two instances generating the cookie keys at once end with one key, and
// both use it.
func TestSessionKeysOnceUnderConcurrentStarts(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	var first []byte
	var keys [][]byte
	errA, errB := race(t, env.db, "",
		func(hold func()) error {
			return env.db.Tx(ctx, func(tx *store.Tx) (err error) {
				first, err = loadOrCreateSetting(ctx, tx, settingHashKey, 64)
				hold()
				return err
			})
		},
		func() (err error) {
			keys, err = LoadOrCreateKeys(ctx, env.db, "")
			return err
		})
	if errA != nil || errB != nil {
		t.Fatalf("first: %v; LoadOrCreateKeys: %v", errA, errB)
	}
	if !bytes.Equal(keys[0], first) {
		t.Fatal("the second instance uses another hash key than the one stored first")
	}
	stored, err := env.db.Setting(ctx, settingHashKey)
	if err != nil || !bytes.Equal(stored, first) {
		t.Fatalf("stored hash key differs from the first one (%v)", err)
	}
}

// Two guesses at once at an account with no counter yet both count: the
// counter's first failure is no gap for parallel guesses.
func TestThrottleCountsConcurrentFirstFailures(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	keys := env.svc.loginThrottleKeys("sam", "192.0.2.7", "")
	count := func(hold func()) error {
		return env.db.TxAt(ctx, env.clock.Now(), func(tx *store.Tx) error {
			wait, _, err := env.svc.countAttempt(ctx, tx, keys)
			if err == nil && wait > 0 {
				err = errors.New("throttled")
			}
			hold()
			return err
		})
	}
	errA, errB := race(t, env.db, "", count, func() error { return count(func() {}) })
	if errA != nil || errB != nil {
		t.Fatalf("countAttempt: %v, %v", errA, errB)
	}
	for _, k := range keys {
		row, err := env.db.Throttle(ctx, k.key)
		if err != nil || row.Failures != 2 {
			t.Errorf("%s: %d failures (%v), want 2", k.key, row.Failures, err)
		}
	}
}
