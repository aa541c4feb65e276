package handlers

import (
	"bytes"
	"errors"
	"fmt"
	"image/png"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// Two-factor sign-in at the edge: the code step of a sign-in, the account
// page's authenticator, the admin's requirement and resets. The rules live
// in auth (codes, throttling, audit) and policy (who must have one).
//
// Session values:
const (
	// sessMFAAt: unix seconds of the last second-factor code accepted in
	// this session (at sign-in, enrolment or a step-up); step-ups within
	// the configured window accept it instead of asking again.
	sessMFAAt = "mfa_at"
	// sessEnrolUntil: unix seconds until which this session may set up an
	// authenticator although the role requires one: granted by signing in
	// with an admin-issued one-time password or opening an admin-issued
	// enrolment link, never by a password alone.
	sessEnrolUntil = "mfa_enrol_until"
	enrolGrant     = time.Hour
)

// sessionOf is the request's session (set by requireAccess).
func sessionOf(r *http.Request) (auth.Session, bool) {
	sess, ok := r.Context().Value(keySession).(auth.Session)
	return sess, ok
}

// saveSessionValues merges add into the request's session values.
func (s *Server) saveSessionValues(r *http.Request, add map[string]any) error {
	sess, ok := sessionOf(r)
	if !ok {
		return auth.ErrNoSession
	}
	_, err := s.auth.UpdateValues(r.Context(), sess.ID, add)
	return err
}

// secondFactorRequired says whether u's role must have a second factor
// (the admin setting, read through the policy).
func (s *Server) secondFactorRequired(r *http.Request, u auth.User) (bool, error) {
	roles, err := s.auth.SecondFactorRoles(r.Context())
	if err != nil {
		return false, err
	}
	return s.policy.SecondFactorRequired(u.Role, roles), nil
}

// mayEnrol says whether this session may set up an authenticator: always
// when the role does not require one; under the requirement only with an
// enrolment grant (sessEnrolUntil).
func (s *Server) mayEnrol(r *http.Request, required bool) bool {
	if !required {
		return true
	}
	sess, _ := sessionOf(r)
	until, _ := sess.Values[sessEnrolUntil].(int64)
	return s.now().Unix() < until
}

// missingSecondFactor reports whether u must set up a second factor before
// anything else: the role requires one and they have none.
func (s *Server) missingSecondFactor(r *http.Request, u auth.User) (bool, error) {
	required, err := s.secondFactorRequired(r, u)
	if err != nil || !required {
		return false, err
	}
	has, err := s.auth.HasSecondFactor(r.Context(), u.ID)
	return !has, err
}

// enrolmentAllowed lists what a user who must first set up a second
// factor may do.
func enrolmentAllowed(r *http.Request) bool {
	return mustChangeAllowed(r) || r.URL.Path == "/account/lang" || strings.HasPrefix(r.URL.Path, "/account/2fa/")
}

// grantValues are the session values that let a sign-in with an
// admin-issued one-time password enrol.
func (s *Server) grantValues(values map[string]any, oneOff bool) map[string]any {
	if !oneOff {
		return values
	}
	if values == nil {
		values = map[string]any{}
	}
	values[sessEnrolUntil] = s.now().Add(enrolGrant).Unix()
	return values
}

// handleLoginCodeForm serves GET /login/code.
func (s *Server) handleLoginCodeForm(w http.ResponseWriter, r *http.Request) {
	_, u, ok := s.auth.PendingSignInOf(r)
	if !ok {
		redirectFlash(w, r, "/login", "sign-in-again")
		return
	}
	keys, err := s.auth.SecurityKeys(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, templates.LoginCodePage(s.page(r, "mfa.code_title", ""), templates.LoginCodeForm{HasKey: len(keys) > 0}))
}

// handleLoginCode serves POST /login/code: the second step of a sign-in.
func (s *Server) handleLoginCode(w http.ResponseWriter, r *http.Request) {
	ps, u, ok := s.auth.PendingSignInOf(r)
	if !ok {
		s.auth.EndPendingSignIn(w)
		redirectFlash(w, r, "/login", "sign-in-again")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	device := s.auth.DeviceFor(r, u.Username)
	method, err := s.auth.VerifySignIn(r.Context(), u, r.PostForm.Get("code"), s.clientIP(r), device)
	var te *auth.ThrottledError
	page := func(status int, msg string) {
		keys, err := s.auth.SecurityKeys(r.Context(), u.ID)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		s.render(w, r, status, templates.LoginCodePage(s.page(r, "mfa.code_title", ""), templates.LoginCodeForm{Error: msg, HasKey: len(keys) > 0}))
	}
	switch {
	case errors.As(err, &te):
		s.pace.refused(r.Context(), s.clientIP(r))
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(te.RetryAfter.Seconds()))))
		page(http.StatusTooManyRequests, tr(r, "login.throttled", max(int(math.Ceil(te.RetryAfter.Minutes())), 1)))
		return
	case errors.Is(err, auth.ErrInvalidCode):
		s.pace.refused(r.Context(), s.clientIP(r))
		page(http.StatusUnauthorized, tr(r, "mfa.wrong_code"))
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	to, err := s.completeSignIn(w, r, ps, u, method)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, to)
}

// completeSignIn starts the session of a sign-in whose second step just
// checked out (a code or a security key) and returns where to go next.
func (s *Server) completeSignIn(w http.ResponseWriter, r *http.Request, ps auth.PendingSignIn, u auth.User, method auth.Method) (string, error) {
	s.auth.EndPendingSignIn(w)
	values := keptSessionValues(ps.Kept, ps.Next)
	if values == nil {
		values = map[string]any{}
	}
	// A recovery code is for a lost device: it signs in, but does not
	// count as a fresh second factor for step-ups.
	if method != auth.MethodRecovery {
		values[sessMFAAt] = s.now().Unix()
	}
	values = s.grantValues(values, ps.OneOff)
	if err := s.auth.StartSessionWith(r.Context(), w, r, u, values); err != nil {
		return "", err
	}
	if err := s.auth.RememberDevice(w, r, u.Username); err != nil {
		s.log.WarnContext(r.Context(), "device cookie not set", "err", err)
	}
	switch {
	case u.MustChangePassword:
		return "/account", nil
	case method == auth.MethodRecovery:
		setFlash(w, r, "recovery-code-used")
		return "/account", nil
	default:
		return safeNext(ps.Next), nil
	}
}

// twoFactorView builds the account page's two-factor card.
func (s *Server) twoFactorView(r *http.Request, u auth.User) (*templates.TwoFactorView, error) {
	f, err := s.auth.SecondFactorOf(r.Context(), u.ID)
	if err != nil {
		return nil, err
	}
	required, err := s.secondFactorRequired(r, u)
	if err != nil {
		return nil, err
	}
	v := &templates.TwoFactorView{Enrolled: f.Enrolled, Pending: f.Pending, Required: required,
		MayEnrol: s.mayEnrol(r, required), RecoveryLeft: f.RecoveryLeft}
	for _, k := range f.Keys {
		v.Keys = append(v.Keys, templates.SecurityKeyView{ID: k.ID, Name: k.Name, Added: k.CreatedAt, LastUsed: k.LastUsed})
	}
	if f.Pending && v.MayEnrol {
		key, err := s.auth.PendingTOTP(r.Context(), u)
		if err != nil {
			return nil, err
		}
		v.Secret = key.Secret()
	}
	return v, nil
}

// renderAccount renders the account page with the two-factor card.
func (s *Server) renderAccount(w http.ResponseWriter, r *http.Request, status int, form templates.AccountForm, mfaErr string) {
	u, _ := userFrom(r.Context())
	if !form.MustChange {
		v, err := s.twoFactorView(r, u)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		v.Error = mfaErr
		form.TwoFactor = v
		if form.Notify == nil && s.notify != nil {
			nv, err := s.notifyView(r, u)
			if err != nil {
				s.renderError(w, r, err)
				return
			}
			form.Notify = nv
		}
	}
	s.render(w, r, status, templates.AccountPage(s.page(r, "nav.account", "account"), form))
}

// enrolling checks that this session may enrol; false means the refusal
// is written.
func (s *Server) enrolling(w http.ResponseWriter, r *http.Request, u auth.User) bool {
	required, err := s.secondFactorRequired(r, u)
	if err != nil {
		s.renderError(w, r, err)
		return false
	}
	if !s.mayEnrol(r, required) {
		s.denied(r, deniedRole, "user", fmt.Sprint(u.ID), map[string]any{"rule": "second_factor_enrol_grant"})
		s.renderStatus(w, r, http.StatusForbidden, tr(r, "error.not_allowed"), tr(r, "mfa.required_ask_admin"))
		return false
	}
	return true
}

// handleTOTPStart serves POST /account/2fa/start.
func (s *Server) handleTOTPStart(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if !s.enrolling(w, r, u) {
		return
	}
	if err := s.auth.BeginTOTP(r.Context(), u); err != nil && !errors.Is(err, auth.ErrAlreadyEnrolled) {
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, "/account#two-factor")
}

// handleTOTPQR serves GET /account/2fa/qr.png: the pending enrolment's QR
// code, as a same-origin PNG (the CSP allows no data: images for it).
func (s *Server) handleTOTPQR(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	required, err := s.secondFactorRequired(r, u)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	key, err := s.auth.PendingTOTP(r.Context(), u)
	if errors.Is(err, auth.ErrNoPendingEnrolment) || (err == nil && !s.mayEnrol(r, required)) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	img, err := key.Image(240, 240)
	if err != nil {
		s.renderError(w, r, fmt.Errorf("QR code: %w", err))
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		s.renderError(w, r, fmt.Errorf("QR code: %w", err))
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

// handleTOTPConfirm serves POST /account/2fa/confirm: the first code turns
// the authenticator on and shows the recovery codes, once.
func (s *Server) handleTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if !s.enrolling(w, r, u) {
		return
	}
	codes, err := s.auth.ConfirmTOTP(r.Context(), u, r.PostForm.Get("code"))
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		s.renderAccount(w, r, http.StatusTooManyRequests, templates.AccountForm{}, tr(r, "mfa.throttled", max(int(math.Ceil(te.RetryAfter.Minutes())), 1)))
		return
	case errors.Is(err, auth.ErrInvalidCode):
		s.renderAccount(w, r, http.StatusUnprocessableEntity, templates.AccountForm{}, tr(r, "mfa.wrong_code"))
		return
	case errors.Is(err, auth.ErrNoPendingEnrolment):
		redirect(w, r, "/account#two-factor")
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	// The grant is spent; the code just given counts for step-ups.
	if err := s.saveSessionValues(r, map[string]any{sessEnrolUntil: int64(0), sessMFAAt: s.now().Unix()}); err != nil {
		s.renderError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, templates.RecoveryCodesPage(s.page(r, "mfa.codes_title", "account"), codes))
}

// handleTOTPDisable serves POST /account/2fa/disable.
func (s *Server) handleTOTPDisable(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	required, err := s.secondFactorRequired(r, u)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	err = s.auth.DisableTOTP(r.Context(), u, r.PostForm.Get("code"), required)
	var te *auth.ThrottledError
	switch {
	case errors.Is(err, auth.ErrSecondFactorRequired):
		s.renderAccount(w, r, http.StatusConflict, templates.AccountForm{}, tr(r, "mfa.last_factor"))
	case errors.As(err, &te):
		s.renderAccount(w, r, http.StatusTooManyRequests, templates.AccountForm{}, tr(r, "mfa.throttled", max(int(math.Ceil(te.RetryAfter.Minutes())), 1)))
	case errors.Is(err, auth.ErrInvalidCode):
		s.renderAccount(w, r, http.StatusUnprocessableEntity, templates.AccountForm{}, tr(r, "mfa.wrong_code"))
	case err != nil:
		s.renderError(w, r, err)
	default:
		redirectFlash(w, r, "/account", "mfa-disabled")
	}
}

// handleEnrolLinkForm serves GET /account/2fa/link?t=TOKEN: a page that
// asks to use the link (a GET changes nothing, so a prefetch or a link
// preview cannot spend it). The token rides in the query, which the
// access log leaves out.
func (s *Server) handleEnrolLinkForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, templates.EnrolLinkRedeemPage(s.page(r, "mfa.title", "account"), truncate(r.URL.Query().Get("t"), 100)))
}

// handleEnrolLink serves POST /account/2fa/link: an admin-issued enrolment
// link lets this session set up an authenticator.
func (s *Server) handleEnrolLink(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	err := s.auth.RedeemEnrolLink(r.Context(), u, r.PostForm.Get("t"))
	if errors.Is(err, auth.ErrInvalidLink) {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, tr(r, "error.not_possible"), tr(r, "mfa.link_invalid"))
		return
	}
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := s.saveSessionValues(r, map[string]any{sessEnrolUntil: s.now().Add(enrolGrant).Unix()}); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, "/account#two-factor")
}

// handleSecondFactorAdmin serves GET /users/second-factor.
func (s *Server) handleSecondFactorAdmin(w http.ResponseWriter, r *http.Request) {
	s.renderSecondFactorAdmin(w, r, http.StatusOK, "")
}

func (s *Server) renderSecondFactorAdmin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	roles, err := s.auth.SecondFactorRoles(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	users, err := s.auth.ListUsers(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	enrolled, err := s.auth.EnrolledUsers(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	d := templates.SecondFactorAdmin{Roles: roles, Offer: roles, Error: msg, StepUp: s.stepUp}
	if len(roles) == 0 {
		d.Offer = policy.DefaultSecondFactorRoles()
	}
	for _, u := range users {
		d.Users = append(d.Users, templates.SecondFactorUser{ID: u.ID, Username: u.Username, Role: u.Role,
			Enrolled: enrolled[u.ID], Required: s.policy.SecondFactorRequired(u.Role, roles)})
	}
	s.render(w, r, status, templates.SecondFactorAdminPage(s.page(r, "mfa.title", "users"), d))
}

// handleSecondFactorPolicy serves POST /users/second-factor: which roles
// must sign in with a second factor.
func (s *Server) handleSecondFactorPolicy(w http.ResponseWriter, r *http.Request) {
	var roles []policy.Role
	for _, name := range r.PostForm["role"] {
		role, err := auth.ParseRole(name)
		if err != nil {
			s.renderSecondFactorAdmin(w, r, http.StatusUnprocessableEntity, tr(r, "err.choose_role"))
			return
		}
		roles = append(roles, role)
	}
	// The admin turning it on must not lock themselves out.
	me, _ := userFrom(r.Context())
	if s.policy.SecondFactorRequired(me.Role, roles) {
		has, err := s.auth.HasSecondFactor(r.Context(), me.ID)
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		if !has {
			s.renderSecondFactorAdmin(w, r, http.StatusConflict, tr(r, "mfa.policy_self_first"))
			return
		}
	}
	if err := s.auth.SetSecondFactorRoles(r.Context(), roles); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/users/second-factor", "mfa-policy-saved")
}

// handleUserResetSecondFactor serves POST /users/{id}/reset-2fa.
func (s *Server) handleUserResetSecondFactor(w http.ResponseWriter, r *http.Request) {
	u, err := s.userID(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := s.auth.ResetSecondFactor(r.Context(), u.ID); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/users/second-factor", "mfa-reset")
}

// handleUserEnrolLink serves POST /users/{id}/enrol-link: a single-use
// link, shown once, with which the user may set up an authenticator.
func (s *Server) handleUserEnrolLink(w http.ResponseWriter, r *http.Request) {
	u, err := s.userID(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	token, err := s.auth.IssueEnrolLink(r.Context(), u.ID)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	link := s.publicBase(r).String() + auth.EnrolLinkPath(token)
	w.Header().Set("Cache-Control", "no-store")
	s.render(w, r, http.StatusOK, templates.EnrolLinkPage(s.page(r, "mfa.title", "users"), u.Username, link))
}
