package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"time"

	"github.com/gorilla/securecookie"
)

// A sign-in waiting for its second step. After the password checks out for
// a user with a second factor, no session starts: the browser gets a
// short-lived cookie, signed and encrypted with the session keys under its
// own name (so no other cookie is accepted for it), that names the user,
// when the password was checked and a fingerprint of the password hash.
// The code form reads it; a password change or reset in between, or five
// minutes, makes it worthless. It is sent only to /login (Path).
//
// Decision: a cookie rather than a session row, so that nothing treats a
// half-signed-in browser as signed in (every CurrentUser caller would have
// had to know about a third state).
const (
	// PendingCookieName is the cookie of a sign-in waiting for its code.
	PendingCookieName = "rd_2fa"
	pendingMaxAge     = 5 * time.Minute
)

type pendingCookie struct {
	codecs []securecookie.Codec
	secure bool
}

func newPendingCookie(keys [][]byte, secure bool) *pendingCookie {
	codecs := securecookie.CodecsFromPairs(keys...)
	for _, c := range codecs {
		if sc, ok := c.(*securecookie.SecureCookie); ok {
			sc.MaxAge(int(pendingMaxAge / time.Second))
			sc.SetSerializer(securecookie.JSONEncoder{})
		}
	}
	return &pendingCookie{codecs: codecs, secure: secure}
}

// PendingSignIn is a sign-in waiting for its second step.
type PendingSignIn struct {
	UserID int64  `json:"u"`
	At     int64  `json:"t"`           // unix seconds the password was checked
	Hash   string `json:"h"`           // fingerprint of the password hash then
	Next   string `json:"n,omitempty"` // the page to go to afterwards
	Kept   string `json:"k,omitempty"` // form values kept across an expired session
	OneOff bool   `json:"o,omitempty"` // signed in with an admin-issued one-time password
}

func hashFingerprint(hash string) string {
	sum := sha256.Sum256([]byte("pending:" + hash))
	return hex.EncodeToString(sum[:8])
}

// BeginPendingSignIn sets the pending cookie for u, whose password was
// just checked. next and kept are carried to the end of the sign-in.
func (s *Service) BeginPendingSignIn(ctx context.Context, w http.ResponseWriter, u User, next, kept string) error {
	p := s.pending.Load()
	if p == nil {
		return errNoStore
	}
	_, hash, err := withHash(s.db.UserCredentials(ctx, u.ID))
	if err != nil {
		return err
	}
	if len(kept) > 2000 {
		kept = ""
	}
	v, err := securecookie.EncodeMulti(PendingCookieName, PendingSignIn{UserID: u.ID, At: s.nowUTC().Unix(),
		Hash: hashFingerprint(hash), Next: next, Kept: kept, OneOff: u.MustChangePassword}, p.codecs...)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: PendingCookieName, Value: v, Path: "/login",
		MaxAge: int(pendingMaxAge / time.Second), HttpOnly: true, Secure: p.secure, SameSite: http.SameSiteLaxMode})
	return nil
}

// PendingSignInOf returns the request's sign-in waiting for its second
// step, and its user; false when there is none, it is older than five
// minutes, the password changed since, or the account is disabled.
func (s *Service) PendingSignInOf(r *http.Request) (PendingSignIn, User, bool) {
	p := s.pending.Load()
	c, err := r.Cookie(PendingCookieName)
	if p == nil || err != nil || c.Value == "" || len(c.Value) > 4000 {
		return PendingSignIn{}, User{}, false
	}
	var ps PendingSignIn
	if err := securecookie.DecodeMulti(PendingCookieName, c.Value, &ps, p.codecs...); err != nil {
		return PendingSignIn{}, User{}, false
	}
	// The server's clock, not only the cookie's own timestamp, decides.
	if age := s.nowUTC().Sub(time.Unix(ps.At, 0)); age < 0 || age > pendingMaxAge {
		return PendingSignIn{}, User{}, false
	}
	u, hash, err := withHash(s.db.UserCredentials(r.Context(), ps.UserID))
	if err != nil || u.Disabled || hashFingerprint(hash) != ps.Hash {
		return PendingSignIn{}, User{}, false
	}
	return ps, u, true
}

// EndPendingSignIn expires the pending cookie.
func (s *Service) EndPendingSignIn(w http.ResponseWriter) {
	secure := false
	if p := s.pending.Load(); p != nil {
		secure = p.secure
	}
	http.SetCookie(w, &http.Cookie{Name: PendingCookieName, Value: "", Path: "/login", MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode})
}
