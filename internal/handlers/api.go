package handlers

// The refunds API (/api/v1) for the merchant's own systems: JSON over HTTP,
// authenticated by an API key in "Authorization: Bearer", never by a
// session cookie, so it has no CSRF check either (a browser cannot attach
// a bearer key by itself). What a key may do is the policy's answer for
// role policy.APIKey with the key's scopes. Errors are
// application/problem+json (RFC 9457).

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/apikeys"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/handlers/api"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
)

// DefaultAPIRateLimit is the requests per minute per key when Deps says 0.
const DefaultAPIRateLimit = 120

// Reasons of access.denied events on /api/v1.
const (
	deniedNoKey      = "api_key_missing" // no bearer key (401)
	deniedBadKey     = "api_key_invalid" // malformed, unknown or wrong key (401)
	deniedExpiredKey = "api_key_expired" // (401)
	deniedRevokedKey = "api_key_revoked" // (401)
	deniedRateLimit  = "api_rate_limit"  // over the key's requests per minute (429)
)

// apiKey guards an /api/v1 route with a policy action: the key's role and
// scopes must be permitted it.
func apiKey(a policy.Action) access { return access{kind: kindAPI, action: a} }

type keyCtx struct{}

// keyFrom returns the API key that authenticated the request.
func keyFrom(ctx context.Context) (apikeys.Key, bool) {
	k, ok := ctx.Value(keyCtx{}).(apikeys.Key)
	return k, ok
}

// problemType is the "type" of each problem the API answers with.
func problemType(name string) string { return "urn:refund-desk:problem:" + name }

// fieldProblem is one invalid field of a request.
type fieldProblem struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// apiProblem is an RFC 9457 problem document.
type apiProblem struct {
	Type   string         `json:"type"`
	Title  string         `json:"title"`
	Status int            `json:"status"`
	Detail string         `json:"detail,omitempty"`
	Errors []fieldProblem `json:"errors,omitempty"`
}

// writeProblem answers with p as application/problem+json.
func writeProblem(w http.ResponseWriter, p apiProblem) {
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_, _ = w.Write(append(b, '\n'))
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, apiProblem{Type: problemType("internal"), Title: "Internal error", Status: http.StatusInternalServerError})
		return
	}
	writeRawJSON(w, status, b)
}

func writeRawJSON(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// unauthorized answers 401 with the bearer challenge RFC 6750 asks for.
func unauthorized(w http.ResponseWriter, detail string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="refund-desk", error="invalid_token"`)
	writeProblem(w, apiProblem{Type: problemType("unauthorized"), Title: "Unauthorized", Status: http.StatusUnauthorized, Detail: detail})
}

// requireKey authenticates an /api/v1 request by its bearer key, limits
// its rate, asks the policy about the route's action and records the use
// (audit apikey.used and the key's last use) before the handler runs.
// Session cookies are not read: a signed-in browser is anonymous here.
func (s *Server) requireKey(a access, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		scheme, token, found := strings.Cut(r.Header.Get("Authorization"), " ")
		if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
			s.denied(r, deniedNoKey, "route", r.Pattern, nil)
			unauthorized(w, "Send an API key: Authorization: Bearer rd_live_…")
			return
		}
		if s.keys == nil {
			writeProblem(w, apiProblem{Type: problemType("unavailable"), Title: "API not enabled", Status: http.StatusServiceUnavailable})
			return
		}
		k, err := s.keys.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			reason, detail := deniedBadKey, "The API key is not valid."
			extra := map[string]any{}
			switch {
			case errors.Is(err, apikeys.ErrExpired):
				reason, detail = deniedExpiredKey, "The API key has expired."
			case errors.Is(err, apikeys.ErrRevoked):
				reason, detail = deniedRevokedKey, "The API key was revoked."
			case !errors.Is(err, apikeys.ErrInvalid):
				s.log.ErrorContext(r.Context(), "api key lookup failed", "err", err, "request_id", requestIDFrom(r.Context()))
				writeProblem(w, apiProblem{Type: problemType("internal"), Title: "Internal error", Status: http.StatusInternalServerError,
					Detail: "Reference " + requestIDFrom(r.Context()) + "."})
				return
			}
			if k.ID != 0 {
				extra["api_client_id"], extra["api_client"] = k.ID, k.Name
			}
			s.denied(r, reason, "route", r.Pattern, extra)
			unauthorized(w, detail)
			return
		}
		o, _ := audit.OriginFrom(r.Context())
		o.ActorID, o.ActorName, o.ActorRole = k.ActorID(), k.ActorName(), string(policy.APIKey)
		ctx := context.WithValue(audit.WithOrigin(r.Context(), o), keyCtx{}, k)
		r = r.WithContext(ctx)
		if wait, ok := s.apiRate.allow(k.ID, s.now()); !ok {
			s.denied(r, deniedRateLimit, "api_key", strconv.FormatInt(k.ID, 10), nil)
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			writeProblem(w, apiProblem{Type: problemType("rate-limited"), Title: "Too many requests", Status: http.StatusTooManyRequests,
				Detail: "This key made more than " + strconv.Itoa(s.apiRate.perMinute) + " requests in a minute; retry after the time in Retry-After."})
			return
		}
		if !s.policy.Permits(k.Policy(), a.action) {
			s.denied(r, deniedRole, "route", r.Pattern, map[string]any{"scopes": k.Scopes.String()})
			writeProblem(w, apiProblem{Type: problemType("forbidden"), Title: "Forbidden", Status: http.StatusForbidden,
				Detail: "This key's scopes (" + k.Scopes.String() + ") do not allow this."})
			return
		}
		if err := s.keys.RecordUse(ctx, k, r.Pattern); err != nil {
			s.log.ErrorContext(ctx, "recording an api key use failed", "err", err, "request_id", requestIDFrom(ctx))
			writeProblem(w, apiProblem{Type: problemType("internal"), Title: "Internal error", Status: http.StatusInternalServerError,
				Detail: "Reference " + requestIDFrom(ctx) + "."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// apiFallback answers /api/ requests no route took, as problems: 405 with
// Allow for a known path asked with another method, else 404.
func apiFallback(routes []route) http.Handler {
	allow := map[string][]string{}
	var paths []string
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		if strings.HasPrefix(path, "/api/") {
			if allow[path] == nil {
				paths = append(paths, path)
			}
			allow[path] = append(allow[path], method)
		}
	}
	m := http.NewServeMux()
	for _, path := range paths {
		methods := strings.Join(allow[path], ", ")
		m.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			writeProblem(w, apiProblem{Type: problemType("method-not-allowed"), Title: "Method not allowed",
				Status: http.StatusMethodNotAllowed, Detail: "This resource answers " + methods + "."})
		})
	}
	m.HandleFunc("/", handleAPINotFound)
	return m
}

// handleAPINotFound answers what /api/ has no route for.
func handleAPINotFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, apiProblem{Type: problemType("not-found"), Title: "Not found", Status: http.StatusNotFound,
		Detail: "No such API resource; see /api/v1/openapi.json."})
}

// rateLimiter is a token bucket per API key, in this process's memory:
// each instance counts on its own (the README says so).
type rateLimiter struct {
	perMinute int
	mu        sync.Mutex
	buckets   map[int64]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

func newRateLimiter(perMinute int) *rateLimiter {
	if perMinute <= 0 {
		perMinute = DefaultAPIRateLimit
	}
	return &rateLimiter{perMinute: perMinute, buckets: map[int64]*bucket{}}
}

// allow takes a token from key's bucket at now, or says how long until
// one is there.
func (l *rateLimiter) allow(key int64, now time.Time) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	limit := float64(l.perMinute)
	perSec := limit / 60
	b, ok := l.buckets[key]
	if !ok {
		b = &bucket{tokens: limit, at: now}
		l.buckets[key] = b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens = math.Min(limit, b.tokens+d.Seconds()*perSec)
		b.at = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait := time.Duration((1 - b.tokens) / perSec * float64(time.Second))
	return max(wait, time.Second), false
}

// handleOpenAPI serves GET /api/v1/openapi.json.
func handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	writeRawJSON(w, http.StatusOK, api.OpenAPI)
}
