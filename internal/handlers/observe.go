package handlers

import (
	"context"
	"net/http"
	"time"
)

// Observer hears about requests and webhook deliveries, for metrics. It is
// called once per request: it must be cheap and must not block.
type Observer interface {
	// HTTPRequest is one request answered: route is the pattern it
	// matched ("GET /refunds/{id}"), or "unmatched"; never the raw path,
	// which would make one series per refund id.
	HTTPRequest(route string, status int, elapsed time.Duration)
	// WebhookDelivery is one POST to a NeoX webhook endpoint and what
	// became of it: a refunds.Hook… value when it was verified and
	// applied, or why it was refused.
	WebhookDelivery(api, outcome string)
}

// routeNote is where the matched route's handler writes its pattern, for
// the observing middleware outside the mux (the mux sets Request.Pattern
// on the request it was given, which middleware in between may have
// replaced).
type routeNote struct{ pattern string }

type routeNoteKey struct{}

// observe times every request and reports it with its route pattern and
// status. Without an observer it is not in the chain at all.
func (s *Server) observe(next http.Handler) http.Handler {
	if s.obs == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		note := &routeNote{pattern: "unmatched"}
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			if v := recover(); v != nil {
				s.obs.HTTPRequest(note.pattern, http.StatusInternalServerError, time.Since(start))
				panic(v)
			}
			s.obs.HTTPRequest(note.pattern, status, time.Since(start))
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeNoteKey{}, note)))
	})
}

// noteRoute marks requests reaching h with the route's pattern.
func (s *Server) noteRoute(pattern string, h http.Handler) http.Handler {
	if s.obs == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n, ok := r.Context().Value(routeNoteKey{}).(*routeNote); ok {
			n.pattern = pattern
		}
		h.ServeHTTP(w, r)
	})
}

// webhookDelivery reports a delivery's outcome to the observer, if any.
func (s *Server) webhookDelivery(api, outcome string) {
	if s.obs != nil {
		s.obs.WebhookDelivery(api, outcome)
	}
}
