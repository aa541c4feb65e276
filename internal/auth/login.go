package auth

import (
	"context"
	"errors"
	"math"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Authenticate checks a username and password from clientIP, from a
// browser that is not a trusted device for it. See AuthenticateFrom.
func (s *Service) Authenticate(ctx context.Context, username, password, clientIP string) (User, error) {
	return s.AuthenticateFrom(ctx, username, password, clientIP, "")
}

// AuthenticateFrom checks a username and password from clientIP; device is
// the nonce of the browser's device cookie for that username (DeviceFor),
// "" for none.
//
// It returns ErrInvalidCredentials alike for an unknown user, a wrong
// password and a disabled account, and an unknown user still costs one
// argon2id computation (against a dummy hash), so neither the answer nor its
// timing reveals which usernames exist. Attempts are throttled per device,
// or per account budget and per address (see ThrottlePolicy); a throttled
// attempt returns a *ThrottledError (errors.Is ErrThrottled) without
// checking the password.
//
// Every attempt is audited in its own committed transaction:
// auth.login (success), auth.login_failed (details.reason: unknown_user,
// wrong_password, disabled, invalid_stored_hash, changed_during_login) or
// auth.login_throttled (details.scope: account, ip or device; rate-limited
// per address through Options.Refusals, so a flood of throttled attempts
// leaves a bounded number of rows and a count).
func (s *Service) AuthenticateFrom(ctx context.Context, username, password, clientIP, device string) (User, error) {
	name := NormalizeUsername(username)
	keys := s.loginThrottleKeys(name, clientIP, device)
	base := audit.Event{ClientIP: strings.TrimSpace(clientIP), TargetType: "user"}
	trusted := device != ""

	refuse := func(wait time.Duration, scope string) (*ThrottledError, audit.Event, bool) {
		e := base
		e.Action, e.Outcome = audit.ActionLoginThrottled, audit.OutcomeDenied
		e.Details = map[string]any{"username": clip(name, 64), "scope": scope,
			"retry_after_seconds": int64(math.Ceil(wait.Seconds())), "trusted_device": trusted}
		record := s.refusals == nil || s.refusals.Admit(ctx, e)
		return &ThrottledError{RetryAfter: wait}, e, record
	}
	// Refused on the read pool first: a flood of throttled attempts then
	// never waits for, or holds, the single writer.
	if _, wait, scope, err := s.readThrottle(ctx, s.db, keys, s.nowUTC()); err != nil {
		return User{}, err
	} else if wait > 0 {
		te, e, record := refuse(wait, scope)
		if record {
			if err := s.tx(ctx, func(tx *store.Tx) error { return s.rec.Record(ctx, tx, e) }); err != nil {
				return User{}, err
			}
		}
		return User{}, te
	}

	var throttled *ThrottledError
	err := s.tx(ctx, func(tx *store.Tx) error {
		wait, scope, err := s.countAttempt(ctx, tx, keys)
		if err != nil || wait == 0 {
			return err
		}
		te, e, record := refuse(wait, scope)
		throttled = te
		if !record {
			return nil
		}
		return s.rec.Record(ctx, tx, e)
	})
	if err != nil {
		return User{}, err
	}
	if throttled != nil {
		return User{}, throttled
	}

	// The slow hash runs outside any transaction: the writer is shared.
	u, hash, err := withHash(s.db.UserCredentialsByName(ctx, name))
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return User{}, err
	}
	if !found {
		if hash, err = s.dummy(); err != nil {
			return User{}, err
		}
	}
	ok, verr := s.verify(hash, password)
	var reason string
	switch {
	case !found:
		reason = "unknown_user"
	case verr != nil:
		reason = "invalid_stored_hash"
	case !ok:
		reason = "wrong_password"
	case u.Disabled:
		reason = "disabled"
	}

	if reason == "" {
		var upgraded string
		if needsRehash(hash, s.argon) {
			// Best effort: a failure only means the upgrade waits.
			upgraded, _ = s.hashPassword(password)
		}
		stale := false
		err := s.tx(ctx, func(tx *store.Tx) error {
			// The account may have been disabled or its password changed
			// while the hash ran.
			current, disabled, err := tx.UserPassword(ctx, u.ID)
			if errors.Is(err, store.ErrNotFound) || (err == nil && (current != hash || disabled)) {
				stale = true
				return nil
			}
			if err != nil {
				return err
			}
			// The user row before the throttle rows, the order password
			// changes and resets take them in: on PostgreSQL, where these
			// transactions run side by side, the opposite order could
			// deadlock with them.
			if upgraded != "" {
				if err := tx.RehashPassword(ctx, u.ID, upgraded); err != nil {
					return err
				}
			}
			if err := s.clearAttempt(ctx, tx, keys); err != nil {
				return err
			}
			e := base
			e.ActorID, e.ActorName, e.ActorRole = u.ID, u.Username, string(u.Role)
			e.Action, e.Outcome, e.TargetID = audit.ActionLogin, audit.OutcomeSuccess, userTarget(u.ID)
			e.Details = map[string]any{"must_change": u.MustChangePassword, "trusted_device": trusted}
			// The password was right; with an authenticator the sign-in
			// completes only at auth.mfa_verified (secondfactor.go).
			if f, err := tx.TOTP(ctx, u.ID); err == nil && f.Confirmed {
				e.Details["second_factor"] = "pending"
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			return s.rec.Record(ctx, tx, e)
		})
		if err != nil {
			return User{}, err
		}
		if !stale {
			return u, nil
		}
		reason = "changed_during_login"
	}

	// The failure is committed on its own even though the login fails.
	err = s.tx(ctx, func(tx *store.Tx) error {
		if err := s.pruneThrottle(ctx, tx); err != nil {
			return err
		}
		e := base
		e.Action, e.Outcome = audit.ActionLoginFailed, audit.OutcomeFailure
		if found {
			e.TargetID = userTarget(u.ID)
		}
		e.Details = map[string]any{"username": clip(name, 64), "reason": reason, "trusted_device": trusted}
		return s.rec.Record(ctx, tx, e)
	})
	if err != nil {
		return User{}, err
	}
	return User{}, ErrInvalidCredentials
}
