package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Role is policy.Role: roles are defined once, in package policy, which
// also decides what each may do. The names below spell them for callers
// of this package.
type Role = policy.Role

// Roles.
const (
	RoleStaff   = policy.Staff
	RoleManager = policy.Manager
	RoleAdmin   = policy.Admin
)

// ParseRole reads a role name (case-insensitive); an unknown name returns a
// *ValidationError for field "role".
func ParseRole(s string) (Role, error) {
	r, err := policy.ParseRole(s)
	if err != nil {
		return "", &ValidationError{Fields: map[string]string{"role": "Choose staff, manager or admin."}}
	}
	return r, nil
}

// User is an account. The password hash never leaves this package.
type User struct {
	ID                 int64
	Username           string
	DisplayName        string
	Role               Role
	Disabled           bool
	MustChangePassword bool
	Lang               string
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// Name is the display name, or the username when there is none.
func (u User) Name() string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Username
}

const userColumns = `id, username, display_name, role, disabled, must_change, lang, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

// scanUser reads userColumns, followed by any extra destinations.
func scanUser(sc scanner, extra ...any) (User, error) {
	var u User
	var role, created, updated string
	dest := append([]any{&u.ID, &u.Username, &u.DisplayName, &role, &u.Disabled,
		&u.MustChangePassword, &u.Lang, &created, &updated}, extra...)
	if err := sc.Scan(dest...); err != nil {
		return User{}, err
	}
	u.Role = Role(role)
	var err1, err2 error
	u.CreatedAt, err1 = store.ParseTime(created)
	u.UpdatedAt, err2 = store.ParseTime(updated)
	if err := errors.Join(err1, err2); err != nil {
		return User{}, fmt.Errorf("user %d: %w", u.ID, err)
	}
	return u, nil
}

var usernameRE = regexp.MustCompile(`^[a-z0-9._-]{3,32}$`)

// NormalizeUsername is how usernames are compared and stored: trimmed and
// lower-cased.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkUsername(name string) string {
	if !usernameRE.MatchString(name) {
		return "Use 3 to 32 characters: a-z, 0-9, dot, underscore or hyphen."
	}
	return ""
}

func checkDisplayName(s string) string {
	if utf8.RuneCountInString(s) > 100 {
		return "Use at most 100 characters."
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 || !utf8.ValidString(s) {
		return "Contains characters that are not allowed."
	}
	return ""
}

var langRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)

func userTarget(id int64) string { return strconv.FormatInt(id, 10) }

// CreateUser adds an account. Errors: *ValidationError (ErrInvalidInput,
// ErrWeakPassword), ErrUsernameTaken. Audited as user.created.
func (s *Service) CreateUser(ctx context.Context, username, displayName string, role Role, password string, mustChange bool) (User, error) {
	username = NormalizeUsername(username)
	displayName = strings.TrimSpace(displayName)
	fe := fieldErrors{}
	fe.add("username", checkUsername(username))
	fe.add("display_name", checkDisplayName(displayName))
	if !role.Valid() {
		fe.add("role", "Choose staff, manager or admin.")
	}
	fe.add("password", checkPassword(password, username))
	if err := fe.err(); err != nil {
		return User{}, err
	}
	hash, err := s.hashPassword(password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.db.Tx(ctx, func(tx *store.Tx) error {
		var err error
		u, err = s.insertUser(ctx, tx, username, displayName, role, hash, mustChange)
		if err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{
			Action: audit.ActionUserCreated, Outcome: audit.OutcomeSuccess,
			TargetType: "user", TargetID: userTarget(u.ID),
			Details: map[string]any{"username": u.Username, "role": string(u.Role), "must_change": mustChange},
		})
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

func (s *Service) insertUser(ctx context.Context, tx *store.Tx, username, displayName string, role Role, hash string, mustChange bool) (User, error) {
	now := s.nowUTC()
	res, err := tx.ExecContext(ctx, `INSERT INTO users
		(username, display_name, role, disabled, must_change, password_hash, lang, created_at, updated_at)
		VALUES (?, ?, ?, 0, ?, ?, '', ?, ?)`,
		username, displayName, string(role), mustChange, hash, store.FormatTime(now), store.FormatTime(now))
	if err != nil {
		if store.IsConstraint(err) && strings.Contains(strings.ToUpper(err.Error()), "UNIQUE") {
			return User{}, ErrUsernameTaken
		}
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return User{}, err
	}
	return User{ID: id, Username: username, DisplayName: displayName, Role: role,
		MustChangePassword: mustChange, CreatedAt: now, UpdatedAt: now}, nil
}

// User returns the user with id, or ErrNotFound.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(s.db.Read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// UserByUsername returns the user named name (case-insensitive), or ErrNotFound.
func (s *Service) UserByUsername(ctx context.Context, name string) (User, error) {
	u, err := scanUser(s.db.Read.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE username = ?`,
		NormalizeUsername(name)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// ListUsers returns every user ordered by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	rows, err := s.db.Read.QueryContext(ctx, `SELECT `+userColumns+` FROM users ORDER BY username`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// CountUsers returns how many users exist (enabled or not).
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.Read.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, err
}

// SetLang stores the user's UI language ("" for the default, else a tag
// like "vi" or "en-US"). Not audited: it is a preference. Errors:
// *ValidationError, ErrNotFound.
func (s *Service) SetLang(ctx context.Context, userID int64, lang string) error {
	lang = strings.TrimSpace(lang)
	if lang != "" && (len(lang) > 35 || !langRE.MatchString(lang)) {
		return &ValidationError{Fields: map[string]string{"lang": "Unknown language."}}
	}
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET lang = ?, updated_at = ? WHERE id = ?`,
			lang, store.FormatTime(s.nowUTC()), userID)
		return affectedOne(res, err, ErrNotFound)
	})
}

// SetRole changes a user's role; it takes effect on their next request.
// Errors: *ValidationError, ErrNotFound, ErrLastAdmin. Audited as
// user.role_changed (not when the role is unchanged).
func (s *Service) SetRole(ctx context.Context, userID int64, role Role) error {
	if !role.Valid() {
		return &ValidationError{Fields: map[string]string{"role": "Choose staff, manager or admin."}}
	}
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		u, err := userTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.Role == role {
			return nil
		}
		if u.Role == RoleAdmin && !u.Disabled {
			if err := ensureOtherAdmin(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ?, updated_at = ? WHERE id = ?`,
			string(role), store.FormatTime(s.nowUTC()), u.ID); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{
			Action: audit.ActionUserRoleChanged, Outcome: audit.OutcomeSuccess,
			TargetType: "user", TargetID: userTarget(u.ID),
			Details: map[string]any{"username": u.Username, "from": string(u.Role), "to": string(role)},
		})
	})
}

// SetDisabled disables or re-enables a user. Disabling ends all their
// sessions in the same transaction. Errors: ErrNotFound, ErrLastAdmin.
// Audited as user.disabled / user.enabled (not when nothing changes).
func (s *Service) SetDisabled(ctx context.Context, userID int64, disabled bool) error {
	return s.db.Tx(ctx, func(tx *store.Tx) error {
		u, err := userTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		if u.Disabled == disabled {
			return nil
		}
		if disabled && u.Role == RoleAdmin {
			if err := ensureOtherAdmin(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ?, updated_at = ? WHERE id = ?`,
			disabled, store.FormatTime(s.nowUTC()), u.ID); err != nil {
			return err
		}
		action, details := audit.ActionUserEnabled, map[string]any{"username": u.Username}
		if disabled {
			n, err := deleteUserSessions(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			action, details["sessions_ended"] = audit.ActionUserDisabled, n
		}
		return s.rec.Record(ctx, tx, audit.Event{
			Action: action, Outcome: audit.OutcomeSuccess,
			TargetType: "user", TargetID: userTarget(u.ID), Details: details,
		})
	})
}

// credentials loads a user and their password hash from the read pool.
func (s *Service) credentials(ctx context.Context, where string, arg any) (User, string, error) {
	var hash string
	u, err := scanUser(s.db.Read.QueryRowContext(ctx,
		`SELECT `+userColumns+`, password_hash FROM users WHERE `+where, arg), &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", ErrNotFound
	}
	return u, hash, err
}

// userTx loads a user inside a write transaction.
func userTx(ctx context.Context, tx *store.Tx, id int64) (User, error) {
	u, err := scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// ensureOtherAdmin returns ErrLastAdmin unless an enabled admin other than
// id exists.
func ensureOtherAdmin(ctx context.Context, tx *store.Tx, id int64) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 AND id <> ?`,
		id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// affectedOne turns an Exec result that touched no row into notFound.
func affectedOne(res sql.Result, err error, notFound error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound
	}
	return nil
}
