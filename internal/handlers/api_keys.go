package handlers

// The admins' API keys page (/settings/api-keys): create a key (its token
// shown on that one answer only), list keys with their last use, revoke.

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/apikeys"
	"github.com/neox-refund-desk/refunddesk/internal/fault"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// defaultKeyLifetime is the expiry the form offers.
const defaultKeyLifetime = 90 * 24 * time.Hour

// adminOf is the signed-in admin managing keys.
func adminOf(r *http.Request) apikeys.Admin {
	u, _ := userFrom(r.Context())
	return apikeys.Admin{ID: u.ID, Name: u.Username, Role: u.Role}
}

// handleAPIKeys serves GET /settings/api-keys.
func (s *Server) handleAPIKeys(w http.ResponseWriter, r *http.Request) {
	s.renderAPIKeys(w, r, http.StatusOK, templates.APIKeysData{Form: templates.APIKeyForm{Read: true,
		Expires: s.now().In(s.zone).Add(defaultKeyLifetime).Format(time.DateOnly)}})
}

func (s *Server) renderAPIKeys(w http.ResponseWriter, r *http.Request, status int, d templates.APIKeysData) {
	if s.keys != nil {
		var err error
		if d.Keys, err = s.keys.List(r.Context()); err != nil {
			s.renderError(w, r, err)
			return
		}
	}
	if d.Errors == nil {
		d.Errors = templates.FieldErrors{}
	}
	d.Now = s.now()
	s.render(w, r, status, templates.APIKeysPage(s.page(r, "nav.api_keys", "api_keys"), d))
}

// handleAPIKeyCreate serves POST /settings/api-keys: the page again, with
// the new key's token shown once (never in a redirect, a flash or a log).
func (s *Server) handleAPIKeyCreate(w http.ResponseWriter, r *http.Request) {
	pf := r.PostForm
	f := templates.APIKeyForm{Name: strings.TrimSpace(pf.Get("name")), Expires: strings.TrimSpace(pf.Get("expires")),
		Read: slices.Contains(pf["scope"], "read"), Create: slices.Contains(pf["scope"], "create")}
	d := templates.APIKeysData{Form: f, Errors: templates.FieldErrors{}}
	scopes, serr := policy.ParseScopes(pf["scope"]...)
	if serr != nil {
		d.Errors["scopes"] = tr(r, "apikey.err_scopes")
	}
	// The key lasts to the end of the chosen day, the merchant's day.
	day, derr := time.ParseInLocation(time.DateOnly, f.Expires, s.zone)
	if derr != nil {
		d.Errors["expires"] = tr(r, "apikey.err_expires")
	}
	if s.keys == nil {
		s.renderStatus(w, r, http.StatusServiceUnavailable, tr(r, "error.not_possible"), tr(r, "apikey.unavailable"))
		return
	}
	// Create checks every field (no scope or no date never passes), so
	// the page shows every error at once.
	k, token, err := s.keys.Create(r.Context(), adminOf(r), apikeys.NewKey{Name: f.Name, Scopes: scopes, ExpiresAt: day.AddDate(0, 0, 1)})
	if fields, ok := fault.FieldsOf(err); ok {
		for field, msg := range fieldTexts(r.Context(), fields) {
			if _, set := d.Errors[field]; !set {
				d.Errors[field] = msg
			}
		}
	} else if err != nil {
		s.renderError(w, r, err)
		return
	}
	if len(d.Errors) > 0 {
		s.renderAPIKeys(w, r, http.StatusUnprocessableEntity, d)
		return
	}
	d.Created = &templates.CreatedAPIKey{Name: k.Name, Token: token}
	d.Form = templates.APIKeyForm{Read: true, Expires: s.now().In(s.zone).Add(defaultKeyLifetime).Format(time.DateOnly)}
	w.Header().Set("Cache-Control", "no-store")
	s.renderAPIKeys(w, r, http.StatusCreated, d)
}

// handleAPIKeyRevoke serves POST /settings/api-keys/{id}/revoke.
func (s *Server) handleAPIKeyRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 || s.keys == nil {
		s.renderError(w, r, errNotFound)
		return
	}
	if err := s.keys.Revoke(r.Context(), adminOf(r), id); errors.Is(err, apikeys.ErrNotFound) {
		s.renderError(w, r, errNotFound)
		return
	} else if err != nil {
		s.renderError(w, r, err)
		return
	}
	redirectFlash(w, r, "/settings/api-keys", "api-key-revoked")
}
