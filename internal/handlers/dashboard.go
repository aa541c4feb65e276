package handlers

import (
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
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
	view := templates.DashboardView{Role: string(u.Role)}
	if s.refunds != nil && (u.Role == auth.RoleStaff || u.Role == auth.RoleManager) {
		var d refunds.Dashboard
		var err error
		if u.Role == auth.RoleStaff {
			d, err = s.refunds.Dashboard(r.Context(), refunds.DashboardQuery{Now: s.now(), Zone: s.zone, RequestedBy: u.ID})
		} else {
			d, err = s.managerDashboard(r)
		}
		if err != nil {
			s.renderError(w, r, err)
			return
		}
		view = templates.NewDashboardView(r.Context(), string(u.Role), d)
	}
	s.render(w, r, http.StatusOK, templates.HomePage(s.page(r, "dash.title", "home"), view))
}
