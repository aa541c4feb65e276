package handlers

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// deniedRows counts access.denied rows with reason, by actor and target.
func (e *env) deniedRows(reason, actor, target string) int {
	e.t.Helper()
	return e.count(`SELECT count(*) FROM audit_events WHERE action = 'access.denied' AND outcome = 'denied'
		AND json_extract(details, '$.reason') = ? AND actor_name = ? AND target_id = ?`, reason, actor, target)
}

func (e *env) pendingRefund(maker auth.User) refunds.Refund {
	e.t.Helper()
	r, err := e.refunds.Create(context.Background(), refunds.Actor{ID: maker.ID, Name: maker.Username, Role: maker.Role},
		refunds.NewRequest{API: refunds.APIPG, TransactionRef: "240901101500HCMCAF", PaymentID: "1440001", Amount: 10000,
			ReasonCode: "other", ReasonText: "test", IdempotencyKey: uuid.NewString()})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// Issue 12, the small holes: every refused attempt leaves an access.denied
// row naming who, what and why.
func TestRefusedAttemptsAreAudited(t *testing.T) {
	e := newEnv(t)
	staff1 := e.user("staff1", auth.RoleStaff)
	e.user("staff2", auth.RoleStaff)
	mgr1 := e.user("manager1", auth.RoleManager)
	e.user("manager2", auth.RoleManager)
	s1, s2, m1, m2 := e.login("staff1"), e.login("staff2"), e.login("manager1"), e.login("manager2")
	theirs := e.pendingRefund(staff1)
	own := e.pendingRefund(mgr1)
	own2 := e.pendingRefund(mgr1)

	steps := []struct {
		name                  string
		do                    func() result
		status                int
		reason, actor, target string
	}{
		{"role: staff opens the approvals", func() result { return e.get(s1, "/approvals") }, http.StatusForbidden,
			deniedRole, "staff1", "GET /approvals"},
		{"cross-origin form post", func() result {
			return e.do(s1, http.MethodPost, "/refunds/"+theirs.ID+"/cancel", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site"})
		}, http.StatusForbidden, deniedCrossOrigin, "anonymous", "POST /refunds/{id}/cancel"},
		{"staff opens another user's refund", func() result { return e.get(s2, "/refunds/"+theirs.ID) }, http.StatusForbidden,
			deniedNotOwner, "staff2", theirs.ID},
		{"staff cancels another user's refund", func() result { return e.post(s2, "/refunds/"+theirs.ID+"/cancel", url.Values{}) },
			http.StatusForbidden, deniedNotOwner, "staff2", theirs.ID},
		{"self-approval", func() result { return e.post(m1, "/refunds/"+own.ID+"/approve", url.Values{}) }, http.StatusForbidden,
			deniedSelfApproval, "manager1", own.ID},
		{"self-approval in bulk", func() result { return e.post(m1, "/approvals/bulk", url.Values{"id": {own2.ID}}) }, http.StatusSeeOther,
			deniedSelfApproval, "manager1", own2.ID},
		{"409: deciding what was decided", func() result {
			if r := e.post(m2, "/refunds/"+theirs.ID+"/approve", url.Values{}); r.status != http.StatusSeeOther {
				t.Fatalf("first approval: %d", r.status)
			}
			return e.post(m1, "/refunds/"+theirs.ID+"/reject", url.Values{"note": {"too late"}})
		}, http.StatusConflict, deniedConflict, "manager1", theirs.ID},
		{"409 in bulk", func() result { return e.post(m1, "/approvals/bulk", url.Values{"id": {theirs.ID}}) }, http.StatusSeeOther,
			deniedConflict, "manager1", theirs.ID},
	}
	for _, st := range steps {
		before := e.deniedRows(st.reason, st.actor, st.target)
		if r := st.do(); r.status != st.status {
			t.Fatalf("%s: status %d, want %d", st.name, r.status, st.status)
		}
		if after := e.deniedRows(st.reason, st.actor, st.target); after != before+1 {
			t.Errorf("%s: %d new access.denied rows (reason %s, actor %s, target %s), want 1", st.name, after-before, st.reason, st.actor, st.target)
		}
	}
	// A refused request changed nothing it was refused for.
	if got, _ := e.refunds.Get(context.Background(), own.ID); got.Approval != "PENDING" {
		t.Errorf("self-approved refund is %s", got.Approval)
	}
}

// A signed-in user repeating a refused request cannot grow the trail
// without bound either: the same limiter applies.
func TestRepeatedRefusalsAreLimited(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	for range 50 {
		if r := e.get(c, "/audit"); r.status != http.StatusForbidden {
			t.Fatalf("status %d", r.status)
		}
	}
	if n := e.auditCount("access.denied"); n != 5 {
		t.Fatalf("%d access.denied rows for 50 refusals in one window, want 5 (the limiter's PerSource)", n)
	}
	e.clock.Advance(61 * 1e9)
	if err := e.refused.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT json_extract(details, '$.count') FROM audit_events WHERE action = 'access.denied' AND json_extract(details, '$.aggregate')`); n != 45 {
		t.Fatalf("aggregate count %d, want 45", n)
	}
}
