package handlers

import (
	"context"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

type ctxKey int

const (
	keyRequestID ctxKey = iota
	keyUser
	keyFlash
	keyIdleLeft
	keySession
)

// requestIDFrom returns the request id set by the requestID middleware.
func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(keyRequestID).(string)
	return id
}

// userFrom returns the signed-in user, if any.
func userFrom(ctx context.Context) (auth.User, bool) {
	u, ok := ctx.Value(keyUser).(auth.User)
	return u, ok
}

func (s *Server) requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := uuid.NewString()
		w.Header().Set("X-Request-Id", id)
		ctx := context.WithValue(r.Context(), keyRequestID, id)
		ctx = audit.WithOrigin(ctx, audit.Origin{
			ClientIP:  s.clientIP(r),
			UserAgent: truncate(r.UserAgent(), 256),
			RequestID: id,
		})
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += n
	return n, err
}

// Flush lets streamed responses (CSV export, server-sent events) through.
func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// accessLog logs one structured line per request. Query strings are not
// logged: they can carry search terms that identify customers.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		level := slog.LevelInfo
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || strings.HasPrefix(r.URL.Path, "/static/") {
			level = slog.LevelDebug
		}
		s.log.Log(r.Context(), level, "request",
			"method", r.Method, "path", r.URL.Path, "status", rec.status, "bytes", rec.bytes,
			"duration_ms", float64(time.Since(start).Microseconds())/1000,
			"request_id", requestIDFrom(r.Context()), "ip", s.clientIP(r))
	})
}

// recoverPanics turns a panic into a logged 500 page.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			v := recover()
			if v == nil {
				return
			}
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic", "value", v, "path", r.URL.Path, "stack", string(debug.Stack()))
			s.renderStatus(w, r, http.StatusInternalServerError, tr(r, "error.internal_title"), tr(r, "error.internal_text", ""))
		}()
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		next.ServeHTTP(w, r)
	})
}

// limitBody bounds every request body (bodyLimit: the file upload of bulk
// refunds is the one route allowed more).
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.bodyLimit(r))
		}
		next.ServeHTTP(w, r)
	})
}

// readForm reads a posted form once, up front, so that a form the server
// cannot read (too large, more than net/url's 10,000 fields, bad escapes)
// is a 400 or 413 for the sender, in their language, and never a 500 with
// an ERROR line, whatever the route (anonymous /login included).
func (s *Server) readForm(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isFormPost(r) {
			if err := r.ParseForm(); err != nil {
				var mbe *http.MaxBytesError
				if errors.As(err, &mbe) {
					s.renderStatus(w, r, http.StatusRequestEntityTooLarge, tr(r, "error.too_large_title"), tr(r, "error.too_large_text"))
					return
				}
				s.log.InfoContext(r.Context(), "unreadable form refused", "path", r.URL.Path, "err", err)
				s.renderStatus(w, r, http.StatusBadRequest, tr(r, "error.bad_form_title"), tr(r, "error.bad_form_text"))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// isFormPost reports a request whose body is a URL-encoded form.
func isFormPost(r *http.Request) bool {
	if r.Method != http.MethodPost && r.Method != http.MethodPut && r.Method != http.MethodPatch {
		return false
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/x-www-form-urlencoded"
}

// requireAccess authenticates the request from its session and checks the
// role. Anonymous users are sent to the login page; wrong roles get a 403.
func (s *Server) requireAccess(a access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, sess, err := s.auth.CurrentUser(r)
		if err != nil {
			if store.Unreachable(err) {
				// The session may be fine: say the database is not
				// answering rather than ask for a sign-in that cannot work.
				s.renderError(w, r, err)
				return
			}
			if !errors.Is(err, auth.ErrNoSession) {
				s.log.ErrorContext(r.Context(), "session lookup failed", "err", err)
			}
			s.toLogin(w, r)
			return
		}
		ctx := userLang(context.WithValue(r.Context(), keyUser, u), u.Lang)
		ctx = context.WithValue(ctx, keyIdleLeft, s.auth.IdleLeft(sess))
		ctx = context.WithValue(ctx, keySession, sess)
		ctx = templates.WithPeople(ctx, func() map[int64]string {
			users, err := s.auth.ListUsers(ctx)
			if err != nil {
				s.log.WarnContext(ctx, "display names not loaded; pages show usernames", "err", err)
				return nil
			}
			names := make(map[int64]string, len(users))
			for _, x := range users {
				names[x.ID] = x.Name()
			}
			return names
		})
		o, _ := audit.OriginFrom(ctx)
		o.ActorID, o.ActorName, o.ActorRole = u.ID, u.Username, string(u.Role)
		ctx = audit.WithOrigin(ctx, o)
		r = r.WithContext(ctx)
		// Authenticated pages must not come back from the cache after logout.
		w.Header().Set("Cache-Control", "no-store")
		if u.MustChangePassword && !mustChangeAllowed(r) {
			redirect(w, r, "/account")
			return
		}
		// A role that must have a second factor, without one: only the
		// account page, to set it up (secondfactor.go).
		if !enrolmentAllowed(r) {
			missing, err := s.missingSecondFactor(r, u)
			if err != nil {
				s.renderError(w, r, err)
				return
			}
			if missing {
				redirect(w, r, "/account")
				return
			}
		}
		if !a.allows(s.policy, u.Role) {
			s.denied(r, deniedRole, "route", r.Pattern, map[string]any{"role": string(u.Role)})
			s.renderStatus(w, r, http.StatusForbidden, tr(r, "error.not_allowed"),
				tr(r, "error.role_forbidden", templates.RoleLabel(r.Context(), u.Role)))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// mustChangeAllowed lists what a user with a one-time password may do.
func mustChangeAllowed(r *http.Request) bool {
	switch r.URL.Path {
	case "/account", "/account/password", "/logout", "/account/session", "/account/keepalive":
		return true
	}
	return false
}

func (s *Server) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.Header.Get("HX-Request") != "true" && isFormPost(r) && r.URL.Path != "/logout" {
		s.expiredForm(w, r)
		return
	}
	target := "/login"
	if next := loginNext(r); next != "" {
		target += "?next=" + url.QueryEscape(next)
	}
	if r.Header.Get("HX-Request") == "true" {
		// Otherwise htmx would swap the login page into a fragment.
		w.Header().Set("HX-Redirect", target)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// loginNext is the page to come back to after signing in: the page asked
// for, or for an htmx request the page the person was on (HX-Current-URL),
// never the fragment, which has no layout. Only a local path is kept.
func loginNext(r *http.Request) string {
	if r.Header.Get("HX-Request") == "true" {
		cur, err := url.Parse(r.Header.Get("HX-Current-URL"))
		if err != nil || cur.Path == "" || cur.Path == "/" || cur.Path == "/login" {
			return ""
		}
		return safeNext(cur.RequestURI())
	}
	if r.Method != http.MethodGet || r.URL.Path == "/" {
		return ""
	}
	return r.URL.RequestURI()
}

// referrerPage is the local page r came from (its Referer when that is
// this site's), "" otherwise.
func referrerPage(r *http.Request) string {
	ref, err := url.Parse(r.Referer())
	if err != nil || ref.Host != r.Host || ref.Path == "" || ref.Path == "/login" {
		return ""
	}
	if next := safeNext(ref.RequestURI()); next != "/" {
		return next
	}
	return ""
}

// page builds the common page data for r; titleKey is a message key.
func (s *Server) page(r *http.Request, titleKey, active string) templates.Page {
	p := templates.Page{Title: tr(r, titleKey), Active: active, Path: backTo(r), Back: referrerPage(r)}
	p.Flash = flashFrom(r)
	u, ok := userFrom(r.Context())
	if !ok {
		return p
	}
	v := s.viewer(u)
	p.Viewer = &v
	if left, ok := r.Context().Value(keyIdleLeft).(time.Duration); ok {
		p.IdleLeft = int(left.Seconds())
	}
	// Those who work on refunds hear when NeoX stops answering, or refuses
	// the desk's PG signature.
	if s.refunds != nil && s.may(u, policy.RefundWork) {
		if f, ok := s.refunds.SigningFault(); ok {
			p.Signing = &templates.SigningNotice{Since: f.Since, Message: truncate(f.Message, 200)}
		}
		outages, err := s.refunds.Outages(r.Context())
		if err != nil {
			// The notice is news, not the page: the page still renders.
			s.log.Error("NeoX outage notice", "err", err)
		}
		for _, o := range outages {
			p.Outages = append(p.Outages, templates.Outage{API: string(o.API), Op: o.Op, Since: o.Since,
				Failures: o.Failures, LastError: truncate(o.LastError, 200)})
		}
	}
	return p
}

func displayName(u auth.User) string {
	if u.DisplayName != "" {
		return u.DisplayName
	}
	return u.Username
}
