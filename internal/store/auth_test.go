package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

var authT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// authTx runs fn in a write transaction at now and fails the test on error.
func authTx(t *testing.T, db *DB, now time.Time, fn func(tx *Tx) error) {
	t.Helper()
	if err := db.TxAt(context.Background(), now, fn); err != nil {
		t.Fatal(err)
	}
}

// authAddUser inserts a user with password hash "h-"+name at now.
func authAddUser(t *testing.T, db *DB, now time.Time, name, role string) UserRecord {
	t.Helper()
	var u UserRecord
	authTx(t, db, now, func(tx *Tx) error {
		var err error
		u, err = tx.InsertUser(context.Background(), UserRecord{Username: name, DisplayName: "D " + name, Role: role}, "h-"+name)
		return err
	})
	return u
}

func TestAuthInsertUserAndReadItBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		var got UserRecord
		authTx(t, db, authT0, func(tx *Tx) error {
			var err error
			got, err = tx.InsertUser(ctx, UserRecord{Username: "alice", DisplayName: "Alice", Role: "manager",
				MustChange: true, Lang: "vi"}, "hash-a")
			return err
		})
		want := UserRecord{ID: got.ID, Username: "alice", DisplayName: "Alice", Role: "manager",
			MustChange: true, Lang: "vi", CreatedAt: authT0, UpdatedAt: authT0}
		if got.ID == 0 || got != want {
			t.Fatalf("inserted %+v, want %+v", got, want)
		}
		reads := []struct {
			name string
			read func() (UserRecord, string, error)
		}{
			{"UserByID", func() (UserRecord, string, error) { u, err := db.UserByID(ctx, got.ID); return u, "hash-a", err }},
			{"UserByName", func() (UserRecord, string, error) { u, err := db.UserByName(ctx, "alice"); return u, "hash-a", err }},
			{"UserByName other case", func() (UserRecord, string, error) { u, err := db.UserByName(ctx, "ALICE"); return u, "hash-a", err }},
			{"UserCredentials", func() (UserRecord, string, error) { return db.UserCredentials(ctx, got.ID) }},
			{"UserCredentialsByName", func() (UserRecord, string, error) { return db.UserCredentialsByName(ctx, "Alice") }},
			{"Tx.UserByID", func() (UserRecord, string, error) {
				var u UserRecord
				err := db.Tx(ctx, func(tx *Tx) error { var err error; u, err = tx.UserByID(ctx, got.ID); return err })
				return u, "hash-a", err
			}},
		}
		for _, r := range reads {
			t.Run(r.name, func(t *testing.T) {
				u, hash, err := r.read()
				if err != nil || u != want || hash != "hash-a" {
					t.Errorf("= %+v, %q, %v; want %+v", u, hash, err, want)
				}
			})
		}
	})
}

func TestAuthUsernameIsUniqueWhateverItsCase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		authAddUser(t, db, authT0, "bob", "staff")
		for _, name := range []string{"bob", "BOB", "Bob"} {
			err := db.Tx(context.Background(), func(tx *Tx) error {
				_, err := tx.InsertUser(context.Background(), UserRecord{Username: name, Role: "staff"}, "h")
				return err
			})
			if !errors.Is(err, ErrUsernameExists) {
				t.Errorf("insert %q: %v, want ErrUsernameExists", name, err)
			}
		}
		// Any other constraint is not a taken name.
		err := db.Tx(context.Background(), func(tx *Tx) error {
			_, err := tx.InsertUser(context.Background(), UserRecord{Username: "carol", Role: "owner"}, "h")
			return err
		})
		if err == nil || errors.Is(err, ErrUsernameExists) {
			t.Errorf("insert with an unknown role: %v", err)
		}
	})
}

func TestAuthUsersAndCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		if n, err := db.CountUsers(ctx); err != nil || n != 0 {
			t.Fatalf("empty: CountUsers = %d, %v", n, err)
		}
		for _, name := range []string{"carol", "alice", "bob"} {
			authAddUser(t, db, authT0, name, "admin")
		}
		us, err := db.Users(ctx)
		if err != nil || len(us) != 3 || us[0].Username != "alice" || us[1].Username != "bob" || us[2].Username != "carol" {
			t.Fatalf("Users = %+v, %v", us, err)
		}
		if n, err := db.CountUsers(ctx); err != nil || n != 3 {
			t.Errorf("CountUsers = %d, %v", n, err)
		}
		authTx(t, db, authT0, func(tx *Tx) error {
			if n, err := tx.CountUsers(ctx); err != nil || n != 3 {
				t.Errorf("Tx.CountUsers = %d, %v", n, err)
			}
			if err := tx.SetDisabled(ctx, us[2].ID, true); err != nil {
				return err
			}
			for _, tt := range []struct {
				role   string
				except int64
				want   int
			}{
				{"admin", 0, 2},        // carol is disabled
				{"admin", us[0].ID, 1}, // not alice herself
				{"manager", 0, 0},
			} {
				if n, err := tx.CountEnabledWithRole(ctx, tt.role, tt.except); err != nil || n != tt.want {
					t.Errorf("CountEnabledWithRole(%s, %d) = %d, %v; want %d", tt.role, tt.except, n, err, tt.want)
				}
			}
			return nil
		})
	})
}

func TestAuthUserChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		ctx := context.Background()
		later := authT0.Add(time.Hour)
		for _, tt := range []struct {
			name      string
			change    func(tx *Tx, id int64) error
			want      func(u *UserRecord)
			wantHash  string
			unchanged bool // updated_at stays
		}{
			{"SetUserLang", func(tx *Tx, id int64) error { return tx.SetUserLang(ctx, id, "en-US") },
				func(u *UserRecord) { u.Lang = "en-US" }, "h-u", false},
			{"SetRole", func(tx *Tx, id int64) error { return tx.SetRole(ctx, id, "manager") },
				func(u *UserRecord) { u.Role = "manager" }, "h-u", false},
			{"SetDisabled", func(tx *Tx, id int64) error { return tx.SetDisabled(ctx, id, true) },
				func(u *UserRecord) { u.Disabled = true }, "h-u", false},
			{"SetPassword", func(tx *Tx, id int64) error { return tx.SetPassword(ctx, id, "new", true) },
				func(u *UserRecord) { u.MustChange = true }, "new", false},
			{"ReplacePassword", func(tx *Tx, id int64) error { return tx.ReplacePassword(ctx, id, "h-u", "new") },
				func(u *UserRecord) {}, "new", false},
			{"RehashPassword", func(tx *Tx, id int64) error { return tx.RehashPassword(ctx, id, "stronger") },
				func(u *UserRecord) {}, "stronger", true},
		} {
			t.Run(tt.name, func(t *testing.T) {
				db := openTest(t)
				u := authAddUser(t, db, authT0, "u", "staff")
				authTx(t, db, later, func(tx *Tx) error { return tt.change(tx, u.ID) })
				want := u
				tt.want(&want)
				if !tt.unchanged {
					want.UpdatedAt = later
				}
				got, hash, err := db.UserCredentials(ctx, u.ID)
				if err != nil || got != want || hash != tt.wantHash {
					t.Errorf("after: %+v %q %v\nwant   %+v %q", got, hash, err, want, tt.wantHash)
				}
			})
		}
	})
}

func TestAuthReplacePasswordOnlyWhileCurrentAndEnabled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		ctx := context.Background()
		for _, tt := range []struct {
			name     string
			current  string
			disabled bool
			mustBe   error
		}{
			{"current hash", "h-u", false, nil},
			{"stale hash", "older", false, ErrNotFound},
			{"disabled", "h-u", true, ErrNotFound},
		} {
			t.Run(tt.name, func(t *testing.T) {
				db := openTest(t)
				u := authAddUser(t, db, authT0, "u", "staff")
				err := db.Tx(ctx, func(tx *Tx) error {
					if err := tx.SetPassword(ctx, u.ID, "h-u", true); err != nil {
						return err
					}
					if err := tx.SetDisabled(ctx, u.ID, tt.disabled); err != nil {
						return err
					}
					return tx.ReplacePassword(ctx, u.ID, tt.current, "next")
				})
				if !errors.Is(err, tt.mustBe) || (tt.mustBe == nil && err != nil) {
					t.Fatalf("ReplacePassword: %v, want %v", err, tt.mustBe)
				}
				got, hash, _ := db.UserCredentials(ctx, u.ID)
				if tt.mustBe == nil && (hash != "next" || got.MustChange) {
					t.Errorf("replaced: hash %q must_change %v", hash, got.MustChange)
				}
			})
		}
		t.Run("UserPassword", func(t *testing.T) {
			db := openTest(t)
			u := authAddUser(t, db, authT0, "u", "staff")
			authTx(t, db, authT0, func(tx *Tx) error {
				if err := tx.SetDisabled(ctx, u.ID, true); err != nil {
					return err
				}
				hash, disabled, err := tx.UserPassword(ctx, u.ID)
				if err != nil || hash != "h-u" || !disabled {
					t.Errorf("UserPassword = %q, %v, %v", hash, disabled, err)
				}
				return nil
			})
		})
	})
}

// TestAuthMissingRowsAreErrNotFound: every read or change of one row
// that does not exist says ErrNotFound.
func TestAuthMissingRowsAreErrNotFound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		const id = 404
		reads := map[string]func() error{
			"UserByID":              func() error { _, err := db.UserByID(ctx, id); return err },
			"UserByName":            func() error { _, err := db.UserByName(ctx, "nobody"); return err },
			"UserCredentials":       func() error { _, _, err := db.UserCredentials(ctx, id); return err },
			"UserCredentialsByName": func() error { _, _, err := db.UserCredentialsByName(ctx, "nobody"); return err },
			"Session":               func() error { _, err := db.Session(ctx, "nope"); return err },
			"DB.Throttle":           func() error { _, err := db.Throttle(ctx, "nope"); return err },
		}
		for name, read := range reads {
			if err := read(); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
		changes := map[string]func(tx *Tx) error{
			"Tx.UserByID":     func(tx *Tx) error { _, err := tx.UserByID(ctx, id); return err },
			"UserPassword":    func(tx *Tx) error { _, _, err := tx.UserPassword(ctx, id); return err },
			"SetUserLang":     func(tx *Tx) error { return tx.SetUserLang(ctx, id, "vi") },
			"SetRole":         func(tx *Tx) error { return tx.SetRole(ctx, id, "staff") },
			"SetDisabled":     func(tx *Tx) error { return tx.SetDisabled(ctx, id, true) },
			"SetPassword":     func(tx *Tx) error { return tx.SetPassword(ctx, id, "h", false) },
			"ReplacePassword": func(tx *Tx) error { return tx.ReplacePassword(ctx, id, "a", "b") },
			"AuthSetting":     func(tx *Tx) error { _, err := tx.AuthSetting(ctx, "nope"); return err },
			"SessionOwner":    func(tx *Tx) error { _, err := tx.SessionOwner(ctx, "nope"); return err },
			"Tx.Throttle":     func(tx *Tx) error { _, err := tx.Throttle(ctx, "nope"); return err },
		}
		for name, change := range changes {
			if err := db.Tx(ctx, change); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", name, err)
			}
		}
	})
}

func TestAuthSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		authTx(t, db, authT0, func(tx *Tx) error {
			v, err := tx.EnsureAuthSetting(ctx, "k", []byte{1, 2, 3})
			if err != nil || string(v) != "\x01\x02\x03" {
				t.Errorf("first EnsureAuthSetting = %v, %v", v, err)
			}
			return err
		})
		authTx(t, db, authT0, func(tx *Tx) error {
			v, err := tx.AuthSetting(ctx, "k")
			if err != nil || string(v) != "\x01\x02\x03" {
				t.Errorf("AuthSetting = %v, %v", v, err)
			}
			return nil
		})
		authTx(t, db, authT0, func(tx *Tx) error {
			v, err := tx.EnsureAuthSetting(ctx, "k", []byte{9})
			if err != nil || string(v) != "\x01\x02\x03" {
				t.Errorf("second EnsureAuthSetting = %v, %v; want the first value kept", v, err)
			}
			return err
		})
	})
}

// An authenticator is confirmed only with the secret its code was checked
// against: an enrolment begun again meanwhile (another tab) is not turned
// on by the first tab's code.
func TestConfirmTOTPOnlyTheSecretChecked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		u := authAddUser(t, db, authT0, "lan", "staff")
		authTx(t, db, authT0, func(tx *Tx) error { return tx.PutPendingTOTP(ctx, u.ID, "sealed-first") })
		authTx(t, db, authT0, func(tx *Tx) error { return tx.PutPendingTOTP(ctx, u.ID, "sealed-again") })
		err := db.TxAt(ctx, authT0, func(tx *Tx) error { return tx.ConfirmTOTP(ctx, u.ID, 42, "sealed-first") })
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("confirming the replaced secret: %v, want ErrNotFound", err)
		}
		if rec, err := db.TOTP(ctx, u.ID); err != nil || rec.Confirmed || rec.Secret != "sealed-again" {
			t.Fatalf("after the refused confirmation: %+v, %v; want the new secret, pending", rec, err)
		}
		authTx(t, db, authT0, func(tx *Tx) error { return tx.ConfirmTOTP(ctx, u.ID, 42, "sealed-again") })
		if rec, err := db.TOTP(ctx, u.ID); err != nil || !rec.Confirmed || rec.LastStep != 42 {
			t.Errorf("after confirming the current secret: %+v, %v", rec, err)
		}
	})
}
