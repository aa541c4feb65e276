package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Users, passwords and the settings rows auth keeps its cookie keys in.
// The auth package decides who may do what and hashes passwords; this file
// only reads and writes the rows. Usernames are compared case-insensitively
// by the column's COLLATE NOCASE (migration 0001), so lookups by name need
// no lower() here.

// UserRecord is a users row without its password hash, which only the
// credential reads return.
type UserRecord struct {
	ID          int64
	Username    string
	DisplayName string
	Role        string
	Disabled    bool
	MustChange  bool
	Lang        string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// ErrUsernameExists: InsertUser with a username already taken (compared
// case-insensitively).
var ErrUsernameExists = errors.New("username already exists")

const authUserColumns = `id, username, display_name, role, disabled, must_change, lang, created_at, updated_at`

// authQuerier is the read pool or a transaction.
type authQuerier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type authScanner interface{ Scan(dest ...any) error }

// authScanUser reads authUserColumns, followed by any extra destinations.
func authScanUser(sc authScanner, extra ...any) (UserRecord, error) {
	var u UserRecord
	var created, updated string
	dest := append([]any{&u.ID, &u.Username, &u.DisplayName, &u.Role, &u.Disabled,
		&u.MustChange, &u.Lang, &created, &updated}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return UserRecord{}, err
	}
	var err1, err2 error
	u.CreatedAt, err1 = ParseTime(created)
	u.UpdatedAt, err2 = ParseTime(updated)
	if err := errors.Join(err1, err2); err != nil {
		return UserRecord{}, fmt.Errorf("user %d: %w", u.ID, err)
	}
	return u, nil
}

// authUserWhere loads one user (and extra columns) matching where.
func authUserWhere(ctx context.Context, q authQuerier, extraCols string, where string, arg any, extra ...any) (UserRecord, error) {
	u, err := authScanUser(q.QueryRowContext(ctx, `SELECT `+authUserColumns+extraCols+` FROM users WHERE `+where, arg), extra...)
	if errors.Is(err, sql.ErrNoRows) {
		return UserRecord{}, fmt.Errorf("user %v: %w", arg, ErrNotFound)
	}
	if err != nil {
		return UserRecord{}, fmt.Errorf("load user %v: %w", arg, err)
	}
	return u, nil
}

// authRowsAffected returns how many rows an Exec changed.
func authRowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// authChangedOne turns an Exec that touched no row into ErrNotFound.
func authChangedOne(what string, res sql.Result, err error) error {
	n, err := authRowsAffected(res, err)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// UserByID returns the user with id from the read pool, or ErrNotFound.
func (db *DB) UserByID(ctx context.Context, id int64) (UserRecord, error) {
	return authUserWhere(ctx, db.Read, "", "id = ?", id)
}

// UserByName returns the user named name (case-insensitive) from the read
// pool, or ErrNotFound.
func (db *DB) UserByName(ctx context.Context, name string) (UserRecord, error) {
	return authUserWhere(ctx, db.Read, "", "username = ?", name)
}

// UserCredentials returns the user with id and their password hash, or
// ErrNotFound.
func (db *DB) UserCredentials(ctx context.Context, id int64) (UserRecord, string, error) {
	var hash string
	u, err := authUserWhere(ctx, db.Read, ", password_hash", "id = ?", id, &hash)
	return u, hash, err
}

// UserCredentialsByName returns the user named name (case-insensitive)
// and their password hash, or ErrNotFound.
func (db *DB) UserCredentialsByName(ctx context.Context, name string) (UserRecord, string, error) {
	var hash string
	u, err := authUserWhere(ctx, db.Read, ", password_hash", "username = ?", name, &hash)
	return u, hash, err
}

// Users returns every user ordered by username.
func (db *DB) Users(ctx context.Context) ([]UserRecord, error) {
	rows, err := db.Read.QueryContext(ctx, `SELECT `+authUserColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	defer rows.Close()
	var out []UserRecord
	for rows.Next() {
		u, err := authScanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("list users: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

func authCountUsers(ctx context.Context, q authQuerier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count users: %w", err)
	}
	return n, nil
}

// CountUsers returns how many users exist (enabled or not), from the read
// pool.
func (db *DB) CountUsers(ctx context.Context) (int, error) { return authCountUsers(ctx, db.Read) }

// CountUsers returns how many users exist, as the transaction sees it.
func (t *Tx) CountUsers(ctx context.Context) (int, error) { return authCountUsers(ctx, t.stx) }

// UserByID returns the user with id as the transaction sees it, or
// ErrNotFound.
func (t *Tx) UserByID(ctx context.Context, id int64) (UserRecord, error) {
	return authUserWhere(ctx, t.stx, "", "id = ?", id)
}

// UserPassword returns the current password hash of user id and whether
// the account is disabled, or ErrNotFound.
func (t *Tx) UserPassword(ctx context.Context, id int64) (hash string, disabled bool, err error) {
	err = t.stx.QueryRowContext(ctx, `SELECT password_hash, disabled FROM users WHERE id = ?`, id).Scan(&hash, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, fmt.Errorf("user %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return "", false, fmt.Errorf("load password of user %d: %w", id, err)
	}
	return hash, disabled, nil
}

// InsertUser adds u with passwordHash, created and updated at the
// transaction's time, and returns it with its new ID. u.ID, CreatedAt and
// UpdatedAt are ignored. Errors: ErrUsernameExists.
func (t *Tx) InsertUser(ctx context.Context, u UserRecord, passwordHash string) (UserRecord, error) {
	now := FormatTime(t.now)
	err := t.stx.QueryRowContext(ctx, `INSERT INTO users
		(username, display_name, role, disabled, must_change, password_hash, lang, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		u.Username, u.DisplayName, u.Role, u.Disabled, u.MustChange, passwordHash, u.Lang, now, now).Scan(&u.ID)
	if err != nil {
		if IsConstraint(err) && strings.Contains(strings.ToUpper(err.Error()), "UNIQUE") {
			return UserRecord{}, fmt.Errorf("insert user %q: %w", u.Username, ErrUsernameExists)
		}
		return UserRecord{}, fmt.Errorf("insert user %q: %w", u.Username, err)
	}
	u.CreatedAt, u.UpdatedAt = t.now, t.now
	return u, nil
}

// SetUserLang stores user id's UI language. Errors: ErrNotFound.
func (t *Tx) SetUserLang(ctx context.Context, id int64, lang string) error {
	res, err := t.stx.ExecContext(ctx, `UPDATE users SET lang = ?, updated_at = ? WHERE id = ?`,
		lang, FormatTime(t.now), id)
	return authChangedOne(fmt.Sprintf("set language of user %d", id), res, err)
}

// SetRole changes user id's role. Errors: ErrNotFound.
func (t *Tx) SetRole(ctx context.Context, id int64, role string) error {
	res, err := t.stx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`,
		role, FormatTime(t.now), id)
	return authChangedOne(fmt.Sprintf("set role of user %d", id), res, err)
}

// SetDisabled disables or re-enables user id. Errors: ErrNotFound.
func (t *Tx) SetDisabled(ctx context.Context, id int64, disabled bool) error {
	res, err := t.stx.ExecContext(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`,
		disabled, FormatTime(t.now), id)
	return authChangedOne(fmt.Sprintf("set disabled of user %d", id), res, err)
}

// CountEnabledWithRole returns how many enabled users other than except
// have role.
func (t *Tx) CountEnabledWithRole(ctx context.Context, role string, except int64) (int, error) {
	var n int
	err := t.stx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = ? AND disabled = 0 AND id <> ?`,
		role, except).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("count enabled %s users: %w", role, err)
	}
	return n, nil
}

// SetPassword replaces user id's password hash and sets its must-change
// flag (an admin's reset). Errors: ErrNotFound.
func (t *Tx) SetPassword(ctx context.Context, id int64, hash string, mustChange bool) error {
	res, err := t.stx.ExecContext(ctx, `UPDATE users SET password_hash = ?, must_change = ?, updated_at = ? WHERE id = ?`,
		hash, mustChange, FormatTime(t.now), id)
	return authChangedOne(fmt.Sprintf("set password of user %d", id), res, err)
}

// ReplacePassword sets user id's password hash to next and clears
// must-change, but only while the account is enabled and its hash is
// still current: the condition loses a race against a concurrent change
// or reset. Errors: ErrNotFound when no enabled user id has hash current.
func (t *Tx) ReplacePassword(ctx context.Context, id int64, current, next string) error {
	res, err := t.stx.ExecContext(ctx, `UPDATE users SET password_hash = ?, must_change = 0, updated_at = ?
		WHERE id = ? AND password_hash = ? AND disabled = 0`,
		next, FormatTime(t.now), id, current)
	return authChangedOne(fmt.Sprintf("replace password of user %d", id), res, err)
}

// RehashPassword stores a stronger hash of the same password for user id
// (after a login with weaker parameters). It leaves updated_at alone: the
// account did not change.
func (t *Tx) RehashPassword(ctx context.Context, id int64, hash string) error {
	if _, err := t.stx.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id); err != nil {
		return fmt.Errorf("rehash password of user %d: %w", id, err)
	}
	return nil
}

// AuthSetting returns the value of the settings row key, or ErrNotFound.
// (Auth keeps its generated cookie keys there.)
func (t *Tx) AuthSetting(ctx context.Context, key string) ([]byte, error) {
	var v []byte
	err := t.stx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("setting %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("read setting %s: %w", key, err)
	}
	return v, nil
}

// EnsureAuthSetting adds the settings row key with value unless the row
// is there, and returns the value stored: value, or the one another
// transaction stored first. On PostgreSQL two instances starting together
// both find no row; the second's insert waits for the first's commit and
// then does nothing, and its read (a new statement, so a new snapshot at
// READ COMMITTED) sees the first's value, so both use one key.
func (t *Tx) EnsureAuthSetting(ctx context.Context, key string, value []byte) ([]byte, error) {
	if _, err := t.stx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`,
		key, value); err != nil {
		return nil, fmt.Errorf("insert setting %s: %w", key, err)
	}
	return t.AuthSetting(ctx, key)
}
