// Package handlers is the HTTP edge: routes, middleware, and one file per
// area. Handlers parse, validate, call the domain and render; errors are
// rendered once, by renderError.
package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"time"

	"github.com/a-h/templ"

	"github.com/neox-refund-desk/refunddesk/internal/apikeys"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/bulk"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/web/static"
)

// Deps are the server's explicit dependencies.
type Deps struct {
	DB    *store.DB
	Auth  *auth.Service
	Audit *audit.Log
	// Refunds is the refund domain; nil serves the foundation pages only.
	Refunds  *refunds.Service
	Webhooks WebhookSecrets
	Logger   *slog.Logger
	Now      func() time.Time
	// MaxBodyBytes bounds every request body; 0 means 1 MiB.
	MaxBodyBytes int64
	// BaseURL is the desk's public URL. With https, pages send HSTS and a
	// state-changing request must come from exactly that origin; "" checks
	// only what http.CrossOriginProtection checks.
	BaseURL string
	// TrustedProxies are the proxies (TRUSTED_PROXIES) whose
	// X-Forwarded-For is believed; see clientIP.
	TrustedProxies []netip.Prefix
	// Refusals rate-limits the audit rows of refused requests; nil makes
	// one with the defaults on the Audit log.
	Refusals *audit.Limiter
	// RefusalDelay is how long an anonymous source over its refusal budget
	// waits for each further refusal (see pace.go); 0 means 1 s, negative
	// never.
	RefusalDelay time.Duration
	// StepUp are the step-up limits for approvals (STEPUP_LIMITS,
	// STEPUP_WINDOW); none: approvals never ask for a code.
	StepUp policy.StepUp
	// Zone is the merchant's time zone (MERCHANT_TZ): pages show times in
	// it and "today" starts at its midnight; nil means UTC.
	Zone *time.Location
	// Observer hears about every request and webhook delivery (metrics);
	// nil: nobody, and no middleware for it.
	Observer Observer
	// APIKeys issues and checks the keys of /api/v1; nil: the API answers
	// 503 and the keys page is empty.
	APIKeys *apikeys.Service
	// APIRateLimit is /api/v1 requests per minute per key (API_RATE_LIMIT);
	// 0 means DefaultAPIRateLimit.
	APIRateLimit int
	// Notify are the notification preferences and webhook endpoints; nil
	// hides their pages. EmailOn says SMTP is configured.
	Notify  *notify.Settings
	EmailOn bool
	// BulkLookups is how many rows of uploaded files are checked at once
	// in the background (BULK_LOOKUP_CONCURRENCY); 0 means
	// bulk.DefaultLookups. RunBackground runs the checks.
	BulkLookups int
}

// Server serves the web UI, health checks and webhooks.
type Server struct {
	db      *store.DB
	auth    *auth.Service
	audit   *audit.Log
	log     *slog.Logger
	now     func() time.Time
	maxBody int64
	origin  *url.URL // scheme and host of Deps.BaseURL; nil when not set
	chain   chainCache
	ready   readiness
	obs     Observer
	dash    reused[refunds.Dashboard]
	actors  reused[[]string]
	refunds *refunds.Service
	hooks   WebhookSecrets
	proxies []netip.Prefix
	refused *audit.Limiter
	pace    *pacer
	zone    *time.Location
	// policy decides who may do what: the refunds service's rules when
	// there is one, so pages and domain never disagree.
	policy policy.Policy
	stepUp policy.StepUp

	// The refunds API (api.go): its keys and their per-key rate limit.
	keys    *apikeys.Service
	apiRate *rateLimiter
	notify  *notify.Settings
	emailOn bool
	bulk    *bulk.Service // bulk refunds from a file, over refunds
}

// New builds a Server from its dependencies.
func New(d Deps) *Server {
	s := &Server{db: d.DB, auth: d.Auth, audit: d.Audit, log: d.Logger, now: d.Now, maxBody: d.MaxBodyBytes,
		refunds: d.Refunds, hooks: d.Webhooks, proxies: d.TrustedProxies, refused: d.Refusals, zone: d.Zone, stepUp: d.StepUp,
		obs: d.Observer, keys: d.APIKeys, apiRate: newRateLimiter(d.APIRateLimit), notify: d.Notify, emailOn: d.EmailOn}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.zone == nil {
		s.zone = time.UTC
	}
	s.ready.started = s.now()
	if s.maxBody <= 0 {
		s.maxBody = 1 << 20
	}
	if u, err := url.Parse(d.BaseURL); err == nil && u.Host != "" {
		s.origin = &url.URL{Scheme: u.Scheme, Host: u.Host}
	}
	if d.RefusalDelay == 0 {
		d.RefusalDelay = defaultRefusalDelay
	}
	s.pace = newPacer(d.RefusalDelay, s.now)
	if s.refunds != nil {
		s.policy = s.refunds.Policy()
	}
	if s.refunds != nil && s.audit != nil {
		s.bulk = bulk.New(s.db, s.refunds, s.audit, s.policy, s.now, bulk.CheckOptions{Lookups: d.BulkLookups,
			Sole: !s.db.Postgres(), Texts: s.rowTextIn, Logger: s.log.With("component", "bulk")})
	}
	if s.refused == nil && s.audit != nil {
		s.refused = audit.NewLimiter(s.audit, audit.LimiterOptions{})
	}
	return s
}

// RunBackground runs the server's background work until ctx is done: the
// check of uploaded refund files (bulk.Service.Run), and ends an audit
// chain pass a page started (chainCache.stop). It returns once both have
// stopped.
func (s *Server) RunBackground(ctx context.Context) error {
	// A full audit chain pass a page started also ends with the rest.
	defer s.chain.stop()
	if s.bulk == nil {
		<-ctx.Done()
		return nil
	}
	return s.bulk.Run(ctx)
}

// render writes a templ component with status, rendering into a buffer
// first so a failing render still produces a clean 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(r.Context(), &buf); err != nil {
		s.log.ErrorContext(r.Context(), "render failed", "err", err, "path", r.URL.Path)
		http.Error(w, "Internal Server Error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// redirect answers a form post: HX-Redirect for htmx, 303 otherwise.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	if r.Header.Get("HX-Request") == "true" {
		w.Header().Set("HX-Redirect", to)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// handleHealthz serves GET /healthz: the process is up.
func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// handleFavicon serves GET /favicon.ico (browsers ask for it by that name).
func handleFavicon(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, static.URL("favicon.svg"), http.StatusMovedPermanently)
}
