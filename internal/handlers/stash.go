package handlers

import (
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
	_, err := s.auth.UpdateValues(r.Context(), sess.ID, map[string]any{key: v})
	return err
}

// unstash takes the value kept under key, once.
func (s *Server) unstash(r *http.Request, key string) (string, bool) {
	sess, ok := r.Context().Value(keySession).(auth.Session)
	if !ok {
		return "", false
	}
	if _, ok := sess.Values[key].(string); !ok {
		return "", false // nothing kept: no write
	}
	// Taken from the stored values, not the request's copy: of two
	// requests landing at once, one shows it.
	before, err := s.auth.UpdateValues(r.Context(), sess.ID, nil, key)
	if err != nil {
		// Not taken out: better not to show it than to show it twice.
		s.log.WarnContext(r.Context(), "stashed value not cleared", "key", key, "err", err)
		return "", false
	}
	v, ok := before[key].(string)
	return v, ok
}
