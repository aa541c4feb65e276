package auth

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Two-factor sign-in (issue 17): one TOTP authenticator per user (RFC 6238,
// SHA-1, 6 digits, 30 s: what every authenticator app reads from a QR
// code), confirmed with one code, and 10 single-use recovery codes shown
// once.
//
// Decisions:
//   - The shared secret is sealed with AES-256-GCM under a key derived
//     (HMAC-SHA-256) from the session hash key, which SESSION_KEY can keep
//     outside the database; every configured key is tried when opening, so
//     a SESSION_KEY rotation that lists the old key keeps authenticators
//     working. The secret is shown (QR code and text) only while the
//     enrolment waits for its first code, never after, and never logged
//     or audited.
//   - A code is accepted for the time steps just before, at and after now
//     (clock drift), and only for a step later than the last accepted one,
//     so a code cannot be used twice, even within its own step.
//   - Wrong codes at sign-in are charged to the sign-in throttle (the same
//     counters as wrong passwords); wrong codes of a signed-in user (step-up,
//     confirming, turning off) to a counter of their own, like
//     ChangePassword's.
//   - Recovery codes are 80 random bits, stored as SHA-256: too long to
//     guess offline, so no slow hash is needed.

// TOTP parameters.
const (
	totpPeriod      = 30
	totpIssuer      = "Refund Desk"
	recoveryCount   = 10
	enrolLinkTTL    = 24 * time.Hour
	settingMFARoles = "mfa_required_roles"
	sealPrefix      = "v1."
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Second-factor errors.
var (
	// ErrInvalidCode: the code is wrong, already used, or there is no
	// factor to check it against.
	ErrInvalidCode = errors.New("auth: invalid or already used code")
	// ErrAlreadyEnrolled: the user already has a confirmed authenticator.
	ErrAlreadyEnrolled = fault.New(fault.Conflict, "auth: a second factor is already set up")
	// ErrNoPendingEnrolment: nothing waits for a confirming code.
	ErrNoPendingEnrolment = fault.New(fault.Conflict, "auth: no enrolment in progress")
	// ErrSecondFactorRequired: the role must keep a second factor.
	ErrSecondFactorRequired = fault.New(fault.Conflict, "auth: the role requires a second factor")
	// ErrInvalidLink: an enrolment link that is unknown, someone else's,
	// used or expired.
	ErrInvalidLink = fault.New(fault.Invalid, "auth: enrolment link is invalid or expired")
	// ErrNoSealKey: the session keys were never configured.
	ErrNoSealKey = errors.New("auth: no key to seal second-factor secrets (call Service.SessionStore)")
)

// Method is how a second factor was proved.
type Method string

// Methods.
const (
	MethodTOTP     Method = "totp"
	MethodRecovery Method = "recovery_code"
)

// SecondFactor is a user's second-factor state.
type SecondFactor struct {
	Enrolled     bool // a confirmed authenticator
	Pending      bool // an enrolment waiting for its first code
	RecoveryLeft int
	Keys         []SecurityKey // registered security keys and passkeys
}

// setSealKeys derives the sealing keys from the session key pairs (hash
// key, block key, older pairs...).
func (s *Service) setSealKeys(keys [][]byte) {
	var derived [][]byte
	for i := 0; i < len(keys); i += 2 {
		m := hmac.New(sha256.New, keys[i])
		m.Write([]byte("refunddesk second-factor secret v1"))
		derived = append(derived, m.Sum(nil))
	}
	s.sealKeys.Store(&derived)
}

func (s *Service) sealers() ([][]byte, error) {
	k := s.sealKeys.Load()
	if k == nil || len(*k) == 0 {
		return nil, ErrNoSealKey
	}
	return *k, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal encrypts a TOTP secret for user id (bound in as additional data,
// so a sealed secret copied to another user's row does not open).
func (s *Service) seal(userID int64, secret string) (string, error) {
	keys, err := s.sealers()
	if err != nil {
		return "", err
	}
	a, err := gcm(keys[0])
	if err != nil {
		return "", err
	}
	nonce := make([]byte, a.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := a.Seal(nonce, nonce, []byte(secret), []byte(userTarget(userID)))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(out), nil
}

func (s *Service) unseal(userID int64, sealed string) (string, error) {
	keys, err := s.sealers()
	if err != nil {
		return "", err
	}
	raw, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil || !strings.HasPrefix(sealed, sealPrefix) {
		return "", fmt.Errorf("authenticator of user %d: unreadable secret", userID)
	}
	for _, k := range keys {
		a, err := gcm(k)
		if err != nil {
			return "", err
		}
		if len(raw) < a.NonceSize() {
			break
		}
		if pt, err := a.Open(nil, raw[:a.NonceSize()], raw[a.NonceSize():], []byte(userTarget(userID))); err == nil {
			return string(pt), nil
		}
	}
	// Never the secret or a key in the message.
	return "", fmt.Errorf("authenticator of user %d: secret does not open with the session keys (was SESSION_KEY changed without keeping the old one?)", userID)
}

// SecondFactorOf returns the user's second-factor state.
func (s *Service) SecondFactorOf(ctx context.Context, userID int64) (SecondFactor, error) {
	keys, err := s.SecurityKeys(ctx, userID)
	if err != nil {
		return SecondFactor{}, err
	}
	rec, err := s.db.TOTP(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return SecondFactor{Keys: keys}, nil
	}
	if err != nil {
		return SecondFactor{}, err
	}
	f := SecondFactor{Enrolled: rec.Confirmed, Pending: !rec.Confirmed, Keys: keys}
	if f.Enrolled {
		if f.RecoveryLeft, err = s.db.RecoveryCodesLeft(ctx, userID); err != nil {
			return SecondFactor{}, err
		}
	}
	return f, nil
}

// HasSecondFactor reports whether the user has a confirmed authenticator
// or a security key.
func (s *Service) HasSecondFactor(ctx context.Context, userID int64) (bool, error) {
	f, err := s.SecondFactorOf(ctx, userID)
	return f.Enrolled || len(f.Keys) > 0, err
}

// EnrolledUsers returns the ids of users with a confirmed authenticator
// or a security key.
func (s *Service) EnrolledUsers(ctx context.Context) (map[int64]bool, error) {
	out, err := s.db.ConfirmedTOTPUsers(ctx)
	if err != nil {
		return nil, err
	}
	keys, err := s.db.WebAuthnUsers(ctx)
	if err != nil {
		return nil, err
	}
	for id := range keys {
		out[id] = true
	}
	return out, nil
}

func keyURL(u User, secret string) string {
	label := url.PathEscape(totpIssuer + ":" + u.Username)
	v := url.Values{}
	v.Set("secret", secret)
	v.Set("issuer", totpIssuer)
	v.Set("algorithm", "SHA1")
	v.Set("digits", "6")
	v.Set("period", "30")
	return "otpauth://totp/" + label + "?" + v.Encode()
}

// BeginTOTP starts (or restarts) an enrolment: a new secret waits for its
// first code. Whether the user may enrol at all (the role's requirement,
// an enrolment grant) is the caller's decision. Errors: ErrAlreadyEnrolled.
// Not audited: nothing is enabled until ConfirmTOTP.
func (s *Service) BeginTOTP(ctx context.Context, u User) error {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: u.Username, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return fmt.Errorf("generate authenticator secret: %w", err)
	}
	sealed, err := s.seal(u.ID, key.Secret())
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *store.Tx) error {
		err := tx.PutPendingTOTP(ctx, u.ID, sealed)
		if errors.Is(err, store.ErrConflict) {
			return ErrAlreadyEnrolled
		}
		return err
	})
}

// PendingTOTP returns the key of the enrolment waiting for its first code
// (for the QR code and the secret as text). Errors: ErrNoPendingEnrolment.
func (s *Service) PendingTOTP(ctx context.Context, u User) (*otp.Key, error) {
	key, _, err := s.pendingTOTP(ctx, u)
	return key, err
}

// pendingTOTP is PendingTOTP, with the secret as stored (sealed).
func (s *Service) pendingTOTP(ctx context.Context, u User) (*otp.Key, string, error) {
	rec, err := s.db.TOTP(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && rec.Confirmed) {
		return nil, "", ErrNoPendingEnrolment
	}
	if err != nil {
		return nil, "", err
	}
	secret, err := s.unseal(u.ID, rec.Secret)
	if err != nil {
		return nil, "", err
	}
	key, err := otp.NewKeyFromURL(keyURL(u, secret))
	return key, rec.Secret, err
}

// matchStep returns the time step (previous, current or next) whose code
// is code, or 0.
func matchStep(secret, code string, now time.Time) int64 {
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpPeriod
	var found int64
	for step := cur - 1; step <= cur+1; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0).UTC(), totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && found == 0 {
			found = step
		}
	}
	return found
}

// normalizeCode strips spaces and hyphens and upper-cases.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, strings.TrimSpace(code))
}

func hashRecovery(code string) string {
	sum := sha256.Sum256([]byte("refunddesk recovery code:" + normalizeCode(code)))
	return hex.EncodeToString(sum[:])
}

func newRecoveryCode() (string, error) {
	b := make([]byte, 10) // 80 bits
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	c := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b) // 16 characters
	return c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16], nil
}

// ownKeys is the throttle counter of a signed-in user's codes.
func (s *Service) ownKeys(u User) []throttleKey {
	return []throttleKey{{key: "mfa:" + NormalizeUsername(u.Username), scope: scopePassword, free: s.throttle.UserFailures}}
}

// charge counts one attempt on keys, or refuses (recording the refusal
// as e with outcome denied).
func (s *Service) charge(ctx context.Context, keys []throttleKey, e audit.Event) error {
	var throttled *ThrottledError
	err := s.tx(ctx, func(tx *store.Tx) error {
		wait, scope, err := s.countAttempt(ctx, tx, keys)
		if err != nil || wait == 0 {
			return err
		}
		throttled = &ThrottledError{RetryAfter: wait}
		e.Outcome = audit.OutcomeDenied
		e.Details = mergeDetails(e.Details, map[string]any{"reason": "throttled", "scope": scope})
		return s.rec.Record(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	if throttled != nil {
		return throttled
	}
	return nil
}

func mergeDetails(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func actorEvent(u User, action string) audit.Event {
	return audit.Event{ActorID: u.ID, ActorName: u.Username, ActorRole: string(u.Role), Action: action,
		TargetType: "user", TargetID: userTarget(u.ID)}
}

// ConfirmTOTP checks the first code of a pending enrolment; on success the
// authenticator is on and the 10 recovery codes are returned, to be shown
// once. Errors: ErrNoPendingEnrolment, ErrInvalidCode, *ThrottledError.
// Audited as mfa.enrolled (and a wrong code as its failure).
func (s *Service) ConfirmTOTP(ctx context.Context, u User, code string) ([]string, error) {
	ev := actorEvent(u, audit.ActionMFAEnrolled)
	ev.Details = map[string]any{"method": string(MethodTOTP)}
	key, sealed, err := s.pendingTOTP(ctx, u)
	if err != nil {
		return nil, err
	}
	keys := s.ownKeys(u)
	if err := s.charge(ctx, keys, ev); err != nil {
		return nil, err
	}
	step := matchStep(key.Secret(), normalizeCode(code), s.nowUTC())
	if step == 0 {
		e := ev
		e.Outcome, e.Details = audit.OutcomeFailure, mergeDetails(ev.Details, map[string]any{"reason": "wrong_code"})
		return nil, errors.Join(ErrInvalidCode, s.tx(ctx, func(tx *store.Tx) error { return s.rec.Record(ctx, tx, e) }))
	}
	codes := make([]string, recoveryCount)
	hashes := make([]string, recoveryCount)
	for i := range codes {
		if codes[i], err = newRecoveryCode(); err != nil {
			return nil, err
		}
		hashes[i] = hashRecovery(codes[i])
	}
	err = s.tx(ctx, func(tx *store.Tx) error {
		// Only the secret the code was checked against: an enrolment begun
		// again meanwhile (another tab) is not turned on by this code.
		if err := notFoundAs(tx.ConfirmTOTP(ctx, u.ID, step, sealed), ErrNoPendingEnrolment); err != nil {
			return err
		}
		if err := tx.ReplaceRecoveryCodes(ctx, u.ID, hashes); err != nil {
			return err
		}
		if err := s.clearAttempt(ctx, tx, keys); err != nil {
			return err
		}
		e := ev
		e.Outcome, e.Details = audit.OutcomeSuccess, mergeDetails(ev.Details, map[string]any{"recovery_codes": recoveryCount})
		return s.rec.Record(ctx, tx, e)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// VerifySignIn checks the second step of a sign-in for u (whose password
// was just checked): a TOTP code, or a recovery code (used up). Wrong
// codes are charged to the same throttle counters as wrong passwords
// (clientIP, device as for AuthenticateFrom). Errors: ErrInvalidCode,
// *ThrottledError. Audited as auth.mfa_verified or auth.mfa_failed, and a
// recovery code as mfa.recovery_code_used too.
func (s *Service) VerifySignIn(ctx context.Context, u User, code, clientIP, device string) (Method, error) {
	ev := actorEvent(u, audit.ActionMFAVerified)
	ev.ClientIP = strings.TrimSpace(clientIP)
	ev.Details = map[string]any{"trusted_device": device != ""}
	keys := s.loginThrottleKeys(u.Username, clientIP, device)
	return s.verifyCode(ctx, u, code, keys, true, ev, nil)
}

// VerifyStepUp checks a fresh TOTP code from a signed-in user before an
// action that asks for one (approving above the step-up limit). Recovery
// codes are not accepted: they are for a lost device. details describe the
// action in the audit row. Errors: ErrInvalidCode, *ThrottledError.
// Audited as mfa.step_up.
func (s *Service) VerifyStepUp(ctx context.Context, u User, code string, details map[string]any) error {
	ev := actorEvent(u, audit.ActionMFAStepUp)
	ev.Details = mergeDetails(details, map[string]any{"via": "fresh_code"})
	_, err := s.verifyCode(ctx, u, code, s.ownKeys(u), false, ev, nil)
	return err
}

// RecordStepUpRecent audits a step-up satisfied by a code given within
// the configured window, without asking for a new one.
func (s *Service) RecordStepUpRecent(ctx context.Context, u User, at time.Time, details map[string]any) error {
	ev := actorEvent(u, audit.ActionMFAStepUp)
	ev.Outcome = audit.OutcomeSuccess
	ev.Details = mergeDetails(details, map[string]any{"via": "recent_code", "code_at": at.UTC().Format(time.RFC3339)})
	return s.tx(ctx, func(tx *store.Tx) error { return s.rec.Record(ctx, tx, ev) })
}

// verifyCode checks a TOTP code (or, with recovery, a recovery code) of
// u, charged to keys. ev is recorded with the outcome; when then is not
// nil it runs in the transaction that accepts the code, instead of
// recording ev's success, and its error undoes the acceptance.
func (s *Service) verifyCode(ctx context.Context, u User, code string, keys []throttleKey, recovery bool, ev audit.Event,
	then func(tx *store.Tx, m Method) error) (Method, error) {
	// Refused on the read pool first, as AuthenticateFrom does.
	if _, wait, scope, err := s.readThrottle(ctx, s.db, keys, s.nowUTC()); err != nil {
		return "", err
	} else if wait > 0 {
		e := ev
		e.Outcome, e.Details = audit.OutcomeDenied, mergeDetails(ev.Details, map[string]any{"reason": "throttled", "scope": scope})
		if s.refusals == nil || s.refusals.Admit(ctx, e) {
			if err := s.tx(ctx, func(tx *store.Tx) error { return s.rec.Record(ctx, tx, e) }); err != nil {
				return "", err
			}
		}
		return "", &ThrottledError{RetryAfter: wait}
	}
	if err := s.charge(ctx, keys, ev); err != nil {
		return "", err
	}
	code = normalizeCode(code)
	fail := func(reason string) (Method, error) {
		e := ev
		if e.Action == audit.ActionMFAVerified {
			e.Action = audit.ActionMFAFailed
		}
		e.Outcome, e.Details = audit.OutcomeFailure, mergeDetails(ev.Details, map[string]any{"reason": reason})
		err := s.tx(ctx, func(tx *store.Tx) error {
			if err := s.pruneThrottle(ctx, tx); err != nil {
				return err
			}
			return s.rec.Record(ctx, tx, e)
		})
		return "", errors.Join(ErrInvalidCode, err)
	}
	rec, err := s.db.TOTP(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !rec.Confirmed) {
		return fail("no_second_factor")
	}
	if err != nil {
		return "", err
	}
	success := func(tx *store.Tx, m Method) error {
		if err := s.clearAttempt(ctx, tx, keys); err != nil {
			return err
		}
		if then != nil {
			if err := then(tx, m); err != nil {
				return err
			}
		} else {
			e := ev
			e.Outcome, e.Details = audit.OutcomeSuccess, mergeDetails(ev.Details, map[string]any{"method": string(m)})
			if err := s.rec.Record(ctx, tx, e); err != nil {
				return err
			}
		}
		if m != MethodRecovery {
			return nil
		}
		left, err := tx.RecoveryCodesLeft(ctx, u.ID)
		if err != nil {
			return err
		}
		r := actorEvent(u, audit.ActionMFARecoveryUsed)
		r.Outcome, r.Details = audit.OutcomeSuccess, map[string]any{"recovery_codes_left": left}
		return s.rec.Record(ctx, tx, r)
	}
	if len(code) == 6 && strings.Trim(code, "0123456789") == "" {
		secret, err := s.unseal(u.ID, rec.Secret)
		if err != nil {
			return "", err
		}
		step := matchStep(secret, code, s.nowUTC())
		if step == 0 {
			return fail("wrong_code")
		}
		replayed := false
		err = s.tx(ctx, func(tx *store.Tx) error {
			ok, err := tx.UseTOTPStep(ctx, u.ID, step)
			if err != nil || !ok {
				replayed = !ok
				return err
			}
			return success(tx, MethodTOTP)
		})
		if err != nil {
			return "", err
		}
		if replayed {
			return fail("code_reused")
		}
		return MethodTOTP, nil
	}
	if !recovery || len(code) != 16 {
		return fail("wrong_code")
	}
	used := false
	err = s.tx(ctx, func(tx *store.Tx) error {
		ok, err := tx.UseRecoveryCode(ctx, u.ID, hashRecovery(code))
		if err != nil || !ok {
			return err
		}
		used = true
		return success(tx, MethodRecovery)
	})
	if err != nil {
		return "", err
	}
	if !used {
		return fail("wrong_recovery_code")
	}
	return MethodRecovery, nil
}

// DisableTOTP turns the user's own authenticator off (with its recovery
// codes; security keys stay) after a valid code. required says whether
// the user's role must keep a second factor: then the authenticator goes
// only while a security key remains. Errors: ErrSecondFactorRequired,
// ErrInvalidCode, *ThrottledError. Audited as mfa.disabled.
func (s *Service) DisableTOTP(ctx context.Context, u User, code string, required bool) error {
	lastFactor := func(keys int) bool { return required && keys == 0 }
	// Refused before a code is spent; checked again with the removal.
	if keys, err := s.db.WebAuthnKeys(ctx, u.ID); err != nil {
		return err
	} else if lastFactor(len(keys)) {
		return ErrSecondFactorRequired
	}
	ev := actorEvent(u, audit.ActionMFADisabled)
	_, err := s.verifyCode(ctx, u, code, s.ownKeys(u), true, ev, func(tx *store.Tx, m Method) error {
		if err := tx.LockSecondFactors(ctx, u.ID); err != nil {
			return err
		}
		keys, err := tx.WebAuthnKeys(ctx, u.ID)
		if err != nil {
			return err
		}
		if lastFactor(len(keys)) {
			return ErrSecondFactorRequired
		}
		if err := tx.DeleteTOTP(ctx, u.ID); err != nil {
			return err
		}
		e := ev
		e.Outcome, e.Details = audit.OutcomeSuccess, map[string]any{"by": "self", "method": string(m), "keys_left": len(keys)}
		return s.rec.Record(ctx, tx, e)
	})
	return err
}

// ResetSecondFactor removes another user's second factor (an admin, or
// the CLI for someone who lost every factor) and ends all their sessions.
// Errors: ErrNotFound. Audited as mfa.reset.
func (s *Service) ResetSecondFactor(ctx context.Context, userID int64) error {
	return s.tx(ctx, func(tx *store.Tx) error {
		u, err := userTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		had, err := tx.DeleteSecondFactors(ctx, u.ID)
		if err != nil {
			return err
		}
		n, err := tx.DeleteSessionsOf(ctx, u.ID)
		if err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{
			Action: audit.ActionMFAReset, Outcome: audit.OutcomeSuccess, TargetType: "user", TargetID: userTarget(u.ID),
			Details: map[string]any{"username": u.Username, "had_second_factor": had, "sessions_ended": n},
		})
	})
}

// IssueEnrolLink makes a single-use enrolment link token for a user, valid
// for 24 hours; only its hash is stored and the token is never audited.
// Errors: ErrNotFound. Audited as mfa.enrol_link_issued.
func (s *Service) IssueEnrolLink(ctx context.Context, userID int64) (string, error) {
	tok, err := newToken()
	if err != nil {
		return "", err
	}
	token := base64.RawURLEncoding.EncodeToString(tok)
	err = s.tx(ctx, func(tx *store.Tx) error {
		u, err := userTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		if err := tx.InsertEnrolLink(ctx, hashToken(tok), u.ID, tx.Now().Add(enrolLinkTTL)); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{
			Action: audit.ActionMFAEnrolLink, Outcome: audit.OutcomeSuccess, TargetType: "user", TargetID: userTarget(u.ID),
			Details: map[string]any{"username": u.Username, "valid_hours": int(enrolLinkTTL / time.Hour)},
		})
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// EnrolLinkPath is the desk's path of an enrolment link with token (the
// token rides in the query, which the access log leaves out).
func EnrolLinkPath(token string) string { return "/account/2fa/link?t=" + url.QueryEscape(token) }

// RedeemEnrolLink uses up an enrolment link of u. Errors: ErrInvalidLink.
// Audited as mfa.enrol_link_used (success or failure).
func (s *Service) RedeemEnrolLink(ctx context.Context, u User, token string) error {
	raw, derr := base64.RawURLEncoding.DecodeString(token)
	ok := false
	err := s.tx(ctx, func(tx *store.Tx) error {
		if derr == nil && len(raw) == tokenLen {
			var err error
			if ok, err = tx.UseEnrolLink(ctx, hashToken(raw), u.ID); err != nil {
				return err
			}
		}
		e := actorEvent(u, audit.ActionMFAEnrolLinkUsed)
		e.Outcome = audit.OutcomeSuccess
		if !ok {
			e.Outcome, e.Details = audit.OutcomeFailure, map[string]any{"reason": "invalid_or_expired"}
		}
		return s.rec.Record(ctx, tx, e)
	})
	if err != nil {
		return err
	}
	if !ok {
		return ErrInvalidLink
	}
	return nil
}

// SecondFactorRoles returns the roles that must sign in with a second
// factor (the admin setting); none when it was never turned on.
func (s *Service) SecondFactorRoles(ctx context.Context) ([]Role, error) {
	v, err := s.db.Setting(ctx, settingMFARoles)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseRoles(v), nil
}

// parseRoles reads the stored list of roles, skipping what is not one.
func parseRoles(v []byte) []Role {
	var out []Role
	for _, name := range strings.Split(string(v), ",") {
		if r, err := policy.ParseRole(name); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// SetSecondFactorRoles stores the roles that must sign in with a second
// factor (none: off). Audited as mfa.policy_changed (not when unchanged).
func (s *Service) SetSecondFactorRoles(ctx context.Context, roles []Role) error {
	var names []string
	for _, r := range roles {
		if !r.Valid() {
			return &ValidationError{Fields: fault.Fields{"roles": msgChooseRole}}
		}
		names = append(names, string(r))
	}
	slices.Sort(names)
	names = slices.Compact(names)
	// What is replaced is read in the transaction that replaces it, locked:
	// two admins changing the policy at once take turns, and each event's
	// "from" is what its change replaced.
	return s.tx(ctx, func(tx *store.Tx) error {
		v, err := tx.SettingForUpdate(ctx, settingMFARoles)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		var from []string
		for _, r := range parseRoles(v) {
			from = append(from, string(r))
		}
		slices.Sort(from)
		if slices.Equal(from, names) {
			return nil
		}
		if err := tx.PutSetting(ctx, settingMFARoles, []byte(strings.Join(names, ","))); err != nil {
			return err
		}
		return s.rec.Record(ctx, tx, audit.Event{Action: audit.ActionMFAPolicy, Outcome: audit.OutcomeSuccess,
			TargetType: "setting", TargetID: settingMFARoles,
			Details: map[string]any{"from": strings.Join(from, ","), "to": strings.Join(names, ",")}})
	})
}
