package handlers

import (
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/web/templates"
)

// managerDashboard returns the managers' figures, at most
// managerDashboardTTL old.
func (s *Server) managerDashboard(r *http.Request) (refunds.Dashboard, error) {
	now := s.now()
	return s.dash.get(now, managerDashboardTTL, func() (refunds.Dashboard, error) {
		return s.refunds.Dashboard(r.Context(), refunds.DashboardQuery{Now: now, Zone: s.zone})
	})
}

// handleHome serves GET /: the dashboard for the viewer's role.
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	u, _ := userFrom(r.Context())
	var view templates.DashboardView
	if s.refunds != nil && s.may(u, policy.RefundWork) {
		var d refunds.Dashboard
		var err error
		whole := s.may(u, policy.ViewAll)
		if whole {
			d, err = s.managerDashboard(r)
		} else {
			d, err = s.refunds.Dashboard(r.Context(), refunds.DashboardQuery{Now: s.now(), Zone: s.zone, RequestedBy: u.ID})
		}
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		view = templates.NewDashboardView(r.Context(), whole, d)
	}
	s.render(w, r, http.StatusOK, templates.HomePage(s.page(r, "dash.title", "home"), view))
}
