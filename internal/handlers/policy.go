package handlers

// The handlers ask package policy who may do what (the route table, the
// pages' buttons and links, the list filters); the refunds domain asks the
// same rules again before it changes anything.

import (
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// policyActor is u as the policy reads them.
func policyActor(u auth.User) policy.Actor { return policy.Actor{ID: u.ID, Role: u.Role} }

// may reports whether u may use a part of the desk.
func (s *Server) may(u auth.User, a policy.Action) bool { return s.policy.Permits(policyActor(u), a) }

// mayOn reports whether u may do a to ref now.
func (s *Server) mayOn(u auth.User, a policy.Action, ref refunds.Refund) bool {
	return s.policy.Can(policyActor(u), a, ref.Subject())
}

// viewer is u for the templates, with the rules they show links by.
func (s *Server) viewer(u auth.User) templates.Viewer {
	return templates.Viewer{ID: u.ID, Username: u.Username, DisplayName: displayName(u), Role: u.Role, Policy: s.policy}
}
