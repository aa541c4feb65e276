package handlers

import (
	"context"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/i18n"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// langCookie remembers the language chosen on signed-out pages.
const langCookie = "lang"

// withLang puts l in ctx for the templates; handlers pass it on to the
// domain explicitly (refunds.Actor.Lang, Lookup's lang) for NeoX calls.
func withLang(ctx context.Context, l i18n.Lang) context.Context {
	return i18n.WithLang(ctx, l)
}

// language picks the request's language before authentication: the lang
// cookie, else Accept-Language, else English. requireAccess then applies
// the signed-in user's profile language, which wins over both.
func (s *Server) language(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := i18n.Negotiate(r.Header.Get("Accept-Language"))
		if c, err := r.Cookie(langCookie); err == nil {
			if cl, ok := i18n.Parse(c.Value); ok {
				l = cl
			}
		}
		w.Header().Add("Vary", "Accept-Language, Cookie")
		next.ServeHTTP(w, r.WithContext(templates.WithZone(withLang(r.Context(), l), s.zone)))
	})
}

// userLang applies a profile language over the negotiated one.
func userLang(ctx context.Context, profile string) context.Context {
	if l, ok := i18n.Parse(profile); ok {
		return withLang(ctx, l)
	}
	return ctx
}

// setLangCookie remembers l for a year. It is a preference, not a secret,
// so it is Secure only when the request itself came over TLS.
func setLangCookie(w http.ResponseWriter, r *http.Request, l i18n.Lang) {
	http.SetCookie(w, &http.Cookie{Name: langCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
}

// handleSetLang serves POST /lang (signed-out pages): remembers the choice
// in a cookie and goes back to the page it was made on.
func (s *Server) handleSetLang(w http.ResponseWriter, r *http.Request) {
	l, next, ok := s.parseLangForm(w, r)
	if !ok {
		return
	}
	setLangCookie(w, r, l)
	redirect(w, r, next)
}

// handleAccountLang serves POST /account/lang: saves the language in the
// user's profile (and the cookie, for the login page after signing out).
func (s *Server) handleAccountLang(w http.ResponseWriter, r *http.Request) {
	l, next, ok := s.parseLangForm(w, r)
	if !ok {
		return
	}
	u, _ := userFrom(r.Context())
	if err := s.auth.SetLang(r.Context(), u.ID, string(l)); err != nil {
		s.renderError(w, r, err)
		return
	}
	setLangCookie(w, r, l)
	redirect(w, r, next)
}

func (s *Server) parseLangForm(w http.ResponseWriter, r *http.Request) (i18n.Lang, string, bool) {
	if err := r.ParseForm(); err != nil {
		s.renderError(w, r, err)
		return "", "", false
	}
	next := safeNext(r.PostForm.Get("next"))
	l, ok := i18n.Parse(r.PostForm.Get("lang"))
	if !ok {
		// Nothing to save: an unknown language leaves the choice as it was.
		redirect(w, r, next)
		return "", "", false
	}
	return l, next, true
}
