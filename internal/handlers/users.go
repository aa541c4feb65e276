package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// handleUsers serves GET /users.
func (s *Server) handleUsers(w http.ResponseWriter, r *http.Request) {
	s.renderUsers(w, r, http.StatusOK, templates.UserForm{Role: string(policy.Staff)})
}

func (s *Server) renderUsers(w http.ResponseWriter, r *http.Request, status int, f templates.UserForm) {
	users, err := s.auth.ListUsers(r.Context())
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	rows := make([]templates.UserRow, 0, len(users))
	for _, u := range users {
		rows = append(rows, templates.UserRow{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName,
			Role: u.Role, Disabled: u.Disabled, MustChange: u.MustChangePassword,
			Created: u.CreatedAt.Format("2006-01-02")})
	}
	s.render(w, r, status, templates.UsersPage(s.page(r, "nav.users", "users"), rows, f))
}

// handleUserAdd serves POST /users: creates a user with a one-time password.
func (s *Server) handleUserAdd(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return
	}
	f := templates.UserForm{
		Username:    strings.TrimSpace(r.PostForm.Get("username")),
		DisplayName: strings.TrimSpace(r.PostForm.Get("display_name")),
		Role:        r.PostForm.Get("role"),
		Errors:      templates.FieldErrors{},
	}
	role, err := auth.ParseRole(f.Role)
	if err != nil {
		f.Errors["role"] = tr(r, "err.choose_role")
	}
	if len(f.DisplayName) > 80 {
		f.Errors["display_name"] = tr(r, "err.name_too_long")
	}
	if len(f.Errors) == 0 {
		password := auth.GeneratePassword()
		_, err = s.auth.CreateUser(r.Context(), f.Username, f.DisplayName, role, password, true)
		var ve *auth.ValidationError
		switch {
		case errors.Is(err, auth.ErrUsernameTaken):
			f.Errors["username"] = tr(r, "err.username_taken")
		case errors.As(err, &ve):
			for k, v := range ve.Fields {
				f.Errors[k] = domainText(r.Context(), v)
			}
		case err != nil:
			s.renderError(w, r, err)
			return
		default:
			s.showOneTimePassword(w, r, "title.user_added", f.Username, password)
			return
		}
	}
	s.renderUsers(w, r, http.StatusUnprocessableEntity, f)
}

// userID reads the {id} path value; a malformed id is a 404.
func (s *Server) userID(r *http.Request) (auth.User, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return auth.User{}, errNotFound
	}
	u, err := s.auth.User(r.Context(), id)
	if errors.Is(err, auth.ErrNotFound) {
		return auth.User{}, errNotFound
	}
	return u, err
}

// handleUserDisable serves POST /users/{id}/disable.
func (s *Server) handleUserDisable(w http.ResponseWriter, r *http.Request) {
	s.setDisabled(w, r, true, "user-disabled")
}

// handleUserEnable serves POST /users/{id}/enable.
func (s *Server) handleUserEnable(w http.ResponseWriter, r *http.Request) {
	s.setDisabled(w, r, false, "user-enabled")
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, disabled bool, flash string) {
	u, err := s.userID(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	if me, _ := userFrom(r.Context()); disabled && me.ID == u.ID {
		s.renderStatus(w, r, http.StatusConflict, tr(r, "error.not_possible"), tr(r, "err.disable_self"))
		return
	}
	if err := s.auth.SetDisabled(r.Context(), u.ID, disabled); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/users", flash)
}

// handleUserResetPassword serves POST /users/{id}/reset-password.
func (s *Server) handleUserResetPassword(w http.ResponseWriter, r *http.Request) {
	u, err := s.userID(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	password := auth.GeneratePassword()
	if err := s.auth.ResetPassword(r.Context(), u.ID, password, true); err != nil {
		s.renderError(w, r, err)
		return
	}
	s.showOneTimePassword(w, r, "title.password_reset", u.Username, password)
}

// stashPassword keeps a new one-time password for the page that shows it:
// title key, username and password, one per line.
const stashPassword = "one_time_password"

// showOneTimePassword redirects to the page that shows a new one-time
// password once (post/redirect/get: a reload adds or resets nothing).
func (s *Server) showOneTimePassword(w http.ResponseWriter, r *http.Request, titleKey, username, password string) {
	if err := s.stash(r, stashPassword, titleKey+"\n"+username+"\n"+password); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirect(w, r, "/users/one-time-password")
}

// handleOneTimePassword serves GET /users/one-time-password: the password
// just issued, shown once; afterwards the users page.
func (s *Server) handleOneTimePassword(w http.ResponseWriter, r *http.Request) {
	kept, ok := s.unstash(r, stashPassword)
	parts := strings.SplitN(kept, "\n", 3)
	if !ok || len(parts) != 3 {
		redirect(w, r, "/users")
		return
	}
	s.render(w, r, http.StatusOK, templates.OneTimePasswordPage(s.page(r, parts[0], "users"), parts[1], parts[2]))
}

// handleUserRole serves POST /users/{id}/role.
func (s *Server) handleUserRole(w http.ResponseWriter, r *http.Request) {
	u, err := s.userID(r)
	if err != nil {
		s.renderError(w, r, err)
		return
	}
	role, err := auth.ParseRole(r.FormValue("role"))
	if err != nil {
		s.renderStatus(w, r, http.StatusUnprocessableEntity, tr(r, "err.unknown_role"), tr(r, "err.choose_role"))
		return
	}
	// Nobody takes away their own right to manage users.
	if me, _ := userFrom(r.Context()); me.ID == u.ID && !s.policy.Permits(policy.Actor{ID: me.ID, Role: role}, policy.ManageUsers) {
		s.renderStatus(w, r, http.StatusConflict, tr(r, "error.not_possible"), tr(r, "err.remove_own_admin"))
		return
	}
	if err := s.auth.SetRole(r.Context(), u.ID, role); err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/users", "role-changed")
}
