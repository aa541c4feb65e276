package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// Operations whose conditional write decides between two transactions
// that read the same row at once (PostgreSQL, READ COMMITTED): the first
// is held open after its write (storetest.Race), the second runs, and only
// one may win.

// raceOp runs op in two write transactions at once, the first held after
// op until the second waits on a lock or has finished; it returns both
// errors.
func raceOp(t *testing.T, db *DB, now time.Time, op func(tx *Tx) error) (error, error) {
	t.Helper()
	ctx := context.Background()
	return storetest.Race(t, db.Write, db.pg, "",
		func(hold func()) error {
			return db.TxAt(ctx, now, func(tx *Tx) error {
				err := op(tx)
				hold()
				return err
			})
		},
		func() error { return db.TxAt(ctx, now, op) })
}

// wantOneWinner checks that exactly one of two errors is nil and the other
// is want.
func wantOneWinner(t *testing.T, errA, errB, want error) {
	t.Helper()
	if errA != nil || !errors.Is(errB, want) {
		t.Fatalf("first: %v; second: %v, want %v", errA, errB, want)
	}
}

func TestConditionalWritesHaveOneWinner(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(t *testing.T, db *DB, u UserRecord) func(tx *Tx) error
		want  error
	}{
		{"security key ceremony used once", func(t *testing.T, db *DB, u UserRecord) func(tx *Tx) error {
			authTx(t, db, authT0, func(tx *Tx) error {
				return tx.InsertWebAuthnChallenge(ctx, "ch-1", u.ID, "login", "session-data", authT0.Add(time.Minute))
			})
			return func(tx *Tx) error {
				_, err := tx.TakeWebAuthnChallenge(ctx, "ch-1", u.ID, "login")
				return err
			}
		}, ErrNotFound},
		{"security key sign count used once", func(t *testing.T, db *DB, u UserRecord) func(tx *Tx) error {
			authTx(t, db, authT0, func(tx *Tx) error {
				return tx.InsertWebAuthnKey(ctx, WebAuthnKey{CredentialID: "cred-1", UserID: u.ID, Name: "key",
					Credential: "{}", SignCount: 4})
			})
			return func(tx *Tx) error { return tx.UseWebAuthnKey(ctx, u.ID, "cred-1", "{}", 5) }
		}, ErrConflict},
		{"session ended once", func(t *testing.T, db *DB, u UserRecord) func(tx *Tx) error {
			authTx(t, db, authT0, func(tx *Tx) error { return tx.InsertSession(ctx, SessionRecord{ID: "s-1", UserID: u.ID}) })
			return func(tx *Tx) error {
				if ok, err := tx.RemoveSession(ctx, "s-1"); err != nil || ok {
					return err
				}
				return ErrNotFound
			}
		}, ErrNotFound},
		{"webhook endpoint removed once", func(t *testing.T, db *DB, u UserRecord) func(tx *Tx) error {
			var id int64
			authTx(t, db, authT0, func(tx *Tx) (err error) {
				id, err = tx.InsertNotifyEndpoint(ctx, NotifyEndpoint{URL: "https://hooks.example/x", Secret: "s",
					CreatedBy: u.ID, CreatedByName: u.Username})
				return err
			})
			return func(tx *Tx) error {
				_, err := tx.RemoveNotifyEndpoint(ctx, id)
				return err
			}
		}, ErrNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := openTest(t)
			u := authAddUser(t, db, authT0, "ann", "admin")
			op := tt.setup(t, db, u)
			errA, errB := raceOp(t, db, authT0, op)
			wantOneWinner(t, errA, errB, tt.want)
		})
	}
}

// Two requests with one Idempotency-Key storing their answers at once:
// the second waits for the first's commit and gets the first's answer,
// never a unique violation.
func TestPutIdempotencyConcurrentKeepsTheFirst(t *testing.T) {
	ctx := context.Background()
	db := openTest(t)
	var keyID int64
	authTx(t, db, authT0, func(tx *Tx) (err error) {
		keyID, err = tx.InsertAPIKey(ctx, APIKeyRecord{Name: "erp", Prefix: "abcdefghij", SecretHash: "h", Scopes: "create",
			CreatedBy: 7, CreatedByName: "root", ExpiresAt: authT0.Add(time.Hour)})
		return err
	})
	put := func(refundID string, got *IdempotencyRecord) func(tx *Tx) error {
		return func(tx *Tx) (err error) {
			*got, err = tx.PutIdempotency(ctx, IdempotencyRecord{KeyID: keyID, IdempotencyKey: "k-1", RequestHash: "rh",
				Status: 201, Response: `{"id":"` + refundID + `"}`, RefundID: refundID})
			return err
		}
	}
	var first, second IdempotencyRecord
	errA, errB := storetest.Race(t, db.Write, db.pg, "",
		func(hold func()) error {
			return db.TxAt(ctx, authT0, func(tx *Tx) error {
				err := put("r-1", &first)(tx)
				hold()
				return err
			})
		},
		func() error { return db.TxAt(ctx, authT0, put("r-2", &second)) })
	if errA != nil || errB != nil {
		t.Fatalf("PutIdempotency: %v, %v", errA, errB)
	}
	if first.RefundID != "r-1" || second.RefundID != "r-1" || second.Response != first.Response {
		t.Fatalf("stored answers %q and %q, want the first's (r-1) for both", first.RefundID, second.RefundID)
	}
}
