package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Generated keys survive a restart, and so do the sessions signed with them.
func TestKeysPersistAcrossReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keys.db")
	clock := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	open := func() (*store.DB, [][]byte, *Service) {
		t.Helper()
		db, err := store.Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		keys, err := LoadOrCreateKeys(ctx, db, "")
		if err != nil {
			t.Fatal(err)
		}
		svc := NewService(db, nopRecorder{}, Options{Now: clock.Now, Argon: testParams})
		svc.SessionStore(keys, CookieOptions{})
		return db, keys, svc
	}

	db1, keys1, svc1 := open()
	if len(keys1) != 2 || len(keys1[0]) != 64 || len(keys1[1]) != 32 {
		t.Fatalf("generated key sizes %d/%d", len(keys1[0]), len(keys1[1]))
	}
	again, err := LoadOrCreateKeys(ctx, db1, "")
	if err != nil || !bytes.Equal(again[0], keys1[0]) || !bytes.Equal(again[1], keys1[1]) {
		t.Fatalf("second load in the same process returned other keys (%v)", err)
	}
	u, err := svc1.CreateUser(ctx, "sam", "", RoleStaff, goodPassword, false)
	if err != nil {
		t.Fatal(err)
	}
	env1 := &testEnv{svc: svc1, db: db1, clock: clock}
	_, c := login(t, env1, u, nil)
	db1.Close()

	db2, keys2, svc2 := open()
	defer db2.Close()
	if !bytes.Equal(keys1[0], keys2[0]) || !bytes.Equal(keys1[1], keys2[1]) {
		t.Fatal("keys changed across reopen")
	}
	mustCurrent(t, &testEnv{svc: svc2, db: db2, clock: clock}, c, u)
}

func TestLoadKeysRejectsCorruptSetting(t *testing.T) {
	env := newEnv(t)
	ctx := context.Background()
	if _, err := env.db.Write.Exec(`INSERT INTO settings (key, value) VALUES ('session_hash_key', ?)`, []byte{1, 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateKeys(ctx, env.db, ""); err == nil {
		t.Fatal("a 2-byte stored hash key was accepted")
	}
}

func TestConfiguredKeys(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t)
	secret := bytes.Repeat([]byte{0x5a}, 32)
	other := bytes.Repeat([]byte{0x33}, 48)
	hexForm := hex.EncodeToString(secret)

	ref, err := LoadOrCreateKeys(ctx, env.db, hexForm)
	if err != nil {
		t.Fatal(err)
	}
	if len(ref) != 2 || len(ref[0]) != 64 || len(ref[1]) != 32 {
		t.Fatalf("derived key sizes %d/%d", len(ref[0]), len(ref[1]))
	}
	if bytes.Equal(ref[0][:32], secret) || bytes.Equal(ref[1], secret) {
		t.Fatal("keys are the raw secret, not derived")
	}
	for _, form := range []string{
		" " + hexForm + " ",
		"base64:" + base64.StdEncoding.EncodeToString(secret),
		"base64:" + base64.RawURLEncoding.EncodeToString(secret),
	} {
		got, err := LoadOrCreateKeys(ctx, env.db, form)
		if err != nil || !bytes.Equal(got[0], ref[0]) || !bytes.Equal(got[1], ref[1]) {
			t.Errorf("form %q gives other keys (%v)", form, err)
		}
	}
	rotated, err := LoadOrCreateKeys(ctx, env.db, "base64:"+base64.StdEncoding.EncodeToString(other)+","+hexForm)
	if err != nil || len(rotated) != 4 || !bytes.Equal(rotated[2], ref[0]) || bytes.Equal(rotated[0], ref[0]) {
		t.Fatalf("rotation list: %d keys, %v", len(rotated), err)
	}
	if n := env.countRows(t, `SELECT count(*) FROM settings`); n != 0 {
		t.Fatalf("configured keys wrote %d settings rows", n)
	}

	short := hex.EncodeToString(bytes.Repeat([]byte{0x42}, 16))
	for _, bad := range []string{short, "not a key at all!", hexForm + ",", "zz" + hexForm + "!", "zz",
		strings.Repeat("g", 64), base64.StdEncoding.EncodeToString(secret), "base64:%%%"} {
		_, err := LoadOrCreateKeys(ctx, env.db, bad)
		if err == nil {
			t.Errorf("LoadOrCreateKeys(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), short) || strings.Contains(err.Error(), hexForm) {
			t.Errorf("error %q contains the secret", err)
		}
	}
}
