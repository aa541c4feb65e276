package handlers

import (
	"maps"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// A POST that has something to show once (bulk approve's results, a new
// one-time password) keeps it in the poster's session and redirects; the
// page it lands on takes it out, so a reload neither repeats the action
// nor shows the secret again.

// stash keeps v under key in the request's session.
func (s *Server) stash(r *http.Request, key, v string) error {
	sess, ok := r.Context().Value(keySession).(auth.Session)
	if !ok {
		return auth.ErrNoSession
	}
	values := maps.Clone(sess.Values)
	if values == nil {
		values = map[string]any{}
	}
	values[key] = v
	return s.auth.SaveValues(r.Context(), sess.ID, values)
}

// unstash takes the value kept under key, once.
func (s *Server) unstash(r *http.Request, key string) (string, bool) {
	sess, ok := r.Context().Value(keySession).(auth.Session)
	if !ok {
		return "", false
	}
	v, ok := sess.Values[key].(string)
	if !ok {
		return "", false
	}
	rest := maps.Clone(sess.Values)
	delete(rest, key)
	if err := s.auth.SaveValues(r.Context(), sess.ID, rest); err != nil {
		// Not taken out: better not to show it than to show it twice.
		s.log.WarnContext(r.Context(), "stashed value not cleared", "key", key, "err", err)
		return "", false
	}
	return v, true
}
