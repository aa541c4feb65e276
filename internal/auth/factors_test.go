package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// TestLastFactorSurvivesConcurrentRemovals: a user whose role requires a
// second factor has an authenticator and one security key, and removes
// both at once (two tabs, or a script). Each removal alone would be
// allowed; together exactly one goes, the other is refused, and a factor
// remains.
func TestLastFactorSurvivesConcurrentRemovals(t *testing.T) {
	e := newMFAEnv(t)
	ctx := context.Background()
	for i := range 8 {
		u := e.mustCreate(t, fmt.Sprintf("mgr%d", i), RoleManager)
		secret, _ := e.enrol(t, u)
		id := fmt.Sprintf("key-%d", i)
		if err := e.svc.tx(ctx, func(tx *store.Tx) error {
			return tx.InsertWebAuthnKey(ctx, store.WebAuthnKey{CredentialID: id, UserID: u.ID, Name: "k", Credential: "{}"})
		}); err != nil {
			t.Fatal(err)
		}
		e.clock.Advance(30 * time.Second)
		code := e.code(t, secret)
		var wg sync.WaitGroup
		var keyErr, appErr error
		wg.Go(func() { keyErr = e.svc.RemoveKey(ctx, u, id, true) })
		wg.Go(func() { appErr = e.svc.DisableTOTP(ctx, u, code, true) })
		wg.Wait()
		if (keyErr == nil) == (appErr == nil) {
			t.Fatalf("round %d: key removal %v, app removal %v: want exactly one to succeed", i, keyErr, appErr)
		}
		for _, err := range []error{keyErr, appErr} {
			if err != nil && !errors.Is(err, ErrSecondFactorRequired) {
				t.Fatalf("round %d: refusal %v, want ErrSecondFactorRequired", i, err)
			}
		}
		if has, err := e.svc.HasSecondFactor(ctx, u.ID); err != nil || !has {
			t.Fatalf("round %d: no second factor left (%v)", i, err)
		}
	}
	// Refused, the last one still cannot go.
	u := e.mustCreate(t, "solo", RoleManager)
	if err := e.svc.tx(ctx, func(tx *store.Tx) error {
		return tx.InsertWebAuthnKey(ctx, store.WebAuthnKey{CredentialID: "solo-key", UserID: u.ID, Name: "k", Credential: "{}"})
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.svc.RemoveKey(ctx, u, "nope", true); !errors.Is(err, ErrNoKey) {
		t.Fatalf("unknown key: %v, want ErrNoKey", err)
	}
	if err := e.svc.RemoveKey(ctx, u, "solo-key", true); !errors.Is(err, ErrSecondFactorRequired) {
		t.Fatalf("last key: %v, want ErrSecondFactorRequired", err)
	}
	if err := e.svc.RemoveKey(ctx, u, "solo-key", false); err != nil {
		t.Fatalf("last key, not required: %v", err)
	}
}
