package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gorilla/securecookie"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Settings rows holding the generated cookie keys.
const (
	settingHashKey  = "session_hash_key"
	settingBlockKey = "session_block_key"
)

// minSecretLen is the least entropy, in bytes, accepted from SESSION_KEY.
const minSecretLen = 32

// LoadOrCreateKeys returns the cookie key pairs for SessionStore: hash
// (HMAC-SHA256, 64 bytes) then block (AES-256, 32 bytes) key, current pair
// first.
//
// When configured is set (SESSION_KEY) it is one or more comma-separated
// secrets, newest first, each hex or base64 of at least 32 bytes; each
// secret yields one pair derived with HMAC, and older secrets keep existing
// cookies valid during a rotation. Otherwise the pair is read from the
// settings table, generated and stored on first start so restarts keep
// people signed in. Errors never contain key material.
func LoadOrCreateKeys(ctx context.Context, db *store.DB, configured string) ([][]byte, error) {
	if strings.TrimSpace(configured) != "" {
		return parseConfiguredKeys(configured)
	}
	var hashKey, blockKey []byte
	err := db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if hashKey, err = loadOrCreateSetting(ctx, tx, settingHashKey, 64); err != nil {
			return err
		}
		blockKey, err = loadOrCreateSetting(ctx, tx, settingBlockKey, 32)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("session keys: %w", err)
	}
	return [][]byte{hashKey, blockKey}, nil
}

// loadOrCreateSetting returns the stored key, or stores a new random one of
// size bytes. A stored key of the wrong size is an error, not silently
// replaced (that would sign everyone out and hide a corrupted database).
func loadOrCreateSetting(ctx context.Context, tx *store.Tx, name string, size int) ([]byte, error) {
	v, err := tx.AuthSetting(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		v, err = createSetting(ctx, tx, name, size)
	}
	if err != nil {
		return nil, err
	}
	if len(v) != size {
		return nil, fmt.Errorf("setting %s has %d bytes, want %d", name, len(v), size)
	}
	return v, nil
}

// createSetting stores a new random key of size bytes as setting name and
// returns the key stored: another instance starting at the same moment
// may have stored its own first, and then every instance must use that one.
func createSetting(ctx context.Context, tx *store.Tx, name string, size int) ([]byte, error) {
	v := securecookie.GenerateRandomKey(size)
	if v == nil {
		return nil, errors.New("generate random key")
	}
	return tx.EnsureAuthSetting(ctx, name, v)
}

func parseConfiguredKeys(configured string) ([][]byte, error) {
	var pairs [][]byte
	for i, part := range strings.Split(configured, ",") {
		secret, err := decodeSecret(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("SESSION_KEY secret %d: %w", i+1, err)
		}
		h := hmac.New(sha512.New, secret)
		h.Write([]byte("refunddesk session hash key"))
		b := hmac.New(sha256.New, secret)
		b.Write([]byte("refunddesk session block key"))
		pairs = append(pairs, h.Sum(nil), b.Sum(nil))
	}
	return pairs, nil
}

// decodeSecret accepts hex, then standard or URL base64 (padded or not).
func decodeSecret(s string) ([]byte, error) {
	if s == "" {
		return nil, errors.New("empty")
	}
	// Hex, or base64 only when it says so: read as base64, most typos and
	// words ("zz", or 64 times "g") are some bytes, and a key must be random.
	if b64, ok := strings.CutPrefix(s, "base64:"); ok {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(b64); err == nil {
				return checkSecretLen(b)
			}
		}
		return nil, errors.New("not base64 after \"base64:\"")
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not hexadecimal (use %d or more hex characters, e.g. from `openssl rand -hex 32`, or base64:…)", 2*minSecretLen)
	}
	return checkSecretLen(b)
}

// CheckSessionKey reports what is wrong with a SESSION_KEY value ("" is
// fine: a key is generated and kept in the database).
func CheckSessionKey(configured string) error {
	if strings.TrimSpace(configured) == "" {
		return nil
	}
	_, err := parseConfiguredKeys(configured)
	return err
}

func checkSecretLen(b []byte) ([]byte, error) {
	if len(b) < minSecretLen {
		return nil, fmt.Errorf("too short: %d bytes (%d hex characters), need at least %d", len(b), 2*len(b), minSecretLen)
	}
	return b, nil
}
