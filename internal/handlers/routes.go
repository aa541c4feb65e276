package handlers

import (
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/compress"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/web/static"
)

// access says who may call a route: anyone, anyone signed in, NeoX, or a
// signed-in user whose role the policy permits the route's action.
type access struct {
	kind   accessKind
	action policy.Action // for kind gated
}

type accessKind int

const (
	kindPublic   accessKind = iota // anyone, no session needed
	kindSignedIn                   // any signed-in user
	kindGated                      // signed in, and the policy permits the action
	kindWebhook                    // NeoX: no session, no CSRF check, verified by signature
	kindAPI                        // /api/v1: an API key whose scopes the policy permits the action; no session, no CSRF check
)

var (
	public   = access{kind: kindPublic}
	signedIn = access{kind: kindSignedIn}
	webhook  = access{kind: kindWebhook}
)

// may guards a route with a policy action: the user's role must be
// permitted it (the handler asks again about the refund it names).
func may(a policy.Action) access { return access{kind: kindGated, action: a} }

// allows reports whether a user with role may use a route guarded by a.
func (a access) allows(p policy.Policy, role policy.Role) bool {
	switch a.kind {
	case kindPublic, kindSignedIn, kindWebhook:
		return true
	case kindGated:
		return p.Permits(policy.Actor{Role: role}, a.action)
	case kindAPI:
		return false // a session never authenticates the API, whatever its role
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
	rs := []route{
		// Probes and assets.
		{"GET /healthz", public, s.handleHealthz},
		{"GET /readyz", public, s.handleReadyz},
		{"GET /static/", public, static.Handler().ServeHTTP},
		{"GET /favicon.ico", public, handleFavicon},

		// Signing in and out.
		{"GET /login", public, s.handleLoginForm},
		{"POST /login", public, s.handleLogin},
		{"GET /login/code", public, s.handleLoginCodeForm},
		{"POST /login/code", public, s.handleLoginCode},
		{"POST /login/key/begin", public, s.handleLoginKeyBegin},
		{"POST /login/key/finish", public, s.handleLoginKeyFinish},
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
		{"POST /account/notifications", signedIn, s.handleNotifyPrefs},
		{"POST /account/2fa/start", signedIn, s.handleTOTPStart},
		{"GET /account/2fa/qr.png", signedIn, s.handleTOTPQR},
		{"POST /account/2fa/confirm", signedIn, s.handleTOTPConfirm},
		{"POST /account/2fa/disable", signedIn, s.handleTOTPDisable},
		{"GET /account/2fa/link", signedIn, s.handleEnrolLinkForm},
		{"POST /account/2fa/link", signedIn, s.handleEnrolLink},
		{"POST /account/2fa/key/begin", signedIn, s.handleKeyRegisterBegin},
		{"POST /account/2fa/key/finish", signedIn, s.handleKeyRegisterFinish},
		{"POST /account/2fa/key/remove", signedIn, s.handleKeyRemove},

		// Refund work: staff and managers (the policy says who may, here and
		// again about the refund a handler reads).
		{"GET /transactions", may(policy.RefundWork), s.handleTransactions},
		{"GET /refunds/new", may(policy.Request), s.handleRefundForm},
		{"POST /refunds", may(policy.Request), s.handleRefundCreate},
		{"GET /refunds/export.csv", may(policy.RefundWork), s.handleRefundsExport},
		{"GET /refunds", may(policy.RefundWork), s.handleRefunds},
		{"GET /refunds/{id}", may(policy.View), s.handleRefund},
		{"GET /refunds/{id}/status", may(policy.View), s.handleRefundStatus},
		{"POST /refunds/{id}/cancel", may(policy.Cancel), s.handleRefundCancel},

		// Bulk refunds from a file: each uploader sees and submits their own
		// batches; the refunds then go through the approvals queue.
		{"GET /batches", may(policy.BulkRequest), s.handleBatches},
		{"POST /batches", may(policy.BulkRequest), s.handleBatchUpload},
		{"GET /batches/{id}", may(policy.BulkRequest), s.handleBatch},
		{"GET /batches/{id}/progress", may(policy.BulkRequest), s.handleBatchProgress},
		{"POST /batches/{id}/cancel", may(policy.BulkRequest), s.handleBatchCancel},
		{"POST /batches/{id}/submit", may(policy.BulkRequest), s.handleBatchSubmit},
		{"GET /batches/{id}/results.csv", may(policy.BulkRequest), s.handleBatchResults},

		// Managers: approvals.
		{"GET /approvals", may(policy.ViewApprovals), s.handleApprovals},
		{"POST /approvals/bulk", may(policy.Approve), s.handleApproveBulk},
		{"POST /approvals/stepup/key/begin", may(policy.Approve), s.handleStepUpKeyBegin},
		{"POST /refunds/{id}/approve", may(policy.Approve), s.handleRefundApprove},
		{"POST /refunds/{id}/reject", may(policy.Reject), s.handleRefundReject},

		// Managers: refunds that need a person, and the COL sweep's findings.
		{"GET /attention", may(policy.ViewAttention), s.handleAttention},
		{"POST /refunds/{id}/resolve", may(policy.Resolve), s.handleRefundResolve},

		// Managers: audit review.
		{"GET /audit", may(policy.ViewAudit), s.handleAudit},
		{"GET /audit/events/{seq}", may(policy.ViewAudit), s.handleAuditEvent},
		{"GET /audit/chain", may(policy.ViewAudit), s.handleAuditChain},
		// Both change something (the export is audited, verify restarts a
		// full pass), so both are POST: behind the cross-origin check, never
		// run by a link, a prefetch or an <img> on another site.
		{"POST /audit/export.csv", may(policy.Export), s.handleAuditExport},
		{"POST /audit/verify", may(policy.ViewAudit), s.handleAuditVerify},

		// Admins: users.
		{"GET /users", may(policy.ManageUsers), s.handleUsers},
		{"GET /users/one-time-password", may(policy.ManageUsers), s.handleOneTimePassword},
		{"POST /users", may(policy.ManageUsers), s.handleUserAdd},
		{"POST /users/{id}/disable", may(policy.ManageUsers), s.handleUserDisable},
		{"POST /users/{id}/enable", may(policy.ManageUsers), s.handleUserEnable},
		{"POST /users/{id}/reset-password", may(policy.ManageUsers), s.handleUserResetPassword},
		{"POST /users/{id}/role", may(policy.ManageUsers), s.handleUserRole},
		{"GET /users/second-factor", may(policy.ManageUsers), s.handleSecondFactorAdmin},
		{"POST /users/second-factor", may(policy.ManageUsers), s.handleSecondFactorPolicy},
		{"POST /users/{id}/reset-2fa", may(policy.ManageUsers), s.handleUserResetSecondFactor},
		{"POST /users/{id}/enrol-link", may(policy.ManageUsers), s.handleUserEnrolLink},

		// Admins: API keys for the merchant's own systems.
		{"GET /settings/api-keys", may(policy.ManageAPIKeys), s.handleAPIKeys},
		{"POST /settings/api-keys", may(policy.ManageAPIKeys), s.handleAPIKeyCreate},
		{"POST /settings/api-keys/{id}/revoke", may(policy.ManageAPIKeys), s.handleAPIKeyRevoke},

		// The refunds API: bearer API keys only (api.go), its own chain.
		// Documented in api/openapi.json; openapi_test.go checks the two agree.
		{"GET /api/v1/openapi.json", public, handleOpenAPI},
		{"POST /api/v1/refunds", apiKey(policy.Request), s.handleAPIRefundCreate},
		{"GET /api/v1/refunds", apiKey(policy.RefundWork), s.handleAPIRefunds},
		{"GET /api/v1/refunds/{id}", apiKey(policy.View), s.handleAPIRefund},

		// Admins: the approval policy (each change a new version).
		{"GET /settings/approvals", may(policy.ManageApprovalPolicy), s.handleApprovalPolicy},
		{"POST /settings/approvals/rules", may(policy.ManageApprovalPolicy), s.handlePolicyRule},
		{"POST /settings/approvals/rules/remove", may(policy.ManageApprovalPolicy), s.handlePolicyRuleRemove},
		{"POST /settings/approvals/limits", may(policy.ManageApprovalPolicy), s.handlePolicyLimit},
		{"POST /settings/approvals/limits/remove", may(policy.ManageApprovalPolicy), s.handlePolicyLimitRemove},

		// Admins: outbound webhooks; managers and admins: what was sent.
		{"GET /settings/webhooks", may(policy.ManageWebhooks), s.handleWebhooks},
		{"POST /settings/webhooks", may(policy.ManageWebhooks), s.handleWebhookAdd},
		{"POST /settings/webhooks/{id}/remove", may(policy.ManageWebhooks), s.handleWebhookRemove},
		{"GET /notifications/deliveries", may(policy.ViewDeliveries), s.handleDeliveries},
	}
	// NeoX webhooks, one endpoint per product: their own chain, verified
	// by signature.
	return append(rs, s.webhookRoutes()...)
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
		switch rt.access.kind {
		case kindPublic:
			h = cop.Handler(h)
		case kindWebhook:
			// Own chain: verified by signature, never behind session or CSRF checks.
		case kindAPI:
			// Own chain: a bearer key, never a session, so no CSRF check.
			h = s.requireKey(rt.access, h)
		default:
			h = cop.Handler(s.requireAccess(rt.access, h))
		}
		mux.Handle(rt.pattern, s.noteRoute(rt.pattern, h))
	}
	mux.Handle("/api/", apiFallback(s.routes()))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.renderStatus(w, r, http.StatusNotFound, tr(r, "error.page_not_found_title"), tr(r, "error.page_not_found_text"))
	})
	return s.observe(s.recoverPanics(s.requestID(s.accessLog(compress.Handler(securityHeaders(s.limitBody(s.language(s.originPolicy(s.readForm(takeFlash(mux)))))))))))
}
