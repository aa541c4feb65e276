package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestRoleMatrix walks the route table itself, so a new route is covered
// the moment it is added: every route × anonymous/staff/manager/admin.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	e.user("admin1", auth.RoleAdmin)
	target := e.user("target", auth.RoleStaff)
	srv := New(Deps{DB: e.db, Auth: e.auth, Refunds: e.refunds})
	roles := []struct {
		name string
		role auth.Role
	}{{"anonymous", ""}, {"staff", auth.RoleStaff}, {"manager", auth.RoleManager}, {"admin", auth.RoleAdmin}}
	for _, rt := range srv.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		path = strings.NewReplacer("{$}", "", "{id}", itoa(target.ID), "{seq}", "1").Replace(path)
		if strings.HasSuffix(path, "/") && path != "/" {
			path += "css/app.css"
		}
		for _, who := range roles {
			t.Run(rt.pattern+"/"+who.name, func(t *testing.T) {
				c := e.client()
				if who.role != "" {
					c = e.login(string(who.role) + "1")
				}
				r := e.do(c, method, path, url.Values{}, nil)
				// The auth gate sends to "/login" or "/login?next=…"; handlers that
				// sign out also land on "/login", but leave a flash, which the
				// gate never does: that is not a refusal.
				loc := r.header.Get("Location")
				toLogin := r.status == http.StatusSeeOther && (loc == "/login" || strings.HasPrefix(loc, "/login?next=")) &&
					!strings.Contains(strings.Join(r.header.Values("Set-Cookie"), "\n"), flashCookie+"=")
				// A form posted without a session gets the sign-in page in
				// place, keeping what was typed (keep.go).
				toLogin = toLogin || r.status == http.StatusUnauthorized && strings.Contains(r.body, `data-testid="session-expired"`)
				switch {
				case rt.access.kind == kindAPI:
					// Bearer keys only: a session of any role is nobody here.
					if r.status != http.StatusUnauthorized {
						t.Errorf("API route with a session: status %d, want 401", r.status)
					}
				case rt.access == public || rt.access == webhook:
					if r.status == http.StatusForbidden || toLogin {
						t.Errorf("public route refused: %d", r.status)
					}
				case who.role == "":
					if !toLogin {
						t.Errorf("anonymous: status %d location %q, want redirect to /login", r.status, loc)
					}
				case rt.access.allows(srv.policy, who.role):
					if r.status == http.StatusForbidden || toLogin || r.status >= 500 {
						t.Errorf("allowed role refused: status %d", r.status)
					}
				default:
					if r.status != http.StatusForbidden {
						t.Errorf("status %d, want 403", r.status)
					}
				}
			})
		}
	}
}
