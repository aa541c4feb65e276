package auth

import (
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

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
		return "", &ValidationError{Fields: fault.Fields{"role": msgChooseRole}}
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

// userFrom converts the store's row into a User.
func userFrom(r store.UserRecord) User {
	return User{ID: r.ID, Username: r.Username, DisplayName: r.DisplayName, Role: Role(r.Role),
		Disabled: r.Disabled, MustChangePassword: r.MustChange, Lang: r.Lang,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
}

// userResult converts a store read, saying a missing row as ErrNotFound.
func userResult(r store.UserRecord, err error) (User, error) {
	if errors.Is(err, store.ErrNotFound) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	return userFrom(r), nil
}

var usernameRE = regexp.MustCompile(`^[a-z0-9._-]{3,32}$`)

// NormalizeUsername is how usernames are compared and stored: trimmed and
// lower-cased.
func NormalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkUsername(name string) fault.Msg {
	if !usernameRE.MatchString(name) {
		return fault.M("domain.32", "Use 3 to 32 characters: a-z, 0-9, dot, underscore or hyphen.")
	}
	return fault.Msg{}
}

func checkDisplayName(s string) fault.Msg {
	if utf8.RuneCountInString(s) > 100 {
		return fault.M("domain.33", "Use at most 100 characters.")
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 || !utf8.ValidString(s) {
		return fault.M("domain.34", "Contains characters that are not allowed.")
	}
	return fault.Msg{}
}

// msgChooseRole: the role is not one of the three.
var msgChooseRole = fault.M("err.choose_role", "Choose staff, manager or admin.")

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
		fe.add("role", msgChooseRole)
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
	err = s.tx(ctx, func(tx *store.Tx) error {
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
	r, err := tx.InsertUser(ctx, store.UserRecord{Username: username, DisplayName: displayName,
		Role: string(role), MustChange: mustChange}, hash)
	if errors.Is(err, store.ErrUsernameExists) {
		return User{}, ErrUsernameTaken
	}
	if err != nil {
		return User{}, err
	}
	return userFrom(r), nil
}

// User returns the user with id, or ErrNotFound.
func (s *Service) User(ctx context.Context, id int64) (User, error) {
	return userResult(s.db.UserByID(ctx, id))
}

// UserByUsername returns the user named name (case-insensitive), or ErrNotFound.
func (s *Service) UserByUsername(ctx context.Context, name string) (User, error) {
	return userResult(s.db.UserByName(ctx, NormalizeUsername(name)))
}

// ListUsers returns every user ordered by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	rs, err := s.db.Users(ctx)
	if err != nil {
		return nil, err
	}
	var out []User
	for _, r := range rs {
		out = append(out, userFrom(r))
	}
	return out, nil
}

// CountUsers returns how many users exist (enabled or not).
func (s *Service) CountUsers(ctx context.Context) (int, error) {
	return s.db.CountUsers(ctx)
}

// SetLang stores the user's UI language ("" for the default, else a tag
// like "vi" or "en-US"). Not audited: it is a preference. Errors:
// *ValidationError, ErrNotFound.
func (s *Service) SetLang(ctx context.Context, userID int64, lang string) error {
	lang = strings.TrimSpace(lang)
	if lang != "" && (len(lang) > 35 || !langRE.MatchString(lang)) {
		return &ValidationError{Fields: fault.Fields{"lang": fault.M("domain.35", "Unknown language.")}}
	}
	return s.tx(ctx, func(tx *store.Tx) error {
		return notFoundAs(tx.SetUserLang(ctx, userID, lang), ErrNotFound)
	})
}

// SetRole changes a user's role; it takes effect on their next request.
// Errors: *ValidationError, ErrNotFound, ErrLastAdmin. Audited as
// user.role_changed (not when the role is unchanged).
func (s *Service) SetRole(ctx context.Context, userID int64, role Role) error {
	if !role.Valid() {
		return &ValidationError{Fields: fault.Fields{"role": msgChooseRole}}
	}
	return s.tx(ctx, func(tx *store.Tx) error {
		u, err := lockedUserTx(ctx, tx, userID)
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
		if err := tx.SetRole(ctx, u.ID, string(role)); err != nil {
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
	return s.tx(ctx, func(tx *store.Tx) error {
		u, err := lockedUserTx(ctx, tx, userID)
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
		if err := tx.SetDisabled(ctx, u.ID, disabled); err != nil {
			return err
		}
		action, details := audit.ActionUserEnabled, map[string]any{"username": u.Username}
		if disabled {
			n, err := tx.DeleteSessionsOf(ctx, u.ID)
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

// withHash converts a store credentials read, saying a missing row as
// ErrNotFound.
func withHash(r store.UserRecord, hash string, err error) (User, string, error) {
	u, err := userResult(r, err)
	if err != nil {
		return User{}, "", err
	}
	return u, hash, nil
}

// userTx loads a user inside a write transaction.
func userTx(ctx context.Context, tx *store.Tx, id int64) (User, error) {
	return userResult(tx.UserByID(ctx, id))
}

// lockedUserTx loads a user inside a write transaction after taking the
// user-roles lock: on PostgreSQL, write transactions run side by side, and
// two admins disabling (or demoting) each other at once would otherwise
// both count the other as still enabled and leave no admin at all.
func lockedUserTx(ctx context.Context, tx *store.Tx, id int64) (User, error) {
	if err := tx.LockUserRoles(ctx); err != nil {
		return User{}, err
	}
	return userTx(ctx, tx, id)
}

// ensureOtherAdmin returns ErrLastAdmin unless an enabled admin other than
// id exists. The caller holds the user-roles lock (lockedUserTx).
func ensureOtherAdmin(ctx context.Context, tx *store.Tx, id int64) error {
	n, err := tx.CountEnabledWithRole(ctx, string(RoleAdmin), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// notFoundAs turns the store's ErrNotFound into notFound.
func notFoundAs(err, notFound error) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound
	}
	return err
}
