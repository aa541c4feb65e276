package apikeys

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/clock"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

func newService(t *testing.T) (*Service, *clock.Fake) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "desk.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := clock.NewFake(time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC))
	return New(db, audit.New(db, c.Now), policy.Policy{}, c.Now), c
}

var root = Admin{ID: 1, Name: "root", Role: policy.Admin}

func TestCreateAuthenticateRevoke(t *testing.T) {
	s, c := newService(t)
	ctx := context.Background()
	k, token, err := s.Create(ctx, root, NewKey{Name: " erp ", Scopes: policy.ScopeRead, ExpiresAt: c.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if k.Name != "erp" || !strings.HasPrefix(token, k.Prefix) || len(token) != len(Prefix)+prefixLen+secretLen {
		t.Fatalf("key %+v token of %d characters", k, len(token))
	}
	got, err := s.Authenticate(ctx, token)
	if err != nil || got.ID != k.ID || got.Scopes != policy.ScopeRead || got.Policy().Role != policy.APIKey || got.ActorID() != -k.ID {
		t.Fatalf("Authenticate = %+v, %v", got, err)
	}
	// Anything but the exact key is not valid, and says nothing more.
	flip := []byte(token)
	flip[len(flip)-1] ^= 1
	for _, bad := range []string{"", "rd_live_", token + "a", token[:len(token)-1], strings.ToUpper(token), string(flip),
		"rd_test_" + token[len(Prefix):], token[:len(Prefix)+prefixLen] + strings.Repeat("a", secretLen)} {
		if _, err := s.Authenticate(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Authenticate(%q) = %v, want ErrInvalid", bad, err)
		}
	}
	c.Advance(time.Hour)
	if _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v", err)
	}
	if err := s.Revoke(ctx, root, k.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.Revoke(ctx, root, k.ID); err != nil {
		t.Errorf("second revoke: %v", err)
	}
	if _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked: %v", err)
	}
	if err := s.Revoke(ctx, root, 999); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
}

func TestCreateRefusals(t *testing.T) {
	s, c := newService(t)
	ctx := context.Background()
	for _, role := range []policy.Role{policy.Staff, policy.Manager, policy.APIKey, ""} {
		if _, _, err := s.Create(ctx, Admin{ID: 2, Role: role}, NewKey{Name: "x", Scopes: policy.ScopeRead, ExpiresAt: c.Now().Add(time.Hour)}); !errors.Is(err, ErrForbidden) {
			t.Errorf("%q: %v", role, err)
		}
		if err := s.Revoke(ctx, Admin{ID: 2, Role: role}, 1); !errors.Is(err, ErrForbidden) {
			t.Errorf("%q revokes: %v", role, err)
		}
	}
	_, _, err := s.Create(ctx, root, NewKey{Name: "a\x00b", ExpiresAt: c.Now().Add(3 * 366 * 24 * time.Hour)})
	fields, ok := fault.FieldsOf(err)
	if !ok || len(fields) != 3 {
		t.Fatalf("%v", err)
	}
	if _, _, err := s.Create(ctx, root, NewKey{Name: "x", Scopes: policy.ScopeRead, ExpiresAt: c.Now()}); err == nil {
		t.Error("a key expiring now was created")
	}
	if keys, _ := s.List(ctx); len(keys) != 0 {
		t.Errorf("%d keys created", len(keys))
	}
}
