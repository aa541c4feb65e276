package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

func TestAPIKeysAndIdempotencyRecords(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		var id int64
		authTx(t, db, authT0, func(tx *Tx) error {
			var err error
			id, err = tx.InsertAPIKey(ctx, APIKeyRecord{Name: "erp", Prefix: "abcdefghij", SecretHash: "h", Scopes: "read create",
				CreatedBy: 7, CreatedByName: "root", ExpiresAt: authT0.Add(time.Hour)})
			return err
		})
		k, err := db.APIKeyByPrefix(ctx, "abcdefghij")
		want := APIKeyRecord{ID: id, Name: "erp", Prefix: "abcdefghij", SecretHash: "h", Scopes: "read create", CreatedBy: 7,
			CreatedByName: "root", CreatedAt: authT0, ExpiresAt: authT0.Add(time.Hour)}
		if err != nil || k != want {
			t.Fatalf("read back %+v, %v\nwant %+v", k, err, want)
		}
		if _, err := db.APIKeyByPrefix(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown prefix: %v", err)
		}
		used, revoked := authT0.Add(time.Minute), authT0.Add(2*time.Minute)
		authTx(t, db, used, func(tx *Tx) error { return tx.TouchAPIKey(ctx, id) })
		for i, want := range []bool{true, false} {
			authTx(t, db, revoked.Add(time.Duration(i)*time.Minute), func(tx *Tx) error {
				done, err := tx.RevokeAPIKey(ctx, id)
				if done != want {
					t.Errorf("revoke %d: %v, want %v", i, done, want)
				}
				return err
			})
		}
		keys, err := db.APIKeys(ctx)
		if err != nil || len(keys) != 1 || !keys[0].LastUsedAt.Equal(used) || !keys[0].RevokedAt.Equal(revoked) {
			t.Fatalf("keys %+v, %v", keys, err)
		}

		rec := IdempotencyRecord{KeyID: id, IdempotencyKey: "k1", RequestHash: "a", Status: 201, Response: `{"id":"r1"}`, RefundID: "r1"}
		if _, err := db.Idempotency(ctx, id, "k1"); !errors.Is(err, ErrNotFound) {
			t.Errorf("before: %v", err)
		}
		var first, second IdempotencyRecord
		authTx(t, db, authT0, func(tx *Tx) error { first, err = tx.PutIdempotency(ctx, rec); return err })
		other := rec
		other.RequestHash, other.Response, other.RefundID = "b", `{"id":"r2"}`, "r2"
		authTx(t, db, authT0.Add(time.Second), func(tx *Tx) error { second, err = tx.PutIdempotency(ctx, other); return err })
		rec.CreatedAt = authT0
		if first != rec || second != rec {
			t.Errorf("stored %+v then %+v, want the first twice: %+v", first, second, rec)
		}
		if got, err := db.Idempotency(ctx, id, "k1"); err != nil || got != rec {
			t.Errorf("read %+v, %v", got, err)
		}
	})
}
