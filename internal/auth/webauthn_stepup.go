package auth

import (
	"context"
	"errors"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
)

// A step-up answered with a security key (issue 17): the same assertion
// ceremony as at sign-in, for a signed-in user, whose challenge is bound
// to one session as well as to the user. Its kind is "stepup:" and the
// session's id (the SHA-256 of its cookie token, as the sessions table
// keeps it), so an answer made in one browser session does not serve
// another, and a sign-in ceremony's answer never serves a step-up (nor
// the reverse). Single use and expiry are the ceremony table's (taken
// before the answer is checked; 5 minutes).

const kindStepUp = "stepup"

// errNoSessionForKey: a step-up ceremony asked for without a session.
var errNoSessionForKey = errors.New("auth: a security key step-up needs a session")

func stepUpKind(sessionID string) (string, error) {
	if sessionID == "" {
		return "", errNoSessionForKey
	}
	return kindStepUp + ":" + sessionID, nil
}

// BeginKeyStepUp starts a step-up with one of u's security keys in the
// session sessionID (Session.ID) at origin and returns the options for
// navigator.credentials.get. Errors: ErrNoKey, ErrKeysNeedDomain.
func (s *Service) BeginKeyStepUp(ctx context.Context, u User, origin, sessionID string) (*protocol.CredentialAssertion, error) {
	kind, err := stepUpKind(sessionID)
	if err != nil {
		return nil, err
	}
	return s.beginAssertion(ctx, u, origin, kind)
}

// VerifyKeyStepUp checks a security key's answer (body) to a step-up
// begun by u in the session sessionID, before an action that asks for a
// fresh second factor; details describe the action in the audit row.
// Refusals count on the same throttle counter as wrong step-up codes.
// Errors: ErrKeyRefused (unreadable, unknown, used, expired, another
// session's or user's challenge, another user's key, bad signature, sign
// count gone back), *ThrottledError, ErrKeysNeedDomain. Audited as
// mfa.step_up (via security_key) and mfa.key_used, or mfa.step_up failed.
func (s *Service) VerifyKeyStepUp(ctx context.Context, u User, origin, sessionID string, body []byte, details map[string]any) error {
	kind, err := stepUpKind(sessionID)
	if err != nil {
		return err
	}
	ev := actorEvent(u, audit.ActionMFAStepUp)
	ev.Details = mergeDetails(details, map[string]any{"via": "security_key"})
	return s.verifyAssertion(ctx, u, origin, kind, body, s.ownKeys(u), ev, ev)
}
