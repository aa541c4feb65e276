// Package templates holds the templ components that render every page.
// Templates decide nothing about permissions: what a viewer may see and do
// comes from package policy, as booleans in the view types or through
// Viewer.May and Viewer.MayOn.
package templates

import (
	"context"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/static"
)

// Viewer is the signed-in user as the layout needs it.
type Viewer struct {
	ID          int64
	Username    string
	DisplayName string
	Role        policy.Role // named in the header; what it may do is the policy's answer
	// Policy is the rules the handlers apply: navigation, panels and links
	// show only what the viewer may open.
	Policy policy.Policy
}

// May reports whether the viewer may use a part of the desk.
func (v Viewer) May(a policy.Action) bool {
	return v.Policy.Permits(policy.Actor{ID: v.ID, Role: v.Role}, a)
}

// MayOn reports whether the viewer may do a to refund r.
func (v Viewer) MayOn(a policy.Action, r refunds.Refund) bool {
	return v.Policy.Can(policy.Actor{ID: v.ID, Role: v.Role}, a, r.Subject())
}

// Page carries what every full page needs.
type Page struct {
	Title  string
	Active string  // nav key of the current section
	Viewer *Viewer // nil when signed out
	Flash  *Flash
	Path   string // this page's local URL, where the language switch comes back to
	// Outages are the NeoX operations the refund worker cannot reach now,
	// shown to staff and managers on every page.
	Outages []Outage
	// Signing is set while NeoX PG refuses the desk's signature (code 98),
	// shown to staff and managers on every page.
	Signing *SigningNotice
	// IdleLeft is how many seconds the session has left without activity;
	// the page warns a minute before (js/app.js).
	IdleLeft int
	// Back is the page of this site the person came from (Referer), which
	// an error page offers as the way back.
	Back string
}

// SigningNotice says that NeoX PG refuses the desk's request signature.
type SigningNotice struct {
	Since   time.Time
	Message string // NeoX's message, verbatim
}

// Outage is one NeoX operation that stopped answering.
type Outage struct {
	API, Op   string
	Since     time.Time
	Failures  int
	LastError string
}

// Flash is a one-line message shown at the top of a page.
type Flash struct {
	Kind string // ok, error, info
	Text string
}

// NavItem is one entry of the role-based navigation.
type NavItem struct {
	Key, Label, Href string
}

// Nav lists the sections the viewer's role may open, labelled in ctx's
// language.
func Nav(ctx context.Context, v *Viewer) []NavItem {
	if v == nil {
		return nil
	}
	items := []NavItem{{"home", tr(ctx, "nav.home"), "/"}}
	if v.May(policy.RefundWork) {
		items = append(items, NavItem{"transactions", tr(ctx, "nav.transactions"), "/transactions"},
			NavItem{"refunds", tr(ctx, "nav.refunds"), "/refunds"})
	}
	if v.May(policy.BulkRequest) {
		items = append(items, NavItem{"batches", tr(ctx, "nav.batches"), "/batches"})
	}
	for _, it := range []struct {
		action          policy.Action
		key, label, url string
	}{
		{policy.ViewApprovals, "approvals", "nav.approvals", "/approvals"},
		{policy.ViewAttention, "attention", "nav.attention", "/attention"},
		{policy.ViewAudit, "audit", "nav.audit", "/audit"},
		{policy.ManageUsers, "users", "nav.users", "/users"},
		{policy.ManageApprovalPolicy, "approval_policy", "nav.approval_policy", "/settings/approvals"},
		{policy.ManageAPIKeys, "api_keys", "nav.api_keys", "/settings/api-keys"},
		{policy.ManageWebhooks, "webhooks", "nav.webhooks", "/settings/webhooks"},
	} {
		if v.May(it.action) {
			items = append(items, NavItem{it.key, tr(ctx, it.label), it.url})
		}
	}
	return append(items, NavItem{"account", tr(ctx, "nav.account"), "/account"})
}

// RoleLabel names a role in ctx's language.
func RoleLabel(ctx context.Context, role policy.Role) string {
	if role.Valid() {
		return tr(ctx, "role."+string(role))
	}
	return string(role)
}

func asset(name string) string { return static.URL(name) }

// FieldErrors maps a form field name to its message.
type FieldErrors map[string]string

func invalid(errs FieldErrors, field string) string {
	if _, ok := errs[field]; ok {
		return "true"
	}
	return "false"
}
