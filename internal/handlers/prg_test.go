package handlers

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// Post/redirect/get: bulk approve and the pages that show a new one-time
// password answer a POST with a redirect, show their result once, and a
// reload repeats nothing.
func TestPostsRedirectAndShowResultsOnce(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	e.user("root", auth.RoleAdmin)
	staff, mgr, admin := e.login("staff1"), e.login("manager1"), e.login("root")
	id := strings.TrimPrefix(e.post(staff, "/refunds", refundForm(uuid.NewString(), "1.000")).header.Get("Location"), "/refunds/")

	missing := uuid.NewString()
	if q := e.get(mgr, "/approvals"); !strings.Contains(q.body, `href="/transactions?api=PG&amp;ref=240901101500HCMCAF" data-testid="queue-ref"`) {
		t.Errorf("the queue does not link each reference to its lookup")
	}
	r := e.post(mgr, "/approvals/bulk", url.Values{"id": {id, missing}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/approvals" {
		t.Fatalf("bulk approve: %d to %q", r.status, r.header.Get("Location"))
	}
	page := e.get(mgr, "/approvals")
	if !strings.Contains(page.body, "1 refund approved") || !strings.Contains(page.body, missing) {
		t.Errorf("results not shown after the redirect")
	}
	if again := e.get(mgr, "/approvals"); strings.Contains(again.body, "refund approved") {
		t.Errorf("results shown again on reload")
	}
	if n := e.auditCount("refund.approved"); n != 1 {
		t.Errorf("%d approvals audited, want 1", n)
	}

	r = e.post(admin, "/users", url.Values{"username": {"newbie"}, "display_name": {"New Bie"}, "role": {"staff"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/users/one-time-password" {
		t.Fatalf("add user: %d to %q", r.status, r.header.Get("Location"))
	}
	shown := e.get(admin, "/users/one-time-password")
	if shown.status != http.StatusOK || !strings.Contains(shown.body, "newbie") {
		t.Fatalf("one-time password page: %d", shown.status)
	}
	if again := e.get(admin, "/users/one-time-password"); again.status != http.StatusSeeOther || again.header.Get("Location") != "/users" {
		t.Errorf("one-time password shown twice: %d", again.status)
	}
	// Another admin's session never sees it.
	e.user("root2", auth.RoleAdmin)
	if other := e.get(e.login("root2"), "/users/one-time-password"); other.status != http.StatusSeeOther {
		t.Errorf("another session got %d", other.status)
	}
}
