package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Server-side sessions and the login throttle's counters. The auth
// package decides when a session has expired and how long a key is locked;
// these operations only read and write the rows.

// SessionRecord is a sessions row. ID is the SHA-256 (hex) of the cookie's
// token; UserID is 0 for an anonymous session.
type SessionRecord struct {
	ID         string
	UserID     int64
	Data       []byte
	CreatedAt  time.Time
	LastSeenAt time.Time
	ClientIP   string
	UserAgent  string
	// OwnerUnusable is set by Session for a session of a user who is
	// disabled or no longer exists; false for an anonymous session.
	OwnerUnusable bool
}

// SessionOwner names the user of a session (zero UserID when anonymous;
// empty names when the user row is gone).
type SessionOwner struct {
	UserID   int64
	Username string
	Role     string
}

// ThrottleRecord is one login_throttle row.
type ThrottleRecord struct {
	Key         string
	Failures    int
	LastFailure time.Time
	LockedUntil time.Time
}

// authParseTimes reads two stored times.
func authParseTimes(a, b string) (time.Time, time.Time, error) {
	ta, err1 := ParseTime(a)
	tb, err2 := ParseTime(b)
	return ta, tb, errors.Join(err1, err2)
}

// Session returns session id with whether its user is unusable (disabled
// or gone), from the read pool, or ErrNotFound.
func (db *DB) Session(ctx context.Context, id string) (SessionRecord, error) {
	rec := SessionRecord{ID: id}
	var userID sql.NullInt64
	var disabled sql.NullBool
	var created, seen string
	err := db.Read.QueryRowContext(ctx, `SELECT s.user_id, s.data, s.created_at, s.last_seen_at,
			s.client_ip, s.user_agent, u.disabled
		FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id = ?`, id).
		Scan(&userID, &rec.Data, &created, &seen, &rec.ClientIP, &rec.UserAgent, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionRecord{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return SessionRecord{}, fmt.Errorf("load session: %w", err)
	}
	rec.UserID = userID.Int64
	rec.OwnerUnusable = userID.Valid && (!disabled.Valid || disabled.Bool)
	if rec.CreatedAt, rec.LastSeenAt, err = authParseTimes(created, seen); err != nil {
		return SessionRecord{}, fmt.Errorf("load session: %w", err)
	}
	return rec, nil
}

// SessionsOf returns user userID's sessions created after createdAfter
// and last seen after seenAfter, newest first, without their data.
func (db *DB) SessionsOf(ctx context.Context, userID int64, createdAfter, seenAfter time.Time) ([]SessionRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT id, created_at, last_seen_at, client_ip, user_agent
		FROM sessions WHERE user_id = ? AND created_at > ? AND last_seen_at > ? ORDER BY created_at DESC`,
		userID, FormatTime(createdAfter), FormatTime(seenAfter))
	if err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}
	defer rows.Close()
	var out []SessionRecord
	for rows.Next() {
		var created, seen string
		rec := SessionRecord{UserID: userID}
		if err := rows.Scan(&rec.ID, &created, &seen, &rec.ClientIP, &rec.UserAgent); err != nil {
			return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
		}
		var err error
		if rec.CreatedAt, rec.LastSeenAt, err = authParseTimes(created, seen); err != nil {
			return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions of user %d: %w", userID, err)
	}
	return out, nil
}

// InsertSession adds rec, created and last seen at the transaction's time
// (rec.CreatedAt and LastSeenAt are ignored); UserID 0 stores an anonymous
// session.
func (t *Tx) InsertSession(ctx context.Context, rec SessionRecord) error {
	now := FormatTime(t.now)
	userID := sql.NullInt64{Int64: rec.UserID, Valid: rec.UserID != 0}
	_, err := t.stx.ExecContext(ctx, `INSERT INTO sessions (id, user_id, data, created_at, last_seen_at, client_ip, user_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, rec.ID, userID, rec.Data, now, now, rec.ClientIP, rec.UserAgent)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// SessionOwner returns who session id belongs to, or ErrNotFound when
// there is no such session.
func (t *Tx) SessionOwner(ctx context.Context, id string) (SessionOwner, error) {
	var userID sql.NullInt64
	var name, role sql.NullString
	err := t.stx.QueryRowContext(ctx, `SELECT s.user_id, u.username, u.role
		FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE s.id = ?`, id).Scan(&userID, &name, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return SessionOwner{}, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return SessionOwner{}, fmt.Errorf("load session owner: %w", err)
	}
	return SessionOwner{UserID: userID.Int64, Username: name.String, Role: role.String}, nil
}

// DeleteSession deletes session id; deleting a missing one is no error.
func (t *Tx) DeleteSession(ctx context.Context, id string) error {
	_, err := t.RemoveSession(ctx, id)
	return err
}

// RemoveSession deletes session id and reports whether this transaction
// deleted it: of two sign-outs of one session at once (which both read
// it), the second's delete waits for the first's commit and removes
// nothing, so the sign-out is recorded once.
func (t *Tx) RemoveSession(ctx context.Context, id string) (bool, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id))
	if err != nil {
		return false, fmt.Errorf("delete session: %w", err)
	}
	return n > 0, nil
}

// TouchSession sets session id's last_seen_at to the transaction's time.
func (t *Tx) TouchSession(ctx context.Context, id string) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ?`, FormatTime(t.now), id); err != nil {
		return fmt.Errorf("touch session: %w", err)
	}
	return nil
}

// SessionDataForUpdate returns session id's values inside t, for a change
// made on them: on PostgreSQL the row stays locked until t ends, so two
// requests changing one session's values take turns and neither loses the
// other's change. ErrNotFound when the session is gone.
func (t *Tx) SessionDataForUpdate(ctx context.Context, id string) ([]byte, error) {
	var data []byte
	err := t.stx.QueryRowContext(ctx, `SELECT data FROM sessions WHERE id = ?`+t.forUpdate(), id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("session: %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read session values: %w", err)
	}
	return data, nil
}

// SetSessionData replaces session id's values and reports whether the
// session still existed.
func (t *Tx) SetSessionData(ctx context.Context, id string, data []byte) (bool, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `UPDATE sessions SET data = ? WHERE id = ?`, data, id))
	if err != nil {
		return false, fmt.Errorf("save session values: %w", err)
	}
	return n > 0, nil
}

// DeleteSessionsOf deletes every session of user userID and returns how
// many there were.
func (t *Tx) DeleteSessionsOf(ctx context.Context, userID int64) (int64, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, userID))
	if err != nil {
		return 0, fmt.Errorf("delete sessions of user %d: %w", userID, err)
	}
	return n, nil
}

// PruneSessions deletes sessions created at or before createdBy or last
// seen at or before seenBy, and returns how many.
func (t *Tx) PruneSessions(ctx context.Context, createdBy, seenBy time.Time) (int64, error) {
	n, err := authRowsAffected(t.stx.ExecContext(ctx, `DELETE FROM sessions WHERE created_at <= ? OR last_seen_at <= ?`,
		FormatTime(createdBy), FormatTime(seenBy)))
	if err != nil {
		return 0, fmt.Errorf("prune sessions: %w", err)
	}
	return n, nil
}

func authThrottle(ctx context.Context, q authQuerier, key string) (ThrottleRecord, error) {
	return authThrottleQuery(ctx, q, key, "")
}

func authThrottleLocked(ctx context.Context, q authQuerier, key string) (ThrottleRecord, error) {
	return authThrottleQuery(ctx, q, key, " FOR UPDATE")
}

func authThrottleQuery(ctx context.Context, q authQuerier, key, lock string) (ThrottleRecord, error) {
	rec := ThrottleRecord{Key: key}
	var last, locked string
	err := q.QueryRowContext(ctx, `SELECT failures, last_failure, locked_until FROM login_throttle WHERE key = ?`+lock,
		key).Scan(&rec.Failures, &last, &locked)
	if errors.Is(err, sql.ErrNoRows) {
		return ThrottleRecord{}, fmt.Errorf("throttle %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return ThrottleRecord{}, fmt.Errorf("read throttle %s: %w", key, err)
	}
	if rec.LastFailure, rec.LockedUntil, err = authParseTimes(last, locked); err != nil {
		return ThrottleRecord{}, fmt.Errorf("read throttle %s: %w", key, err)
	}
	return rec, nil
}

// Throttle returns the login_throttle row of key from the read pool, or
// ErrNotFound. Reading there lets a flood of refused logins be answered
// without taking the single writer.
func (db *DB) Throttle(ctx context.Context, key string) (ThrottleRecord, error) {
	return authThrottle(ctx, db.Read, key)
}

// Throttle returns the login_throttle row of key as the transaction sees
// it, or ErrNotFound.
// On PostgreSQL it holds key's counter for the rest of t, so two instances
// counting failures of one key take turns instead of one overwriting the
// other's count: a keyed lock first, since a key's first failures find no
// row to lock and parallel guesses would all count as the first, then the
// row itself (FOR UPDATE) against writers that take no keyed lock.
func (t *Tx) Throttle(ctx context.Context, key string) (ThrottleRecord, error) {
	if !t.pg {
		return authThrottle(ctx, t.stx, key)
	}
	if err := t.lockKey(ctx, lockThrottle, key); err != nil {
		return ThrottleRecord{}, fmt.Errorf("read throttle %s: %w", key, err)
	}
	return authThrottleLocked(ctx, t.stx, key)
}

// RecordFailure stores key's counter: failures charged, the latest at the
// transaction's time, locked until lockedUntil (creating the row if
// needed).
func (t *Tx) RecordFailure(ctx context.Context, key string, failures int, lockedUntil time.Time) error {
	_, err := t.stx.ExecContext(ctx, `INSERT INTO login_throttle (key, failures, last_failure, locked_until)
		VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures,
			last_failure = excluded.last_failure, locked_until = excluded.locked_until`,
		key, failures, FormatTime(t.now), FormatTime(lockedUntil))
	if err != nil {
		return fmt.Errorf("record failure for %s: %w", key, err)
	}
	return nil
}

// ForgiveFailure takes one charged failure off key's counter (never below
// zero); a missing key is no error.
func (t *Tx) ForgiveFailure(ctx context.Context, key string) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE login_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END WHERE key = ?`, key); err != nil {
		return fmt.Errorf("forgive failure for %s: %w", key, err)
	}
	return nil
}

// ForgiveFailureUntil is ForgiveFailure that also moves key's
// locked_until to lockedUntil.
func (t *Tx) ForgiveFailureUntil(ctx context.Context, key string, lockedUntil time.Time) error {
	_, err := t.stx.ExecContext(ctx, `UPDATE login_throttle SET failures = CASE WHEN failures > 0 THEN failures - 1 ELSE 0 END, locked_until = ? WHERE key = ?`,
		FormatTime(lockedUntil), key)
	if err != nil {
		return fmt.Errorf("forgive failure for %s: %w", key, err)
	}
	return nil
}

// DeleteThrottle forgets key's counter; a missing key is no error.
func (t *Tx) DeleteThrottle(ctx context.Context, key string) error {
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM login_throttle WHERE key = ?`, key); err != nil {
		return fmt.Errorf("delete throttle %s: %w", key, err)
	}
	return nil
}

// PruneThrottle forgets every counter whose latest failure is before
// before.
func (t *Tx) PruneThrottle(ctx context.Context, before time.Time) error {
	if _, err := t.stx.ExecContext(ctx, `DELETE FROM login_throttle WHERE last_failure < ?`, FormatTime(before)); err != nil {
		return fmt.Errorf("prune throttle: %w", err)
	}
	return nil
}
