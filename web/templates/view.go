// Package templates holds the templ components that render every page.
// View types here keep the templates independent of domain packages.
package templates

import "github.com/neox-refund-desk/refunddesk/web/static"

// Viewer is the signed-in user as the layout needs it.
type Viewer struct {
	ID          int64
	Username    string
	DisplayName string
	Role        string
}

// Page carries what every full page needs.
type Page struct {
	Title  string
	Active string  // nav key of the current section
	Viewer *Viewer // nil when signed out
	Flash  *Flash
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

// Nav lists the sections the viewer's role may open.
func Nav(v *Viewer) []NavItem {
	if v == nil {
		return nil
	}
	items := []NavItem{{"home", "Dashboard", "/"}}
	switch v.Role {
	case "staff":
		items = append(items, NavItem{"transactions", "Transactions", "/transactions"}, NavItem{"refunds", "Refunds", "/refunds"})
	case "manager":
		items = append(items, NavItem{"transactions", "Transactions", "/transactions"}, NavItem{"refunds", "Refunds", "/refunds"},
			NavItem{"approvals", "Approvals", "/approvals"}, NavItem{"audit", "Audit", "/audit"})
	case "admin":
		items = append(items, NavItem{"users", "Users", "/users"})
	}
	return append(items, NavItem{"account", "Account", "/account"})
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
