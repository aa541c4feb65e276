package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// authAddSession inserts session id of userID (0: anonymous) at now.
func authAddSession(t *testing.T, db *DB, now time.Time, id string, userID int64) {
	t.Helper()
	authTx(t, db, now, func(tx *Tx) error {
		return tx.InsertSession(context.Background(), SessionRecord{ID: id, UserID: userID,
			Data: []byte("d-" + id), ClientIP: "192.0.2.1", UserAgent: "ua-" + id})
	})
}

func TestAuthSessionRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		alice := authAddUser(t, db, authT0, "alice", "staff")
		bob := authAddUser(t, db, authT0, "bob", "manager")
		authAddSession(t, db, authT0, "anon", 0)
		authAddSession(t, db, authT0, "a1", alice.ID)
		authAddSession(t, db, authT0, "b1", bob.ID)
		authTx(t, db, authT0, func(tx *Tx) error { return tx.SetDisabled(ctx, bob.ID, true) })

		for _, tt := range []struct {
			id       string
			userID   int64
			unusable bool
			owner    SessionOwner
		}{
			{"anon", 0, false, SessionOwner{}},
			{"a1", alice.ID, false, SessionOwner{alice.ID, "alice", "staff"}},
			{"b1", bob.ID, true, SessionOwner{bob.ID, "bob", "manager"}},
		} {
			t.Run(tt.id, func(t *testing.T) {
				got, err := db.Session(ctx, tt.id)
				want := SessionRecord{ID: tt.id, UserID: tt.userID, Data: []byte("d-" + tt.id), CreatedAt: authT0,
					LastSeenAt: authT0, ClientIP: "192.0.2.1", UserAgent: "ua-" + tt.id, OwnerUnusable: tt.unusable}
				if err != nil || !authSameSession(got, want) {
					t.Errorf("Session = %+v, %v\nwant      %+v", got, err, want)
				}
				authTx(t, db, authT0, func(tx *Tx) error {
					owner, err := tx.SessionOwner(ctx, tt.id)
					if err != nil || owner != tt.owner {
						t.Errorf("SessionOwner = %+v, %v; want %+v", owner, err, tt.owner)
					}
					return nil
				})
			})
		}
	})
}

// A session whose user row is gone (foreign keys were off when it was
// deleted) is unusable too, and its owner has no name.
func TestAuthSessionOfAUserWhoIsGone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		u := authAddUser(t, db, authT0, "u", "staff")
		authAddSession(t, db, authT0, "s", u.ID)
		if db.Postgres() {
			// Superuser only (as the test server runs): skip the foreign key's trigger.
			if err := db.Tx(ctx, func(tx *Tx) error {
				if _, err := tx.Raw().ExecContext(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
					return err
				}
				_, err := tx.Raw().ExecContext(ctx, `DELETE FROM users WHERE id = ?`, u.ID)
				return err
			}); err != nil {
				t.Fatal(err)
			}
		} else {
			if _, err := db.Write.ExecContext(ctx, `PRAGMA foreign_keys = OFF`); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Write.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, u.ID); err != nil {
				t.Fatal(err)
			}
		}
		got, err := db.Session(ctx, "s")
		if err != nil || !got.OwnerUnusable || got.UserID != u.ID {
			t.Errorf("Session = %+v, %v; want unusable", got, err)
		}
		authTx(t, db, authT0, func(tx *Tx) error {
			owner, err := tx.SessionOwner(ctx, "s")
			if err != nil || owner != (SessionOwner{UserID: u.ID}) {
				t.Errorf("SessionOwner = %+v, %v", owner, err)
			}
			return nil
		})
	})
}

func authSameSession(a, b SessionRecord) bool {
	return a.ID == b.ID && a.UserID == b.UserID && string(a.Data) == string(b.Data) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastSeenAt.Equal(b.LastSeenAt) &&
		a.ClientIP == b.ClientIP && a.UserAgent == b.UserAgent && a.OwnerUnusable == b.OwnerUnusable
}

func TestAuthSessionChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		u := authAddUser(t, db, authT0, "u", "staff")
		authAddSession(t, db, authT0, "s", u.ID)
		later := authT0.Add(10 * time.Minute)

		authTx(t, db, later, func(tx *Tx) error { return tx.TouchSession(ctx, "s") })
		authTx(t, db, later, func(tx *Tx) error {
			for _, tt := range []struct {
				id   string
				want bool
			}{{"s", true}, {"gone", false}} {
				if ok, err := tx.SetSessionData(ctx, tt.id, []byte("new")); err != nil || ok != tt.want {
					t.Errorf("SetSessionData(%s) = %v, %v; want %v", tt.id, ok, err, tt.want)
				}
			}
			return nil
		})
		got, err := db.Session(ctx, "s")
		if err != nil || !got.LastSeenAt.Equal(later) || !got.CreatedAt.Equal(authT0) || string(got.Data) != "new" {
			t.Fatalf("after touch and save: %+v, %v", got, err)
		}
		authTx(t, db, later, func(tx *Tx) error {
			if err := tx.DeleteSession(ctx, "s"); err != nil {
				return err
			}
			return tx.DeleteSession(ctx, "s") // already gone: no error
		})
		if _, err := db.Session(ctx, "s"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted session: %v", err)
		}
	})
}

func TestAuthSessionsOfAndPrune(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		u := authAddUser(t, db, authT0, "u", "staff")
		other := authAddUser(t, db, authT0, "other", "staff")
		authAddSession(t, db, authT0, "old", u.ID)
		authAddSession(t, db, authT0.Add(time.Hour), "mid", u.ID)
		authAddSession(t, db, authT0.Add(2*time.Hour), "new", u.ID)
		authAddSession(t, db, authT0.Add(2*time.Hour), "theirs", other.ID)
		authTx(t, db, authT0.Add(3*time.Hour), func(tx *Tx) error { return tx.TouchSession(ctx, "old") })

		ids := func(rs []SessionRecord) []string {
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return out
		}
		for _, tt := range []struct {
			name                    string
			createdAfter, seenAfter time.Time
			want                    []string
		}{
			{"all, newest first", authT0.Add(-time.Hour), authT0.Add(-time.Hour), []string{"new", "mid", "old"}},
			{"created strictly after", authT0, authT0.Add(-time.Hour), []string{"new", "mid"}},
			{"seen strictly after", authT0.Add(-time.Hour), authT0.Add(time.Hour), []string{"new", "old"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				rs, err := db.SessionsOf(ctx, u.ID, tt.createdAfter, tt.seenAfter)
				if err != nil || !slices.Equal(ids(rs), tt.want) {
					t.Errorf("SessionsOf = %v, %v; want %v", ids(rs), err, tt.want)
				}
				for _, r := range rs {
					if r.UserID != u.ID || r.Data != nil {
						t.Errorf("listed %+v: want the user's id and no data", r)
					}
				}
			})
		}

		// Prune at or before the bounds (inclusive): "mid" was last seen at
		// the seen bound; "old" was created earlier but seen later.
		authTx(t, db, authT0.Add(3*time.Hour), func(tx *Tx) error {
			n, err := tx.PruneSessions(ctx, authT0.Add(-time.Minute), authT0.Add(time.Hour))
			if err != nil || n != 1 {
				t.Errorf("PruneSessions = %d, %v; want 1", n, err)
			}
			n, err = tx.DeleteSessionsOf(ctx, u.ID)
			if err != nil || n != 2 {
				t.Errorf("DeleteSessionsOf = %d, %v; want 2", n, err)
			}
			return nil
		})
		if _, err := db.Session(ctx, "theirs"); err != nil {
			t.Errorf("another user's session: %v", err)
		}
	})
}

func TestAuthThrottleCounters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		lock := authT0.Add(time.Minute)
		read := func(t *testing.T, key string) ThrottleRecord {
			t.Helper()
			r, err := db.Throttle(ctx, key)
			if err != nil {
				t.Fatalf("Throttle(%s): %v", key, err)
			}
			return r
		}
		for _, tt := range []struct {
			name   string
			change func(tx *Tx) error
			want   ThrottleRecord
		}{
			{"first failure", func(tx *Tx) error { return tx.RecordFailure(ctx, "k", 1, lock) },
				ThrottleRecord{"k", 1, authT0, lock}},
			{"next failure replaces the row", func(tx *Tx) error { return tx.RecordFailure(ctx, "k", 2, lock.Add(time.Minute)) },
				ThrottleRecord{"k", 2, authT0, lock.Add(time.Minute)}},
			{"forgive one", func(tx *Tx) error { return tx.ForgiveFailure(ctx, "k") },
				ThrottleRecord{"k", 1, authT0, lock.Add(time.Minute)}},
			{"forgive one and move the lock", func(tx *Tx) error { return tx.ForgiveFailureUntil(ctx, "k", lock) },
				ThrottleRecord{"k", 0, authT0, lock}},
			{"never below zero", func(tx *Tx) error { return tx.ForgiveFailure(ctx, "k") },
				ThrottleRecord{"k", 0, authT0, lock}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				authTx(t, db, authT0, tt.change)
				if got := read(t, "k"); got != tt.want {
					t.Errorf("= %+v, want %+v", got, tt.want)
				}
				authTx(t, db, authT0, func(tx *Tx) error {
					if got, err := tx.Throttle(ctx, "k"); err != nil || got != tt.want {
						t.Errorf("Tx.Throttle = %+v, %v", got, err)
					}
					return nil
				})
			})
		}

		// Missing keys: forgiving and deleting them is no error.
		authTx(t, db, authT0, func(tx *Tx) error {
			return errors.Join(tx.ForgiveFailure(ctx, "none"), tx.ForgiveFailureUntil(ctx, "none", lock), tx.DeleteThrottle(ctx, "none"))
		})

		authTx(t, db, authT0.Add(time.Hour), func(tx *Tx) error { return tx.RecordFailure(ctx, "recent", 1, lock) })
		authTx(t, db, authT0.Add(time.Hour), func(tx *Tx) error { return tx.PruneThrottle(ctx, authT0.Add(time.Hour)) })
		if _, err := db.Throttle(ctx, "k"); !errors.Is(err, ErrNotFound) {
			t.Errorf("pruned key: %v", err)
		}
		read(t, "recent") // its failure is not before the bound
		authTx(t, db, authT0, func(tx *Tx) error { return tx.DeleteThrottle(ctx, "recent") })
		if _, err := db.Throttle(ctx, "recent"); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted key: %v", err)
		}
	})
}
