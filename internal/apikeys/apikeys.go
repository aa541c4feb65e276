// Package apikeys issues, checks and revokes the keys a merchant's own
// systems use to call /api/v1, and keeps the idempotency records of their
// requests. A key is shown once, at creation: "rd_live_" followed by a
// 10-character prefix (stored as is, it names the key and finds its row)
// and a 256-bit random secret. The database keeps only the SHA-256 of the
// whole key; checking compares that hash in constant time. What a key may
// do is package policy's answer (role policy.APIKey and the key's scopes).
package apikeys

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Token shape: Prefix, then prefixLen and secretLen characters of
// lower-case base32.
const (
	Prefix    = "rd_live_"
	prefixLen = 10 // 50 bits: unique enough to find the row, not a secret
	secretLen = 52 // 260 bits of which 256 random
)

// MaxLifetime is the longest expiry a key may be given.
const MaxLifetime = 2 * 366 * 24 * time.Hour

var enc = base32.StdEncoding.WithPadding(base32.NoPadding)

// Errors of Authenticate: each is a 401 for the caller, told apart in the
// audit trail. Errors of Create and Revoke: a *fault field error
// (fault.Invalid), ErrForbidden, ErrNotFound.
var (
	ErrInvalid   = fault.New(fault.Forbidden, "apikeys: not a valid key")
	ErrExpired   = fault.New(fault.Forbidden, "apikeys: key expired")
	ErrRevoked   = fault.New(fault.Forbidden, "apikeys: key revoked")
	ErrForbidden = fault.New(fault.Forbidden, "apikeys: may not manage API keys")
	ErrNotFound  = fault.New(fault.NotFound, "apikeys: no such key")
)

// Key is an API key as the desk knows it (never its secret).
type Key struct {
	ID            int64
	Name          string
	Prefix        string // "rd_live_" + the stored prefix: how lists show it
	Scopes        policy.Scopes
	CreatedBy     int64
	CreatedByName string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     time.Time // zero: not revoked
	LastUsedAt    time.Time // zero: never used
}

// Active reports whether k may be used at now.
func (k Key) Active(now time.Time) bool { return k.RevokedAt.IsZero() && now.Before(k.ExpiresAt) }

// ActorID is k as an actor id: minus its id, so it is nobody's user id.
func (k Key) ActorID() int64 { return -k.ID }

// ActorName is k as the audit trail and the refunds it requests name it.
func (k Key) ActorName() string { return "apikey:" + k.Name }

// Policy is k as the policy reads it.
func (k Key) Policy() policy.Actor {
	return policy.Actor{ID: k.ActorID(), Role: policy.APIKey, Scopes: k.Scopes}
}

// Admin is the person managing keys.
type Admin struct {
	ID   int64
	Name string
	Role policy.Role
}

// Service manages keys.
type Service struct {
	db     *store.DB
	audit  *audit.Log
	policy policy.Policy
	now    func() time.Time
}

// New returns a Service deciding by p, acting at now().
func New(db *store.DB, al *audit.Log, p policy.Policy, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{db: db, audit: al, policy: p, now: now}
}

// fieldError is a validation error on the key form.
type fieldError struct{ fields fault.Fields }

func (e *fieldError) Error() string               { return "apikeys: " + e.fields.Summary() }
func (e *fieldError) Kind() fault.Kind            { return fault.Invalid }
func (e *fieldError) FieldMessages() fault.Fields { return e.fields }

// NewKey is what an admin asks for.
type NewKey struct {
	Name      string
	Scopes    policy.Scopes
	ExpiresAt time.Time
}

// Create issues a key and returns it with the full token, which is never
// available again. Errors: ErrForbidden, a field error (fields name,
// scopes, expires).
func (s *Service) Create(ctx context.Context, by Admin, nk NewKey) (Key, string, error) {
	if !s.policy.Permits(policy.Actor{ID: by.ID, Role: by.Role}, policy.ManageAPIKeys) {
		return Key{}, "", ErrForbidden
	}
	now := s.now()
	nk.Name = strings.TrimSpace(nk.Name)
	f := fault.Fields{}
	switch {
	case nk.Name == "":
		f["name"] = fault.M("apikey.err_name", "Give the key a name.")
	case utf8.RuneCountInString(nk.Name) > 64 || strings.ContainsFunc(nk.Name, unicode.IsControl):
		f["name"] = fault.M("apikey.err_name_long", "At most 64 characters, no control characters.")
	}
	if nk.Scopes.Names() == nil {
		f["scopes"] = fault.M("apikey.err_scopes", "Choose at least one scope.")
	}
	if !nk.ExpiresAt.After(now) || nk.ExpiresAt.Sub(now) > MaxLifetime {
		f["expires"] = fault.M("apikey.err_expires", "Choose an expiry after today and within two years.")
	}
	if len(f) > 0 {
		return Key{}, "", &fieldError{f}
	}
	prefix, secret, err := generate()
	if err != nil {
		return Key{}, "", err
	}
	token := Prefix + prefix + secret
	rec := store.APIKeyRecord{Name: nk.Name, Prefix: prefix, SecretHash: hash(token), Scopes: nk.Scopes.String(),
		CreatedBy: by.ID, CreatedByName: by.Name, ExpiresAt: nk.ExpiresAt.UTC()}
	err = s.db.TxAt(ctx, now, func(tx *store.Tx) error {
		id, err := tx.InsertAPIKey(ctx, rec)
		if err != nil {
			return err
		}
		rec.ID = id
		return s.audit.Record(ctx, tx, audit.Event{ActorID: by.ID, ActorName: by.Name, ActorRole: string(by.Role),
			Action: audit.ActionAPIKeyCreated, Outcome: audit.OutcomeSuccess, TargetType: "api_key", TargetID: fmt.Sprint(id),
			Details: map[string]any{"api_client_id": id, "api_client": nk.Name, "api_client_prefix": Prefix + prefix,
				"scopes": nk.Scopes.String(), "expires_at": store.FormatTime(nk.ExpiresAt)}})
	})
	if err != nil {
		return Key{}, "", fmt.Errorf("apikeys: create: %w", err)
	}
	rec.CreatedAt = now.UTC()
	return fromRecord(rec), token, nil
}

// Revoke ends key id now. Revoking a revoked key changes nothing and is
// not an error. Errors: ErrForbidden, ErrNotFound.
func (s *Service) Revoke(ctx context.Context, by Admin, id int64) error {
	if !s.policy.Permits(policy.Actor{ID: by.ID, Role: by.Role}, policy.ManageAPIKeys) {
		return ErrForbidden
	}
	return s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		k, err := tx.APIKey(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		done, err := tx.RevokeAPIKey(ctx, id)
		if err != nil || !done {
			return err
		}
		return s.audit.Record(ctx, tx, audit.Event{ActorID: by.ID, ActorName: by.Name, ActorRole: string(by.Role),
			Action: audit.ActionAPIKeyRevoked, Outcome: audit.OutcomeSuccess, TargetType: "api_key", TargetID: fmt.Sprint(id),
			Details: map[string]any{"api_client_id": id, "api_client": k.Name, "api_client_prefix": Prefix + k.Prefix}})
	})
}

// List returns every key, newest first.
func (s *Service) List(ctx context.Context) ([]Key, error) {
	recs, err := s.db.APIKeys(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Key, len(recs))
	for i, r := range recs {
		out[i] = fromRecord(r)
	}
	return out, nil
}

// Authenticate finds the key token names and checks it. Errors:
// ErrInvalid (malformed, unknown or wrong secret), ErrRevoked, ErrExpired
// (each with the key when it was found), or a database error.
func (s *Service) Authenticate(ctx context.Context, token string) (Key, error) {
	rest, ok := strings.CutPrefix(token, Prefix)
	if !ok || len(rest) != prefixLen+secretLen || strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz234567") != "" {
		return Key{}, ErrInvalid
	}
	rec, err := s.db.APIKeyByPrefix(ctx, rest[:prefixLen])
	if errors.Is(err, store.ErrNotFound) {
		// Hash anyway, so an unknown prefix costs what a known one does.
		_ = subtle.ConstantTimeCompare([]byte(hash(token)), []byte(hash(Prefix)))
		return Key{}, ErrInvalid
	}
	if err != nil {
		return Key{}, fmt.Errorf("apikeys: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(hash(token)), []byte(rec.SecretHash)) != 1 {
		return Key{}, ErrInvalid
	}
	k := fromRecord(rec)
	switch {
	case !k.RevokedAt.IsZero():
		return k, ErrRevoked
	case !s.now().Before(k.ExpiresAt):
		return k, ErrExpired
	}
	return k, nil
}

// RecordUse stamps k's last use and audits it (action apikey.used) in one
// transaction: route is the route's pattern, never the query or the body.
// The audit details name the key api_client*: words with "key" in them
// are redacted by the audit log.
func (s *Service) RecordUse(ctx context.Context, k Key, route string) error {
	now := s.now()
	return s.db.TxAt(ctx, now, func(tx *store.Tx) error {
		if err := tx.TouchAPIKey(ctx, k.ID); err != nil {
			return err
		}
		return s.audit.Record(ctx, tx, audit.Event{ActorID: k.ActorID(), ActorName: k.ActorName(), ActorRole: string(policy.APIKey),
			Action: audit.ActionAPIKeyUsed, Outcome: audit.OutcomeSuccess, TargetType: "api_key", TargetID: fmt.Sprint(k.ID),
			Details: map[string]any{"api_client_id": k.ID, "api_client": k.Name, "route": route}})
	})
}

// Replay returns what keyID's request with idempotency key idem produced,
// or store.ErrNotFound.
func (s *Service) Replay(ctx context.Context, keyID int64, idem string) (store.IdempotencyRecord, error) {
	return s.db.Idempotency(ctx, keyID, idem)
}

// Remember stores r unless a record for its keys is there already, and
// returns the one stored (the first).
func (s *Service) Remember(ctx context.Context, r store.IdempotencyRecord) (store.IdempotencyRecord, error) {
	var got store.IdempotencyRecord
	err := s.db.TxAt(ctx, s.now(), func(tx *store.Tx) error {
		var err error
		got, err = tx.PutIdempotency(ctx, r)
		return err
	})
	return got, err
}

// Hash is the SHA-256 (hex) of b, for request hashes.
func Hash(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func hash(token string) string { return Hash([]byte(token)) }

func generate() (prefix, secret string, err error) {
	b := make([]byte, 40) // 7 bytes of prefix (50 bits used), 33 of secret (≥ 256 bits)
	if _, err := rand.Read(b); err != nil {
		return "", "", fmt.Errorf("apikeys: random: %w", err)
	}
	p := strings.ToLower(enc.EncodeToString(b[:7]))[:prefixLen]
	sec := strings.ToLower(enc.EncodeToString(b[7:]))[:secretLen]
	return p, sec, nil
}

func fromRecord(r store.APIKeyRecord) Key {
	scopes, _ := policy.ParseScopes(r.Scopes) // a damaged row gets no scope, so it may do nothing
	return Key{ID: r.ID, Name: r.Name, Prefix: Prefix + r.Prefix, Scopes: scopes, CreatedBy: r.CreatedBy,
		CreatedByName: r.CreatedByName, CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt, RevokedAt: r.RevokedAt, LastUsedAt: r.LastUsedAt}
}
