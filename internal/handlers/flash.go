package handlers

import (
	"context"
	"net/http"
	"strings"

	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// flashCookie carries the name of one message from a redirect to the page
// it lands on. It lives in a cookie rather than the URL so a copied or
// bookmarked link does not repeat "Refund approved" to whoever opens it, and
// rather than the session so it survives signing out.
const flashCookie = "rd_flash"

// flashes are the fixed messages a redirect may leave, so a crafted cookie
// cannot put arbitrary text on a page. Values are message keys.
var flashes = map[string]string{
	"password-changed":      "flash.password_changed",
	"user-disabled":         "flash.user_disabled",
	"user-enabled":          "flash.user_enabled",
	"role-changed":          "flash.role_changed",
	"signed-out":            "flash.signed_out",
	"signed-out-everywhere": "flash.signed_out_everywhere",
	"refund-requested":      "flash.refund_requested",
	"refund-approved":       "flash.refund_approved",
	"refund-approval-given": "flash.refund_approval_given",
	"policy-saved":          "flash.policy_saved",
	"refund-rejected":       "flash.refund_rejected",
	"refund-cancelled":      "flash.refund_cancelled",
	"refund-resolved":       "flash.refund_resolved",
	"sign-in-again":         "flash.sign_in_again",
	"recovery-code-used":    "flash.recovery_code_used",
	"mfa-disabled":          "flash.mfa_disabled",
	"mfa-reset":             "flash.mfa_reset",
	"mfa-policy-saved":      "flash.mfa_policy_saved",
	"mfa-key-added":         "flash.mfa_key_added",
	"mfa-key-removed":       "flash.mfa_key_removed",
	"api-key-revoked":       "flash.api_key_revoked",
	"notify-saved":          "notify.prefs.saved",
	"endpoint-removed":      "notify.hooks.removed",
}

// redirectFlash redirects to `to` and leaves the named message for the next
// page shown. A minute is plenty for the browser to follow the redirect.
func redirectFlash(w http.ResponseWriter, r *http.Request, to, name string) {
	setFlash(w, r, name)
	redirect(w, r, to)
}

// setFlash leaves the named message for the next page shown (a script
// that navigates itself, after a JSON answer).
func setFlash(w http.ResponseWriter, r *http.Request, name string) {
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: name, Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
}

// takeFlash hands a waiting flash to the first full page load and expires
// the cookie in the same response, so a reload shows the page without it.
// htmx fragments, assets and webhooks leave it for the page.
func takeFlash(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(flashCookie)
		if err != nil || r.Method != http.MethodGet || r.Header.Get("HX-Request") == "true" ||
			strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/favicon.ico" {
			next.ServeHTTP(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil})
		if key, ok := flashes[c.Value]; ok {
			r = r.WithContext(context.WithValue(r.Context(), keyFlash, key))
		}
		next.ServeHTTP(w, r)
	})
}

// flashFrom returns the message taken for this page, if any.
func flashFrom(r *http.Request) *templates.Flash {
	key, ok := r.Context().Value(keyFlash).(string)
	if !ok {
		return nil
	}
	return &templates.Flash{Kind: "ok", Text: tr(r, key)}
}
