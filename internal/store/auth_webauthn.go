package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Security keys and passkeys (migration 0026): registered credentials and
// the ceremonies in progress. The auth package runs the WebAuthn
// ceremonies; this file only reads and writes the rows.

// WebAuthnKey is one registered credential of a user.
type WebAuthnKey struct {
	CredentialID string // base64url
	UserID       int64
	Name         string
	Credential   string // go-webauthn's Credential as JSON
	SignCount    int64
	CreatedAt    time.Time
	LastUsedAt   time.Time // zero when never used
}

func webAuthnKeys(ctx context.Context, q authQuerier, userID int64) ([]WebAuthnKey, error) {
	rows, err := q.QueryContext(ctx, `SELECT credential_id, name, credential, sign_count, created_at, last_used_at
		FROM mfa_webauthn WHERE user_id = ? ORDER BY created_at, credential_id`, userID)
	if err != nil {
		return nil, fmt.Errorf("list security keys of user %d: %w", userID, err)
	}
	defer rows.Close()
	var out []WebAuthnKey
	for rows.Next() {
		k := WebAuthnKey{UserID: userID}
		var created, used string
		if err := rows.Scan(&k.CredentialID, &k.Name, &k.Credential, &k.SignCount, &created, &used); err != nil {
			return nil, fmt.Errorf("list security keys of user %d: %w", userID, err)
		}
		if k.CreatedAt, err = ParseTime(created); err != nil {
			return nil, fmt.Errorf("security key of user %d: %w", userID, err)
		}
		if used != "" {
			if k.LastUsedAt, err = ParseTime(used); err != nil {
				return nil, fmt.Errorf("security key of user %d: %w", userID, err)
			}
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// WebAuthnKeys returns user userID's registered credentials, oldest first.
func (db *DB) WebAuthnKeys(ctx context.Context, userID int64) ([]WebAuthnKey, error) {
	return webAuthnKeys(ctx, db.Read, userID)
}

// WebAuthnKeys returns user userID's credentials as the transaction sees
// them.
func (t *Tx) WebAuthnKeys(ctx context.Context, userID int64) ([]WebAuthnKey, error) {
	return webAuthnKeys(ctx, t.stx, userID)
}

// InsertWebAuthnKey stores a new credential. Errors: ErrConflict when the
// credential id is already registered (to anyone).
func (t *Tx) InsertWebAuthnKey(ctx context.Context, k WebAuthnKey) error {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `INSERT INTO mfa_webauthn
		(credential_id, user_id, name, credential, sign_count, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, '') ON CONFLICT (credential_id) DO NOTHING`,
		k.CredentialID, k.UserID, k.Name, k.Credential, k.SignCount, FormatTime(t.now)))
	if err != nil {
		return fmt.Errorf("store security key of user %d: %w", k.UserID, err)
	}
	if n == 0 {
		return fmt.Errorf("store security key of user %d: already registered: %w", k.UserID, ErrConflict)
	}
	return nil
}

// UseWebAuthnKey records a sign-in with userID's credential: its new
// credential JSON and sign count, only while the stored count is below
// signCount (or both are 0: a key that keeps no count). The condition is
// what catches two sign-ins with one count at once, each checked against
// the same old count (at READ COMMITTED the second's update waits for the
// first's commit and then re-checks it): a cloned key's sign. Errors:
// ErrNotFound (no such key), ErrConflict (the stored count is as high).
func (t *Tx) UseWebAuthnKey(ctx context.Context, userID int64, credentialID, credential string, signCount int64) error {
	what := fmt.Sprintf("use security key of user %d", userID)
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `UPDATE mfa_webauthn SET credential = ?, sign_count = ?, last_used_at = ?
		WHERE user_id = ? AND credential_id = ? AND (sign_count < ? OR (sign_count = 0 AND ? = 0))`,
		credential, signCount, FormatTime(t.now), userID, credentialID, signCount, signCount))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n > 0 {
		return nil
	}
	var keys int
	if err := t.stx.QueryRowContext(ctx, `SELECT count(*) FROM mfa_webauthn WHERE user_id = ? AND credential_id = ?`,
		userID, credentialID).Scan(&keys); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if keys == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return fmt.Errorf("%s: sign count %d not above the stored one: %w", what, signCount, ErrConflict)
}

// DeleteWebAuthnKey removes userID's credential and returns its name.
// Errors: ErrNotFound.
func (t *Tx) DeleteWebAuthnKey(ctx context.Context, userID int64, credentialID string) (string, error) {
	var name string
	err := t.stx.QueryRowContext(ctx, `SELECT name FROM mfa_webauthn WHERE user_id = ? AND credential_id = ?`,
		userID, credentialID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("security key of user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read security key of user %d: %w", userID, err)
	}
	res, err := t.stx.ExecContext(ctx, `DELETE FROM mfa_webauthn WHERE user_id = ? AND credential_id = ?`, userID, credentialID)
	return name, authChangedOne(fmt.Sprintf("delete security key of user %d", userID), res, err)
}

// WebAuthnUsers returns the ids of users with at least one credential.
func (db *DB) WebAuthnUsers(ctx context.Context) (map[int64]bool, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT DISTINCT user_id FROM mfa_webauthn`)
	if err != nil {
		return nil, fmt.Errorf("list users with security keys: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list users with security keys: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// InsertWebAuthnChallenge stores a ceremony in progress for userID (kind
// "register" or "login"), with its session data as JSON, until expires.
// Expired ceremonies of the user are dropped on the way.
func (t *Tx) InsertWebAuthnChallenge(ctx context.Context, challenge string, userID int64, kind, session string, expires time.Time) error {
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM mfa_webauthn_challenges WHERE user_id = ? AND expires_at <= ?`,
		userID, FormatTime(t.now)); err != nil {
		return fmt.Errorf("prune security key ceremonies of user %d: %w", userID, err)
	}
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO mfa_webauthn_challenges (challenge, user_id, kind, session, expires_at)
		VALUES (?, ?, ?, ?, ?)`, challenge, userID, kind, session, FormatTime(expires)); err != nil {
		return fmt.Errorf("store security key ceremony of user %d: %w", userID, err)
	}
	return nil
}

// TakeWebAuthnChallenge removes and returns the session data of userID's
// unexpired ceremony of kind with challenge. Errors: ErrNotFound (unknown,
// already used, someone else's, another kind, or expired).
func (t *Tx) TakeWebAuthnChallenge(ctx context.Context, challenge string, userID int64, kind string) (string, error) {
	var session, expires string
	var owner int64
	var k string
	err := t.stx.QueryRowContext(ctx, `SELECT user_id, kind, session, expires_at FROM mfa_webauthn_challenges WHERE challenge = ?`,
		challenge).Scan(&owner, &k, &session, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("security key ceremony: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("read security key ceremony: %w", err)
	}
	if owner != userID || k != kind {
		return "", fmt.Errorf("security key ceremony of another user or kind: %w", ErrNotFound)
	}
	// The delete decides who used the ceremony: at READ COMMITTED two
	// transactions can both read the row above, and the second's delete
	// then waits for the first's commit and finds nothing left to delete.
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `DELETE FROM mfa_webauthn_challenges WHERE challenge = ?`, challenge))
	if err != nil {
		return "", fmt.Errorf("use security key ceremony: %w", err)
	}
	if n == 0 {
		return "", fmt.Errorf("security key ceremony already used: %w", ErrNotFound)
	}
	exp, err := ParseTime(expires)
	if err != nil {
		return "", fmt.Errorf("security key ceremony: %w", err)
	}
	if !t.now.Before(exp) {
		return "", fmt.Errorf("security key ceremony expired: %w", ErrNotFound)
	}
	return session, nil
}
