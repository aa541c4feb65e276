package handlers

import (
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/compress"
	"github.com/neox-refund-desk/refunddesk/web/static"
)

// access says who may call a route.
type access int

const (
	public   access = iota // anyone, no session needed
	signedIn               // any signed-in user
	staffUp                // staff and managers: refund work
	managers               // managers only: approvals, audit
	admins                 // admins only: users
	webhook                // NeoX: no session, no CSRF check, verified by signature
)

// allows reports whether role may use a route guarded by a.
func (a access) allows(role auth.Role) bool {
	switch a {
	case public, signedIn, webhook:
		return true
	case staffUp:
		return role == auth.RoleStaff || role == auth.RoleManager
	case managers:
		return role == auth.RoleManager
	case admins:
		return role == auth.RoleAdmin
	}
	return false
}

type route struct {
	pattern string
	access  access
	handler http.HandlerFunc
}

// routes is the whole surface of the app. The role-matrix test is
// generated from this table, so a new route cannot be forgotten.
func (s *Server) routes() []route {
	return []route{
		// Probes and assets.
		{"GET /healthz", public, s.handleHealthz},
		{"GET /readyz", public, s.handleReadyz},
		{"GET /static/", public, static.Handler().ServeHTTP},
		{"GET /favicon.ico", public, handleFavicon},

		// Signing in and out.
		{"GET /login", public, s.handleLoginForm},
		{"POST /login", public, s.handleLogin},
		{"POST /logout", signedIn, s.handleLogout},
		{"POST /lang", public, s.handleSetLang},

		// Everyone signed in.
		{"GET /{$}", signedIn, s.handleHome},
		{"GET /account", signedIn, s.handleAccount},
		{"POST /account/password", signedIn, s.handleChangePassword},
		{"POST /account/signout-all", signedIn, s.handleSignOutAll},
		{"GET /account/session", signedIn, s.handleSessionLeft},
		{"POST /account/keepalive", signedIn, s.handleSessionLeft},
		{"POST /account/lang", signedIn, s.handleAccountLang},

		// Refund work: staff and managers.
		{"GET /transactions", staffUp, s.handleTransactions},
		{"GET /refunds/new", staffUp, s.handleRefundForm},
		{"POST /refunds", staffUp, s.handleRefundCreate},
		{"GET /refunds", staffUp, s.handleRefunds},
		{"GET /refunds/{id}", staffUp, s.handleRefund},
		{"GET /refunds/{id}/status", staffUp, s.handleRefundStatus},
		{"POST /refunds/{id}/cancel", staffUp, s.handleRefundCancel},

		// Managers: approvals.
		{"GET /approvals", managers, s.handleApprovals},
		{"POST /approvals/bulk", managers, s.handleApproveBulk},
		{"POST /refunds/{id}/approve", managers, s.handleRefundApprove},
		{"POST /refunds/{id}/reject", managers, s.handleRefundReject},

		// Managers: refunds that need a person, and the COL sweep's findings.
		{"GET /attention", managers, s.handleAttention},
		{"POST /refunds/{id}/resolve", managers, s.handleRefundResolve},

		// Managers: audit review.
		{"GET /audit", managers, s.handleAudit},
		{"GET /audit/events/{seq}", managers, s.handleAuditEvent},
		// Both change something (the export is audited, verify restarts a
		// full pass), so both are POST: behind the cross-origin check, never
		// run by a link, a prefetch or an <img> on another site.
		{"POST /audit/export.csv", managers, s.handleAuditExport},
		{"POST /audit/verify", managers, s.handleAuditVerify},

		// NeoX webhooks: their own chain, verified by signature.
		{"POST /webhooks/neox/pg", webhook, s.handleWebhookPG},
		{"POST /webhooks/neox/gc", webhook, s.handleWebhookGC},
		{"POST /webhooks/neox/col", webhook, s.handleWebhookCOL},

		// Admins: users.
		{"GET /users", admins, s.handleUsers},
		{"POST /users", admins, s.handleUserAdd},
		{"POST /users/{id}/disable", admins, s.handleUserDisable},
		{"POST /users/{id}/enable", admins, s.handleUserEnable},
		{"POST /users/{id}/reset-password", admins, s.handleUserResetPassword},
		{"POST /users/{id}/role", admins, s.handleUserRole},
	}
}

// Handler returns the complete HTTP handler with all middleware.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.denied(r, deniedCrossOrigin, "route", r.Pattern, map[string]any{
			"sec_fetch_site": truncate(r.Header.Get("Sec-Fetch-Site"), 32), "origin": truncate(r.Header.Get("Origin"), 200)})
		s.renderStatus(w, r, http.StatusForbidden, tr(r, "error.csrf_title"), tr(r, "error.csrf_text"))
	}))
	for _, rt := range s.routes() {
		var h http.Handler = rt.handler
		switch rt.access {
		case public:
			h = cop.Handler(h)
		case webhook:
			// Own chain: verified by signature, never behind session or CSRF checks.
		default:
			h = cop.Handler(s.requireAccess(rt.access, h))
		}
		mux.Handle(rt.pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderStatus(w, r, http.StatusNotFound, tr(r, "error.page_not_found_title"), tr(r, "error.page_not_found_text"))
	})
	return s.recoverPanics(s.requestID(s.accessLog(compress.Handler(securityHeaders(s.limitBody(s.language(s.originPolicy(s.readForm(takeFlash(mux))))))))))
}
