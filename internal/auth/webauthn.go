package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Security keys and passkeys as a second factor (issue 17), with
// go-webauthn: registered from the account page, asked for after the
// password instead of a TOTP code.
//
// Decisions:
//   - The relying party is the desk's public origin (BASE_URL, else the
//     request's scheme and host, as the handlers derive it): its host is
//     the RP ID, and only that origin is accepted.
//   - Each ceremony's challenge is a row (mfa_webauthn_challenges) owned by
//     one user and one kind, taken (deleted, in its own committed
//     transaction) before the answer is checked: a challenge answers at
//     most once, even when the answer is wrong, and never for another
//     user or ceremony.
//   - A key used at sign-in goes through the same throttle counters as
//     codes and passwords.
//   - The credential (public key, sign count, flags) is stored as
//     go-webauthn's JSON; a sign count that goes backwards (a cloned key)
//     is refused.

const (
	keyCeremonyTTL = 5 * time.Minute
	keyNameMax     = 60
	// maxKeyAnswer bounds an answer read at all: real ones are a few KB.
	maxKeyAnswer = 64 << 10
	kindRegister = "register"
	kindLogin    = "login"
	// MethodKey is a second factor proved with a security key.
	MethodKey Method = "security_key"
)

// Security key errors.
var (
	// ErrKeyRefused: the key's answer did not verify (wrong or used
	// challenge, another user's ceremony, wrong origin, bad signature).
	ErrKeyRefused = errors.New("auth: the security key's answer was refused")
	// ErrNoKey: the user has no such security key.
	ErrNoKey = fault.New(fault.NotFound, "auth: no such security key")
	// ErrKeysNeedDomain: the desk's origin is not one WebAuthn takes (an
	// IP address, or no host): security keys need a domain name.
	ErrKeysNeedDomain = fault.New(fault.Conflict, "auth: security keys need the desk at a domain name, not an IP address")
	// ErrKeyName: the key's name is too long.
	ErrKeyName = fault.New(fault.Invalid, "auth: security key name is too long")
)

// SecurityKey is one of a user's registered keys, for display.
type SecurityKey struct {
	ID        string // base64url credential id
	Name      string
	CreatedAt time.Time
	LastUsed  time.Time
}

// keyUser adapts a User and their credentials to go-webauthn.
type keyUser struct {
	u     User
	creds []webauthn.Credential
}

func (k keyUser) WebAuthnID() []byte                         { return []byte("refunddesk-user:" + userTarget(k.u.ID)) }
func (k keyUser) WebAuthnName() string                       { return k.u.Username }
func (k keyUser) WebAuthnDisplayName() string                { return k.u.Name() }
func (k keyUser) WebAuthnCredentials() []webauthn.Credential { return k.creds }

// relyingParty builds the go-webauthn configuration for origin (scheme and
// host of the desk, e.g. "https://desk.example.com").
func relyingParty(origin string) (*webauthn.WebAuthn, error) {
	o, err := url.Parse(origin)
	if err != nil || o.Hostname() == "" || net.ParseIP(o.Hostname()) != nil {
		return nil, ErrKeysNeedDomain
	}
	rp, err := webauthn.New(&webauthn.Config{RPID: o.Hostname(), RPDisplayName: totpIssuer,
		RPOrigins: []string{o.Scheme + "://" + o.Host}})
	if err != nil {
		return nil, errors.Join(ErrKeysNeedDomain, err)
	}
	return rp, nil
}

func (s *Service) keyUserOf(ctx context.Context, u User) (keyUser, []store.WebAuthnKey, error) {
	rows, err := s.db.WebAuthnKeys(ctx, u.ID)
	if err != nil {
		return keyUser{}, nil, err
	}
	ku := keyUser{u: u}
	for _, r := range rows {
		var c webauthn.Credential
		if err := json.Unmarshal([]byte(r.Credential), &c); err != nil {
			return keyUser{}, nil, fmt.Errorf("security key of user %d: unreadable credential: %w", u.ID, err)
		}
		ku.creds = append(ku.creds, c)
	}
	return ku, rows, nil
}

// SecurityKeys lists the user's registered keys, oldest first.
func (s *Service) SecurityKeys(ctx context.Context, userID int64) ([]SecurityKey, error) {
	rows, err := s.db.WebAuthnKeys(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]SecurityKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, SecurityKey{ID: r.CredentialID, Name: r.Name, CreatedAt: r.CreatedAt, LastUsed: r.LastUsedAt})
	}
	return out, nil
}

func (s *Service) saveCeremony(ctx context.Context, u User, kind string, sd *webauthn.SessionData) error {
	raw, err := json.Marshal(sd)
	if err != nil {
		return fmt.Errorf("security key ceremony: %w", err)
	}
	return s.tx(ctx, func(tx *store.Tx) error {
		return tx.InsertWebAuthnChallenge(ctx, sd.Challenge, u.ID, kind, string(raw), tx.Now().Add(keyCeremonyTTL))
	})
}

// takeCeremony removes the ceremony challenge of u and kind, committed
// before the answer is checked, so it cannot answer twice.
func (s *Service) takeCeremony(ctx context.Context, u User, kind, challenge string) (webauthn.SessionData, error) {
	var raw string
	err := s.tx(ctx, func(tx *store.Tx) error {
		var err error
		raw, err = tx.TakeWebAuthnChallenge(ctx, challenge, u.ID, kind)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return webauthn.SessionData{}, ErrKeyRefused
	}
	if err != nil {
		return webauthn.SessionData{}, err
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal([]byte(raw), &sd); err != nil {
		return webauthn.SessionData{}, fmt.Errorf("security key ceremony: %w", err)
	}
	return sd, nil
}

// BeginKeyRegistration starts registering a security key for u at origin
// and returns the options for navigator.credentials.create. Whether u
// may add a second factor at all is the caller's decision.
func (s *Service) BeginKeyRegistration(ctx context.Context, u User, origin string) (*protocol.CredentialCreation, error) {
	rp, err := relyingParty(origin)
	if err != nil {
		return nil, err
	}
	ku, _, err := s.keyUserOf(ctx, u)
	if err != nil {
		return nil, err
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(ku.creds))
	for _, c := range ku.creds {
		exclude = append(exclude, c.Descriptor())
	}
	opts, sd, err := rp.BeginRegistration(ku,
		webauthn.WithExclusions(exclude),
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			ResidentKey: protocol.ResidentKeyRequirementDiscouraged, UserVerification: protocol.VerificationPreferred}))
	if err != nil {
		return nil, fmt.Errorf("security key registration: %w", err)
	}
	if err := s.saveCeremony(ctx, u, kindRegister, sd); err != nil {
		return nil, err
	}
	return opts, nil
}

// FinishKeyRegistration checks the authenticator's answer (body, the JSON
// of the PublicKeyCredential) to a registration begun for u and stores the
// key under name. Errors: ErrKeyRefused, ErrKeyName. Audited as
// mfa.key_added (and a refused answer as its failure).
func (s *Service) FinishKeyRegistration(ctx context.Context, u User, origin, name string, body []byte) (SecurityKey, error) {
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > keyNameMax {
		return SecurityKey{}, ErrKeyName
	}
	ev := actorEvent(u, audit.ActionMFAKeyAdded)
	refused := func(reason string) (SecurityKey, error) {
		e := ev
		e.Outcome, e.Details = audit.OutcomeFailure, map[string]any{"reason": reason}
		return SecurityKey{}, errors.Join(ErrKeyRefused, s.tx(ctx, func(tx *store.Tx) error { return s.rec.Record(ctx, tx, e) }))
	}
	rp, err := relyingParty(origin)
	if err != nil {
		return SecurityKey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return refused("unreadable_answer")
	}
	sd, err := s.takeCeremony(ctx, u, kindRegister, parsed.Response.CollectedClientData.Challenge)
	if errors.Is(err, ErrKeyRefused) {
		return refused("unknown_challenge")
	}
	if err != nil {
		return SecurityKey{}, err
	}
	ku, rows, err := s.keyUserOf(ctx, u)
	if err != nil {
		return SecurityKey{}, err
	}
	cred, err := rp.CreateCredential(ku, sd, parsed)
	if err != nil {
		return refused("verification_failed:" + protocolErrorType(err))
	}
	if name == "" {
		name = fmt.Sprintf("%s %d", "Security key", len(rows)+1)
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return SecurityKey{}, fmt.Errorf("security key: %w", err)
	}
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	var key SecurityKey
	err = s.tx(ctx, func(tx *store.Tx) error {
		err := tx.InsertWebAuthnKey(ctx, store.WebAuthnKey{CredentialID: id, UserID: u.ID, Name: name,
			Credential: string(raw), SignCount: int64(cred.Authenticator.SignCount)})
		if errors.Is(err, store.ErrConflict) {
			return ErrKeyRefused
		}
		if err != nil {
			return err
		}
		key = SecurityKey{ID: id, Name: name, CreatedAt: tx.Now()}
		e := ev
		e.Outcome, e.Details = audit.OutcomeSuccess, map[string]any{"method": string(MethodKey), "key_name": name}
		return s.rec.Record(ctx, tx, e)
	})
	if errors.Is(err, ErrKeyRefused) {
		return refused("already_registered")
	}
	return key, err
}

// BeginKeySignIn starts the security key step of u's sign-in at origin
// and returns the options for navigator.credentials.get. Errors: ErrNoKey.
func (s *Service) BeginKeySignIn(ctx context.Context, u User, origin string) (*protocol.CredentialAssertion, error) {
	return s.beginAssertion(ctx, u, origin, kindLogin)
}

// beginAssertion starts an assertion ceremony of kind for u's keys.
func (s *Service) beginAssertion(ctx context.Context, u User, origin, kind string) (*protocol.CredentialAssertion, error) {
	rp, err := relyingParty(origin)
	if err != nil {
		return nil, err
	}
	ku, _, err := s.keyUserOf(ctx, u)
	if err != nil {
		return nil, err
	}
	if len(ku.creds) == 0 {
		return nil, ErrNoKey
	}
	opts, sd, err := rp.BeginLogin(ku, webauthn.WithUserVerification(protocol.VerificationPreferred))
	if err != nil {
		return nil, fmt.Errorf("security key assertion: %w", err)
	}
	if err := s.saveCeremony(ctx, u, kind, sd); err != nil {
		return nil, err
	}
	return opts, nil
}

// VerifyKeySignIn checks the security key's answer (body) to u's sign-in
// ceremony. Refusals count on the sign-in throttle as wrong codes do
// (clientIP, device as for VerifySignIn). Errors: ErrKeyRefused,
// *ThrottledError. Audited as auth.mfa_verified (method security_key) and
// mfa.key_used, or auth.mfa_failed.
func (s *Service) VerifyKeySignIn(ctx context.Context, u User, origin string, body []byte, clientIP, device string) error {
	ev := actorEvent(u, audit.ActionMFAVerified)
	ev.ClientIP = strings.TrimSpace(clientIP)
	ev.Details = map[string]any{"trusted_device": device != "", "method": string(MethodKey)}
	fail := ev
	fail.Action = audit.ActionMFAFailed
	return s.verifyAssertion(ctx, u, origin, kindLogin, body, s.loginThrottleKeys(u.Username, clientIP, device), ev, fail)
}

// verifyAssertion checks body, the answer to u's assertion ceremony of
// kind, charged to the throttle counters keys. ok is recorded on success
// (with mfa.key_used), fail with the reason on a refusal; a throttled
// attempt is recorded as ok denied (through the refusal limiter) and not
// checked. Errors: ErrKeyRefused, *ThrottledError, ErrKeysNeedDomain.
func (s *Service) verifyAssertion(ctx context.Context, u User, origin, kind string, body []byte, keys []throttleKey, ok, fail audit.Event) error {
	if _, wait, scope, err := s.readThrottle(ctx, s.db, keys, s.nowUTC()); err != nil {
		return err
	} else if wait > 0 {
		e := ok
		e.Outcome, e.Details = audit.OutcomeDenied, mergeDetails(ok.Details, map[string]any{"reason": "throttled", "scope": scope})
		if s.refusals == nil || s.refusals.Admit(ctx, e) {
			if err := s.tx(ctx, func(tx *store.Tx) error { return s.rec.Record(ctx, tx, e) }); err != nil {
				return err
			}
		}
		return &ThrottledError{RetryAfter: wait}
	}
	if err := s.charge(ctx, keys, ok); err != nil {
		return err
	}
	refuse := func(reason string) error {
		e := fail
		e.Outcome, e.Details = audit.OutcomeFailure, mergeDetails(fail.Details, map[string]any{"reason": reason})
		return errors.Join(ErrKeyRefused, s.tx(ctx, func(tx *store.Tx) error { return s.rec.Record(ctx, tx, e) }))
	}
	rp, err := relyingParty(origin)
	if err != nil {
		return err
	}
	if len(body) > maxKeyAnswer {
		return refuse("unreadable_answer")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return refuse("unreadable_answer")
	}
	sd, err := s.takeCeremony(ctx, u, kind, parsed.Response.CollectedClientData.Challenge)
	if errors.Is(err, ErrKeyRefused) {
		return refuse("unknown_challenge")
	}
	if err != nil {
		return err
	}
	ku, rows, err := s.keyUserOf(ctx, u)
	if err != nil {
		return err
	}
	cred, err := rp.ValidateLogin(ku, sd, parsed)
	if err != nil {
		return refuse("verification_failed:" + protocolErrorType(err))
	}
	if cred.Authenticator.CloneWarning {
		return refuse("sign_count_went_back")
	}
	id := base64.RawURLEncoding.EncodeToString(cred.ID)
	name := ""
	for _, r := range rows {
		if r.CredentialID == id {
			name = r.Name
		}
	}
	raw, err := json.Marshal(cred)
	if err != nil {
		return fmt.Errorf("security key: %w", err)
	}
	err = s.tx(ctx, func(tx *store.Tx) error {
		if err := tx.UseWebAuthnKey(ctx, u.ID, id, string(raw), int64(cred.Authenticator.SignCount)); err != nil {
			if errors.Is(err, store.ErrConflict) {
				// Another sign-in stored this count (or a higher one) since
				// it was read: the same count twice is a cloned key's sign.
				return errSignCountTaken
			}
			return err
		}
		if err := s.clearAttempt(ctx, tx, keys); err != nil {
			return err
		}
		e := ok
		e.Outcome = audit.OutcomeSuccess
		if err := s.rec.Record(ctx, tx, e); err != nil {
			return err
		}
		k := actorEvent(u, audit.ActionMFAKeyUsed)
		k.ClientIP = ok.ClientIP
		k.Outcome, k.Details = audit.OutcomeSuccess, map[string]any{"key_name": name, "ceremony": strings.SplitN(kind, ":", 2)[0]}
		return s.rec.Record(ctx, tx, k)
	})
	if errors.Is(err, errSignCountTaken) {
		return refuse("sign_count_went_back")
	}
	return err
}

// errSignCountTaken: verifyAssertion's write found the key's sign count
// already moved to the asserted one or past it.
var errSignCountTaken = errors.New("auth: security key sign count already used")

// RemoveKey removes one of u's own security keys. required says whether
// u's role must keep a second factor: the last factor (no other key, no
// confirmed authenticator) cannot go then. Errors: ErrNoKey,
// ErrSecondFactorRequired. Audited as mfa.key_removed.
func (s *Service) RemoveKey(ctx context.Context, u User, id string, required bool) error {
	return s.tx(ctx, func(tx *store.Tx) error {
		if err := tx.LockSecondFactors(ctx, u.ID); err != nil {
			return err
		}
		keys, err := tx.WebAuthnKeys(ctx, u.ID)
		if err != nil {
			return err
		}
		others := 0
		found := false
		for _, k := range keys {
			if k.CredentialID == id {
				found = true
			} else {
				others++
			}
		}
		if !found {
			return ErrNoKey
		}
		if required && others == 0 {
			app, err := hasConfirmedTOTP(ctx, tx, u.ID)
			if err != nil {
				return err
			}
			if !app {
				return ErrSecondFactorRequired
			}
		}
		name, err := tx.DeleteWebAuthnKey(ctx, u.ID, id)
		if err != nil {
			return notFoundAs(err, ErrNoKey)
		}
		e := actorEvent(u, audit.ActionMFAKeyRemoved)
		e.Outcome, e.Details = audit.OutcomeSuccess, map[string]any{"key_name": name, "by": "self", "keys_left": others}
		return s.rec.Record(ctx, tx, e)
	})
}

// hasConfirmedTOTP reports whether userID has a confirmed authenticator,
// as tx sees it.
func hasConfirmedTOTP(ctx context.Context, tx *store.Tx, userID int64) (bool, error) {
	rec, err := tx.TOTP(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && rec.Confirmed, err
}

// protocolErrorType names a go-webauthn refusal for the audit row (its
// type, never the answer itself).
func protocolErrorType(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Type != "" {
		return pe.Type
	}
	return "other"
}
