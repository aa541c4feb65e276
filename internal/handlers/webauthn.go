package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// Security keys and passkeys at the edge: JSON endpoints that
// web/static/js/webauthn.js calls around navigator.credentials (no inline
// script under the CSP). Cross-site posts are refused by the same
// http.CrossOriginProtection as forms; the ceremonies' rules (single-use
// challenges per user, throttling, audit) live in auth/webauthn.go.

// publicBase is the desk's public scheme and host: BASE_URL when set,
// else the request's.
func (s *Server) publicBase(r *http.Request) *url.URL {
	if s.origin != nil {
		return s.origin
	}
	base := &url.URL{Scheme: "http", Host: r.Host}
	if r.TLS != nil {
		base.Scheme = "https"
	}
	return base
}

// writeJSON answers a script with v as JSON.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("encode JSON answer: %w", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// jsonError answers a script with a message it shows as is.
func (s *Server) jsonError(w http.ResponseWriter, r *http.Request, status int, msg string) {
	s.writeJSON(w, r, status, map[string]string{"error": msg})
}

// maxKeyJSON bounds what a key ceremony's script posts: an answer is a
// few kilobytes.
const maxKeyJSON = 64 << 10

// readJSON reads a script's JSON body: typed application/json (a form,
// text or no type is refused with 415), at most maxKeyJSON bytes (413),
// and well-formed (400). A refusal is answered here, before anything is
// read from the database or changed.
func (s *Server) readJSON(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" {
		s.jsonError(w, r, http.StatusUnsupportedMediaType, tr(r, "mfa.json_only"))
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxKeyJSON))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		s.jsonError(w, r, http.StatusRequestEntityTooLarge, tr(r, "error.too_large_text"))
		return nil, false
	case err != nil || !json.Valid(b):
		s.jsonError(w, r, http.StatusBadRequest, tr(r, "mfa.key_refused"))
		return nil, false
	}
	return b, true
}

// handleKeyRegisterBegin serves POST /account/2fa/key/begin: the options
// for navigator.credentials.create.
func (s *Server) handleKeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.readJSON(w, r); !ok {
		return
	}
	u, _ := userFrom(r.Context())
	required, err := s.secondFactorRequired(r, u)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !s.mayEnrol(r, required) {
		s.denied(r, deniedRole, "user", fmt.Sprint(u.ID), map[string]any{"rule": "second_factor_enrol_grant"})
		s.jsonError(w, r, http.StatusForbidden, tr(r, "mfa.required_ask_admin"))
		return
	}
	opts, err := s.auth.BeginKeyRegistration(r.Context(), u, s.publicBase(r).String())
	if errors.Is(err, auth.ErrKeysNeedDomain) {
		s.jsonError(w, r, http.StatusConflict, tr(r, "mfa.key_need_domain"))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, opts)
}

// keyRegistration is what the script posts after
// navigator.credentials.create: the key's name and the credential.
type keyRegistration struct {
	Name       string          `json:"name"`
	Credential json.RawMessage `json:"credential"`
}

// handleKeyRegisterFinish serves POST /account/2fa/key/finish.
func (s *Server) handleKeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readJSON(w, r)
	if !ok {
		return
	}
	u, _ := userFrom(r.Context())
	required, err := s.secondFactorRequired(r, u)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if !s.mayEnrol(r, required) {
		s.denied(r, deniedRole, "user", fmt.Sprint(u.ID), map[string]any{"rule": "second_factor_enrol_grant"})
		s.jsonError(w, r, http.StatusForbidden, tr(r, "mfa.required_ask_admin"))
		return
	}
	var reg keyRegistration
	if json.Unmarshal(body, &reg) != nil || len(reg.Credential) == 0 {
		s.jsonError(w, r, http.StatusBadRequest, tr(r, "mfa.key_refused"))
		return
	}
	_, err = s.auth.FinishKeyRegistration(r.Context(), u, s.publicBase(r).String(), reg.Name, reg.Credential)
	switch {
	case errors.Is(err, auth.ErrKeyName):
		s.jsonError(w, r, http.StatusUnprocessableEntity, tr(r, "mfa.key_name_long"))
		return
	case errors.Is(err, auth.ErrKeyRefused):
		s.jsonError(w, r, http.StatusUnprocessableEntity, tr(r, "mfa.key_refused"))
		return
	case errors.Is(err, auth.ErrKeysNeedDomain):
		s.jsonError(w, r, http.StatusConflict, tr(r, "mfa.key_need_domain"))
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	// The grant is spent, as with a confirmed authenticator; the key just
	// proved counts for step-ups.
	if err := s.saveSessionValues(r, map[string]any{sessEnrolUntil: int64(0), sessMFAAt: s.now().Unix()}); err != nil {
		s.renderError(w, r, err)
		return
	}
	setFlash(w, r, "mfa-key-added")
	// Without a fragment: the same URL with one would not reload the page.
	s.writeJSON(w, r, http.StatusOK, map[string]string{"redirect": "/account"})
}

// handleKeyRemove serves POST /account/2fa/key/remove (a form).
func (s *Server) handleKeyRemove(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	required, err := s.secondFactorRequired(r, u)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	err = s.auth.RemoveKey(r.Context(), u, r.PostForm.Get("id"), required)
	switch {
	case errors.Is(err, auth.ErrSecondFactorRequired):
		s.renderAccount(w, r, http.StatusConflict, templates.AccountForm{}, tr(r, "mfa.last_factor"))
	case err != nil:
		s.renderError(w, r, err)
	default:
		redirectFlash(w, r, "/account", "mfa-key-removed")
	}
}

// handleLoginKeyBegin serves POST /login/key/begin: the options for
// navigator.credentials.get, for the sign-in waiting for its second step.
func (s *Server) handleLoginKeyBegin(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.readJSON(w, r); !ok {
		return
	}
	_, u, ok := s.auth.PendingSignInOf(r)
	if !ok {
		s.jsonError(w, r, http.StatusUnauthorized, tr(r, "flash.sign_in_again"))
		return
	}
	opts, err := s.auth.BeginKeySignIn(r.Context(), u, s.publicBase(r).String())
	switch {
	case errors.Is(err, auth.ErrNoKey):
		s.jsonError(w, r, http.StatusNotFound, tr(r, "mfa.key_none"))
		return
	case errors.Is(err, auth.ErrKeysNeedDomain):
		s.jsonError(w, r, http.StatusConflict, tr(r, "mfa.key_need_domain"))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, opts)
}

// handleLoginKeyFinish serves POST /login/key/finish: the key's answer
// ends the sign-in as a good code does.
func (s *Server) handleLoginKeyFinish(w http.ResponseWriter, r *http.Request) {
	body, ok := s.readJSON(w, r)
	if !ok {
		return
	}
	ps, u, ok := s.auth.PendingSignInOf(r)
	if !ok {
		s.auth.EndPendingSignIn(w)
		s.jsonError(w, r, http.StatusUnauthorized, tr(r, "flash.sign_in_again"))
		return
	}
	device := s.auth.DeviceFor(r, u.Username)
	err := s.auth.VerifyKeySignIn(r.Context(), u, s.publicBase(r).String(), body, s.clientIP(r), device)
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		s.pace.refused(r.Context(), s.clientIP(r))
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(te.RetryAfter.Seconds()))))
		s.jsonError(w, r, http.StatusTooManyRequests, tr(r, "login.throttled", max(int(math.Ceil(te.RetryAfter.Minutes())), 1)))
		return
	case errors.Is(err, auth.ErrKeyRefused):
		s.pace.refused(r.Context(), s.clientIP(r))
		s.jsonError(w, r, http.StatusUnauthorized, tr(r, "mfa.key_refused"))
		return
	case errors.Is(err, auth.ErrKeysNeedDomain):
		s.jsonError(w, r, http.StatusConflict, tr(r, "mfa.key_need_domain"))
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	to, err := s.completeSignIn(w, r, ps, u, auth.MethodKey)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	s.writeJSON(w, r, http.StatusOK, map[string]string{"redirect": to})
}
