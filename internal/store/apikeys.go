package store

// API keys of /api/v1 and the idempotency records of their requests
// (migration 0030). Package apikeys decides; these are the statements.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// APIKeyRecord is one API key as stored: never the key itself, only the
// SHA-256 (hex) of it.
type APIKeyRecord struct {
	ID            int64
	Name          string
	Prefix        string
	SecretHash    string
	Scopes        string // policy.Scopes' names, space-separated
	CreatedBy     int64
	CreatedByName string
	CreatedAt     time.Time
	ExpiresAt     time.Time
	RevokedAt     time.Time // zero: not revoked
	LastUsedAt    time.Time // zero: never used
}

const apiKeyCols = `id, name, prefix, secret_hash, scopes, created_by, created_by_name, created_at, expires_at, revoked_at, last_used_at`

func scanAPIKey(sc interface{ Scan(...any) error }) (APIKeyRecord, error) {
	var k APIKeyRecord
	var created, expires, revoked, used string
	if err := sc.Scan(&k.ID, &k.Name, &k.Prefix, &k.SecretHash, &k.Scopes, &k.CreatedBy, &k.CreatedByName,
		&created, &expires, &revoked, &used); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return APIKeyRecord{}, ErrNotFound
		}
		return APIKeyRecord{}, err
	}
	for _, f := range []struct {
		s   string
		dst *time.Time
	}{{created, &k.CreatedAt}, {expires, &k.ExpiresAt}, {revoked, &k.RevokedAt}, {used, &k.LastUsedAt}} {
		if f.s == "" {
			continue
		}
		t, err := ParseTime(f.s)
		if err != nil {
			return APIKeyRecord{}, fmt.Errorf("api key %d: %w", k.ID, err)
		}
		*f.dst = t
	}
	return k, nil
}

// InsertAPIKey stores k (its ID, CreatedAt and the use and revocation
// times are ignored) and returns its id.
func (t *Tx) InsertAPIKey(ctx context.Context, k APIKeyRecord) (int64, error) {
	var id int64
	err := t.stx.QueryRowContext(ctx, `INSERT INTO api_keys (name, prefix, secret_hash, scopes, created_by, created_by_name, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`, k.Name, k.Prefix, k.SecretHash, k.Scopes, k.CreatedBy, k.CreatedByName,
		FormatTime(t.now), FormatTime(k.ExpiresAt)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("store: insert api key: %w", err)
	}
	return id, nil
}

// APIKeyByPrefix returns the key whose prefix is prefix, or ErrNotFound.
func (db *DB) APIKeyByPrefix(ctx context.Context, prefix string) (APIKeyRecord, error) {
	k, err := scanAPIKey(db.Read.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE prefix = ?`, prefix))
	if err != nil {
		return k, fmt.Errorf("store: api key: %w", err)
	}
	return k, nil
}

// APIKey returns key id as the transaction sees it, or ErrNotFound.
func (t *Tx) APIKey(ctx context.Context, id int64) (APIKeyRecord, error) {
	k, err := scanAPIKey(t.stx.QueryRowContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys WHERE id = ?`, id))
	if err != nil {
		return k, fmt.Errorf("store: api key %d: %w", id, err)
	}
	return k, nil
}

// APIKeys lists every key, newest first.
func (db *DB) APIKeys(ctx context.Context) ([]APIKeyRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+apiKeyCols+` FROM api_keys ORDER BY id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKeyRecord
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, fmt.Errorf("store: api keys: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey marks key id revoked now; false when it already was (or
// does not exist).
func (t *Tx) RevokeAPIKey(ctx context.Context, id int64) (bool, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at = ''`,
		FormatTime(t.now), id))
	if err != nil {
		return false, fmt.Errorf("store: revoke api key %d: %w", id, err)
	}
	return n > 0, nil
}

// TouchAPIKey records that key id was used now.
func (t *Tx) TouchAPIKey(ctx context.Context, id int64) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ? WHERE id = ?`, FormatTime(t.now), id); err != nil {
		return fmt.Errorf("store: api key %d used: %w", id, err)
	}
	return nil
}

// IdempotencyRecord is what a request with an Idempotency-Key produced.
type IdempotencyRecord struct {
	KeyID          int64
	IdempotencyKey string
	RequestHash    string // SHA-256 (hex) of the request as the API read it
	Status         int
	Response       string
	RefundID       string
	CreatedAt      time.Time
}

const idemCols = `key_id, idempotency_key, request_hash, status, response, refund_id, created_at`

func scanIdem(sc interface{ Scan(...any) error }) (IdempotencyRecord, error) {
	var r IdempotencyRecord
	var at string
	if err := sc.Scan(&r.KeyID, &r.IdempotencyKey, &r.RequestHash, &r.Status, &r.Response, &r.RefundID, &at); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return r, ErrNotFound
		}
		return r, err
	}
	var err error
	r.CreatedAt, err = ParseTime(at)
	return r, err
}

// Idempotency returns the record of keyID's idempotency key idem, or
// ErrNotFound.
func (db *DB) Idempotency(ctx context.Context, keyID int64, idem string) (IdempotencyRecord, error) {
	r, err := scanIdem(db.Read.QueryRowContext(ctx, `SELECT `+idemCols+` FROM api_idempotency
		WHERE key_id = ? AND idempotency_key = ?`, keyID, idem))
	if err != nil {
		return r, fmt.Errorf("store: idempotency record: %w", err)
	}
	return r, nil
}

// PutIdempotency stores r unless a record for its key and idempotency key
// is already there, and returns the record that is stored (the first).
func (t *Tx) PutIdempotency(ctx context.Context, r IdempotencyRecord) (IdempotencyRecord, error) {
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO api_idempotency (`+idemCols+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (key_id, idempotency_key) DO NOTHING`,
		r.KeyID, r.IdempotencyKey, r.RequestHash, r.Status, r.Response, r.RefundID, FormatTime(t.now)); err != nil {
		return r, fmt.Errorf("store: put idempotency record: %w", err)
	}
	got, err := scanIdem(t.stx.QueryRowContext(ctx, `SELECT `+idemCols+` FROM api_idempotency
		WHERE key_id = ? AND idempotency_key = ?`, r.KeyID, r.IdempotencyKey))
	if err != nil {
		return got, fmt.Errorf("store: idempotency record: %w", err)
	}
	return got, nil
}
