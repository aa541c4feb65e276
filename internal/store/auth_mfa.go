package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Second factors (migration 0025): TOTP authenticators, recovery codes and
// admin-issued enrolment links. The auth package seals secrets and hashes
// codes; this file only reads and writes the rows.

// TOTPRecord is a user's authenticator row. Secret is sealed (never the
// shared secret itself).
type TOTPRecord struct {
	UserID      int64
	Secret      string
	Confirmed   bool
	ConfirmedAt time.Time
	LastStep    int64
	CreatedAt   time.Time
}

func scanTOTP(row *sql.Row, userID int64) (TOTPRecord, error) {
	rec := TOTPRecord{UserID: userID}
	var confirmed, created string
	err := row.Scan(&rec.Secret, &confirmed, &rec.LastStep, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return TOTPRecord{}, fmt.Errorf("authenticator of user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return TOTPRecord{}, fmt.Errorf("read authenticator of user %d: %w", userID, err)
	}
	if rec.CreatedAt, err = ParseTime(created); err != nil {
		return TOTPRecord{}, fmt.Errorf("authenticator of user %d: %w", userID, err)
	}
	if confirmed != "" {
		rec.Confirmed = true
		if rec.ConfirmedAt, err = ParseTime(confirmed); err != nil {
			return TOTPRecord{}, fmt.Errorf("authenticator of user %d: %w", userID, err)
		}
	}
	return rec, nil
}

const totpSelect = `SELECT secret, confirmed_at, last_step, created_at FROM mfa_totp WHERE user_id = ?`

// TOTP returns user userID's authenticator from the read pool, or
// ErrNotFound.
func (db *DB) TOTP(ctx context.Context, userID int64) (TOTPRecord, error) {
	return scanTOTP(db.Read.QueryRowContext(ctx, totpSelect, userID), userID)
}

// TOTP returns user userID's authenticator as the transaction sees it, or
// ErrNotFound.
func (t *Tx) TOTP(ctx context.Context, userID int64) (TOTPRecord, error) {
	return scanTOTP(t.stx.QueryRowContext(ctx, totpSelect, userID), userID)
}

// PutPendingTOTP stores a new, unconfirmed authenticator for userID,
// replacing an unconfirmed one. A confirmed authenticator is left alone:
// ErrConflict.
func (t *Tx) PutPendingTOTP(ctx context.Context, userID int64, sealed string) error {
	res, err := t.stx.ExecContext(ctx, `INSERT INTO mfa_totp (user_id, secret, confirmed_at, last_step, created_at)
		VALUES (?, ?, '', 0, ?)
		ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, created_at = excluded.created_at, last_step = 0
		WHERE mfa_totp.confirmed_at = ''`, userID, sealed, FormatTime(t.now))
	n, err := authRowsAffected(res, err)
	if err != nil {
		return fmt.Errorf("store authenticator of user %d: %w", userID, err)
	}
	if n == 0 {
		return fmt.Errorf("store authenticator of user %d: already enrolled: %w", userID, ErrConflict)
	}
	return nil
}

// ConfirmTOTP marks userID's pending authenticator confirmed, with step
// the time step of the code that confirmed it, if its secret is still
// sealed, the one the code was checked against. Errors: ErrNotFound when
// there is no pending authenticator or it has another secret (an
// enrolment started again meanwhile, in another tab: confirming that one
// would turn on a secret the person never scanned).
func (t *Tx) ConfirmTOTP(ctx context.Context, userID, step int64, sealed string) error {
	res, err := t.stx.ExecContext(ctx, `UPDATE mfa_totp SET confirmed_at = ?, last_step = ?
		WHERE user_id = ? AND confirmed_at = '' AND secret = ?`, FormatTime(t.now), step, userID, sealed)
	return authChangedOne(fmt.Sprintf("confirm authenticator of user %d", userID), res, err)
}

// UseTOTPStep records step as the last one used by userID's confirmed
// authenticator, only when it is later than the one stored: false means
// the step was already used (a replayed code) and nothing changed.
func (t *Tx) UseTOTPStep(ctx context.Context, userID, step int64) (bool, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `UPDATE mfa_totp SET last_step = ?
		WHERE user_id = ? AND confirmed_at <> '' AND last_step < ?`, step, userID, step))
	if err != nil {
		return false, fmt.Errorf("use authenticator step of user %d: %w", userID, err)
	}
	return n > 0, nil
}

// DeleteSecondFactors removes userID's authenticator, recovery codes and
// security keys, and reports whether an authenticator (pending or
// confirmed) or a security key was there.
func (t *Tx) DeleteSecondFactors(ctx context.Context, userID int64) (bool, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `DELETE FROM mfa_totp WHERE user_id = ?`, userID))
	if err != nil {
		return false, fmt.Errorf("delete authenticator of user %d: %w", userID, err)
	}
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return false, fmt.Errorf("delete recovery codes of user %d: %w", userID, err)
	}
	keys, err := authRowsAffected(t.stx.ExecContext(ctx, `DELETE FROM mfa_webauthn WHERE user_id = ?`, userID))
	if err != nil {
		return false, fmt.Errorf("delete security keys of user %d: %w", userID, err)
	}
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM mfa_webauthn_challenges WHERE user_id = ?`, userID); err != nil {
		return false, fmt.Errorf("delete security key ceremonies of user %d: %w", userID, err)
	}
	return n+keys > 0, nil
}

// DeleteTOTP removes userID's authenticator and its recovery codes,
// leaving security keys alone. Errors: ErrNotFound when there was none.
func (t *Tx) DeleteTOTP(ctx context.Context, userID int64) error {
	res, err := t.stx.ExecContext(ctx, `DELETE FROM mfa_totp WHERE user_id = ?`, userID)
	if err := authChangedOne(fmt.Sprintf("delete authenticator of user %d", userID), res, err); err != nil {
		return err
	}
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("delete recovery codes of user %d: %w", userID, err)
	}
	return nil
}

// LockSecondFactors holds userID's user row for the rest of t, so two
// removals of the same user's factors (the last key and the
// authenticator, say) cannot both see the other still there. PostgreSQL:
// SELECT ... FOR UPDATE; SQLite's immediate transaction already
// serialises every writer.
func (t *Tx) LockSecondFactors(ctx context.Context, userID int64) error {
	if !t.pg {
		return nil
	}
	var id int64
	if err := t.stx.QueryRowContext(ctx, `SELECT id FROM users WHERE id = ? FOR UPDATE`, userID).Scan(&id); err != nil {
		return fmt.Errorf("lock second factors of user %d: %w", userID, err)
	}
	return nil
}

// ReplaceRecoveryCodes replaces userID's recovery codes with hashes.
func (t *Tx) ReplaceRecoveryCodes(ctx context.Context, userID int64, hashes []string) error {
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM mfa_recovery_codes WHERE user_id = ?`, userID); err != nil {
		return fmt.Errorf("replace recovery codes of user %d: %w", userID, err)
	}
	for _, h := range hashes {
		if _, err := t.stx.ExecContext(ctx, `INSERT INTO mfa_recovery_codes (user_id, code_hash, used_at) VALUES (?, ?, '')`,
			userID, h); err != nil {
			return fmt.Errorf("replace recovery codes of user %d: %w", userID, err)
		}
	}
	return nil
}

// UseRecoveryCode marks userID's unused recovery code with hash used and
// reports whether it did (false: no such code, or already used).
func (t *Tx) UseRecoveryCode(ctx context.Context, userID int64, hash string) (bool, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `UPDATE mfa_recovery_codes SET used_at = ?
		WHERE user_id = ? AND code_hash = ? AND used_at = ''`, FormatTime(t.now), userID, hash))
	if err != nil {
		return false, fmt.Errorf("use recovery code of user %d: %w", userID, err)
	}
	return n > 0, nil
}

func recoveryLeft(ctx context.Context, q authQuerier, userID int64) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM mfa_recovery_codes WHERE user_id = ? AND used_at = ''`,
		userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count recovery codes of user %d: %w", userID, err)
	}
	return n, nil
}

// RecoveryCodesLeft counts userID's unused recovery codes.
func (db *DB) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	return recoveryLeft(ctx, db.Read, userID)
}

// RecoveryCodesLeft counts userID's unused recovery codes as the
// transaction sees them.
func (t *Tx) RecoveryCodesLeft(ctx context.Context, userID int64) (int, error) {
	return recoveryLeft(ctx, t.stx, userID)
}

// ConfirmedTOTPUsers returns the ids of users with a confirmed
// authenticator.
func (db *DB) ConfirmedTOTPUsers(ctx context.Context) (map[int64]bool, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT user_id FROM mfa_totp WHERE confirmed_at <> ''`)
	if err != nil {
		return nil, fmt.Errorf("list enrolled users: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("list enrolled users: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// InsertEnrolLink stores an enrolment link for userID by its token's hash,
// valid until expires.
func (t *Tx) InsertEnrolLink(ctx context.Context, tokenHash string, userID int64, expires time.Time) error {
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO mfa_enrol_links (token_hash, user_id, created_at, expires_at, used_at)
		VALUES (?, ?, ?, ?, '')`, tokenHash, userID, FormatTime(t.now), FormatTime(expires)); err != nil {
		return fmt.Errorf("insert enrolment link of user %d: %w", userID, err)
	}
	return nil
}

// UseEnrolLink marks the unused, unexpired link tokenHash of userID used
// and reports whether it did.
func (t *Tx) UseEnrolLink(ctx context.Context, tokenHash string, userID int64) (bool, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `UPDATE mfa_enrol_links SET used_at = ?
		WHERE token_hash = ? AND user_id = ? AND used_at = '' AND expires_at > ?`,
		FormatTime(t.now), tokenHash, userID, FormatTime(t.now)))
	if err != nil {
		return false, fmt.Errorf("use enrolment link of user %d: %w", userID, err)
	}
	return n > 0, nil
}

// Setting returns the settings row key from the read pool, or ErrNotFound.
func (db *DB) Setting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := db.Read.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("setting %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

// SettingForUpdate returns the settings row key inside t, or ErrNotFound,
// for a change decided on it: on PostgreSQL it holds a lock on key until t
// ends, so a second writer of key reads what the first wrote (and an audit
// event's "from" is what was really replaced).
func (t *Tx) SettingForUpdate(ctx context.Context, key string) ([]byte, error) {
	if err := t.lockKey(ctx, lockSetting, key); err != nil {
		return nil, err
	}
	return t.AuthSetting(ctx, key)
}

// PutSetting inserts or replaces the settings row key.
func (t *Tx) PutSetting(ctx context.Context, key string, value []byte) error {
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("write setting %s: %w", key, err)
	}
	return nil
}
