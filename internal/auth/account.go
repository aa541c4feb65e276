package auth

import (
	"context"
	"errors"

	"github.com/neox-refund-desk/refunddesk/internal/fault"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// ResetPassword sets a new password for a user (an admin action) and ends
// all of that user's sessions; it also lifts their login throttle. Errors:
// ErrNotFound, *ValidationError. Audited as user.password_reset.
func (s *Service) ResetPassword(ctx context.Context, userID int64, next string, mustChange bool) error {
	u, err := s.User(ctx, userID)
	if err != nil {
		return err
	}
	if msg := checkPassword(next, u.Username); !msg.IsZero() {
		return &ValidationError{Fields: fault.Fields{"password": msg}}
	}
	hash, err := s.hashPassword(next)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Tx) error {
		if err := notFoundAs(tx.SetPassword(ctx, u.ID, hash, mustChange), ErrNotFound); err != nil {
			return err
		}
		n, err := afterNewPassword(ctx, tx, u)
		if err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{
			Action: audit.ActionUserPasswordReset, Outcome: audit.OutcomeSuccess,
			TargetType: "user", TargetID: userTarget(u.ID),
			Details: map[string]any{"username": u.Username, "must_change": mustChange, "sessions_ended": n},
		})
	})
}

// ChangePassword lets a user replace their own password after proving the
// current one. On success it clears must-change and ends ALL of the user's
// sessions, including the current one: the caller then issues a fresh
// session with StartSession. A wrong current password counts against the
// user's login throttle. Errors: ErrNotFound, ErrDisabled,
// ErrInvalidCredentials, *ThrottledError, *ValidationError. Audited as
// auth.password_changed (success or failure).
func (s *Service) ChangePassword(ctx context.Context, userID int64, current, next string) error {
	u, hash, err := withHash(s.db.UserCredentials(ctx, userID))
	if err != nil {
		return err
	}
	if u.Disabled {
		return ErrDisabled
	}
	if msg := checkPassword(next, u.Username); !msg.IsZero() {
		return &ValidationError{Fields: fault.Fields{"password": msg}}
	}
	event := audit.Event{
		ActorID: u.ID, ActorName: u.Username, ActorRole: string(u.Role),
		Action: audit.ActionPasswordChange, TargetType: "user", TargetID: userTarget(u.ID),
	}
	var throttled error
	// Its own counter: the login budget of untrusted guesses must not
	// decide whether the signed-in owner may change the password.
	keys := []throttleKey{{key: "pw:" + NormalizeUsername(u.Username), scope: scopePassword, free: s.throttle.UserFailures}}
	err = s.tx(ctx, func(tx *store.Tx) error {
		wait, _, err := s.countAttempt(ctx, tx, keys)
		if err != nil || wait == 0 {
			return err
		}
		throttled = &ThrottledError{RetryAfter: wait}
		e := event
		e.Outcome, e.Details = audit.OutcomeDenied, map[string]any{"reason": "throttled"}
		return s.rec.Record(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	if throttled != nil {
		return throttled
	}
	ok, err := s.verify(hash, current)
	if err != nil || !ok {
		err := s.tx(ctx, func(tx *store.Tx) error {
			e := event
			e.Outcome, e.Details = audit.OutcomeFailure, map[string]any{"reason": "wrong_current_password"}
			return s.rec.Record(ctx, tx, e)
		})
		return errors.Join(ErrInvalidCredentials, err)
	}
	if next == current {
		return &ValidationError{Fields: fault.Fields{"password": fault.M("account.same", "Choose a password different from the current one.")}}
	}
	newHash, err := s.hashPassword(next)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Tx) error {
		// Only while the hash is still the one checked: it loses a race
		// against a concurrent change or reset.
		if err := notFoundAs(tx.ReplacePassword(ctx, u.ID, hash, newHash), ErrInvalidCredentials); err != nil {
			return err
		}
		n, err := afterNewPassword(ctx, tx, u)
		if err != nil {
			return err
		}
		if err := s.clearAttempt(ctx, tx, keys); err != nil {
			return err
		}
		e := event
		e.Outcome, e.Details = audit.OutcomeSuccess, map[string]any{"sessions_ended": n}
		return s.rec.Record(ctx, tx, e)
	})
}

// EnsureAdmin creates the first account when there are no users at all:
// "admin", role admin, a random one-time password of 20 readable
// characters that must be changed at first login. It returns that password
// and created=true only when it created the account; the caller shows it
// once and never logs it. Audited as user.created by "system".
func (s *Service) EnsureAdmin(ctx context.Context) (password string, created bool, err error) {
	n, err := s.CountUsers(ctx)
	if err != nil || n > 0 {
		return "", false, err
	}
	password = GeneratePassword()
	hash, err := s.hashPassword(password)
	if err != nil {
		return "", false, err
	}
	err = s.tx(ctx, func(tx *store.Tx) error {
		// Re-check inside the write transaction, under the user-roles lock so
		// that of instances starting together on PostgreSQL the second waits
		// for the first's commit and sees its account: another may have won.
		if err := tx.LockUserRoles(ctx); err != nil {
			return err
		}
		if n, err := tx.CountUsers(ctx); err != nil || n > 0 {
			return err
		}
		u, err := s.insertUser(ctx, tx, "admin", "Administrator", RoleAdmin, hash, true)
		if err != nil {
			return err
		}
		created = true
		return s.rec.Record(ctx, tx, audit.Event{
			ActorName: "system", Action: audit.ActionUserCreated, Outcome: audit.OutcomeSuccess,
			TargetType: "user", TargetID: userTarget(u.ID),
			Details: map[string]any{"username": u.Username, "role": string(u.Role), "must_change": true, "bootstrap": true},
		})
	})
	if err != nil || !created {
		return "", false, err
	}
	return password, true, nil
}

// afterNewPassword ends every session of u and lifts their login lock: a
// new password (changed or reset) starts clean. It returns how many
// sessions ended.
func afterNewPassword(ctx context.Context, tx *store.Tx, u User) (int64, error) {
	n, err := tx.DeleteSessionsOf(ctx, u.ID)
	if err != nil {
		return 0, err
	}
	if err := tx.DeleteThrottle(ctx, userThrottleKey(u.Username)); err != nil {
		return 0, err
	}
	return n, nil
}
