package handlers

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// handleLoginForm serves GET /login.
func (s *Server) handleLoginForm(w http.ResponseWriter, r *http.Request) {
	if _, _, err := s.auth.CurrentUser(r); err == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	p := s.page(r, "login.title", "")
	s.render(w, r, http.StatusOK, templates.LoginPage(p, templates.LoginForm{Next: safeNext(r.URL.Query().Get("next"))}))
}

// handleLogin serves POST /login.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	form := templates.LoginForm{Username: username, Next: safeNext(r.PostForm.Get("next"))}
	// A browser that signed in as this user before is judged on its own
	// record, so guessing from elsewhere cannot keep the owner out.
	device := s.auth.DeviceFor(r, username)
	u, err := s.auth.AuthenticateFrom(r.Context(), username, r.PostForm.Get("password"), s.clientIP(r), device)
	var te *auth.ThrottledError
	if err != nil && (errors.As(err, &te) || errors.Is(err, auth.ErrInvalidCredentials)) {
		s.pace.refused(r.Context(), s.clientIP(r))
	}
	switch {
	case errors.As(err, &te):
		mins := int(math.Ceil(te.RetryAfter.Minutes()))
		form.Error = tr(r, "login.throttled", max(mins, 1))
		w.Header().Set("Retry-After", fmt.Sprint(int(math.Ceil(te.RetryAfter.Seconds()))))
		s.render(w, r, http.StatusTooManyRequests, templates.LoginPage(s.page(r, "login.title", ""), form))
		return
	case errors.Is(err, auth.ErrInvalidCredentials):
		form.Error = tr(r, "login.wrong")
		s.render(w, r, http.StatusUnauthorized, templates.LoginPage(s.page(r, "login.title", ""), form))
		return
	case err != nil:
		s.renderError(w, r, err)
		return
	}
	// With a second factor the session starts only after its code.
	if has, err := s.auth.HasSecondFactor(r.Context(), u.ID); err != nil {
		s.renderError(w, r, err)
		return
	} else if has {
		if err := s.auth.BeginPendingSignIn(r.Context(), w, u, form.Next, r.PostForm.Get("kept")); err != nil {
			s.renderError(w, r, err)
			return
		}
		redirect(w, r, "/login/code")
		return
	}
	kept := s.grantValues(keptSessionValues(r.PostForm.Get("kept"), form.Next), u.MustChangePassword)
	if err := s.auth.StartSessionWith(r.Context(), w, r, u, kept); err != nil {
		s.renderError(w, r, err)
		return
	}
	if err := s.auth.RememberDevice(w, r, u.Username); err != nil {
		// The sign-in stands; only the next one will not count as trusted.
		s.log.WarnContext(r.Context(), "device cookie not set", "err", err)
	}
	if u.MustChangePassword {
		redirect(w, r, "/account")
		return
	}
	redirect(w, r, form.Next)
}

// safeNext keeps post-login redirects on this site: a path starting with
// one "/", without backslashes, control characters (browsers drop tabs and
// newlines, so "/\t/host" would become "//host") or invalid UTF-8.
func safeNext(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || !utf8.ValidString(next) ||
		strings.ContainsFunc(next, func(r rune) bool { return r == '\\' || unicode.IsControl(r) }) {
		return "/"
	}
	return next
}

// handleLogout serves POST /logout.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.auth.EndSession(r.Context(), w, r); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/login", "signed-out")
}

// handleAccount serves GET /account.
func (s *Server) handleAccount(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	s.renderAccount(w, r, http.StatusOK, templates.AccountForm{MustChange: u.MustChangePassword}, "")
}

// handleChangePassword serves POST /account/password.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	current, next, confirm := r.PostForm.Get("current"), r.PostForm.Get("new"), r.PostForm.Get("confirm")
	form := templates.AccountForm{MustChange: u.MustChangePassword, Errors: templates.FieldErrors{}}
	if next != confirm {
		form.Errors["confirm"] = tr(r, "account.differ")
	}
	if next == current && next != "" {
		form.Errors["new"] = tr(r, "account.same")
	}
	if len(form.Errors) == 0 {
		err := s.auth.ChangePassword(r.Context(), u.ID, current, next)
		var ve *auth.ValidationError
		var te *auth.ThrottledError
		switch {
		case errors.As(err, &te):
			form.Errors["current"] = tr(r, "account.throttled", max(int(math.Ceil(te.RetryAfter.Minutes())), 1))
		case errors.Is(err, auth.ErrInvalidCredentials):
			form.Errors["current"] = tr(r, "account.wrong_current")
		case errors.As(err, &ve):
			for k, v := range fieldTexts(r.Context(), ve.Fields) {
				form.Errors[fieldFor(k)] = v
			}
		case err != nil:
			s.renderError(w, r, err)
			return
		}
	}
	if len(form.Errors) > 0 {
		s.renderAccount(w, r, http.StatusUnprocessableEntity, form, "")
		return
	}
	// Changing the password ended every session; start a fresh one here,
	// keeping a grant to enrol a second factor (signed in with a one-time
	// password) and when the last code was given.
	u.MustChangePassword = false
	carry := map[string]any{}
	if sess, ok := sessionOf(r); ok {
		for _, k := range []string{sessEnrolUntil, sessMFAAt} {
			if v, ok := sess.Values[k]; ok {
				carry[k] = v
			}
		}
	}
	if err := s.auth.StartSessionWith(r.Context(), w, r, u, carry); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/", "password-changed")
}

func fieldFor(k string) string {
	if k == "password" {
		return "new"
	}
	return k
}

// handleSignOutAll serves POST /account/signout-all.
func (s *Server) handleSignOutAll(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	if _, err := s.auth.EndAllSessions(r.Context(), u.ID); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/login", "signed-out-everywhere")
}

// handleSessionLeft answers how many seconds the session has left without
// activity, as JSON. Asked in the background (auth.BackgroundHeader) it
// changes nothing; posted ("stay signed in") it counts as activity, which
// requireAccess has already recorded.
func (s *Server) handleSessionLeft(w http.ResponseWriter, r *http.Request) {
	left, _ := r.Context().Value(keyIdleLeft).(time.Duration)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"left":%d}`, int(left.Seconds()))
}
