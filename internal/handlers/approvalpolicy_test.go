package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// policyForm posts to the approval policy page against version v.
func policyForm(v int, kv ...string) url.Values {
	f := url.Values{"version": {strconv.Itoa(v)}}
	for i := 0; i+1 < len(kv); i += 2 {
		f.Set(kv[i], kv[i+1])
	}
	return f
}

func wantStatus(t *testing.T, what string, r result, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d: %.400s", what, r.status, status, r.body)
	}
}

// TestApprovalPolicyPage: admins set rules (presets included) and limits,
// each change a new audited version; a stale page changes nothing; bad
// input is refused with its reason.
func TestApprovalPolicyPage(t *testing.T) {
	e := newEnv(t)
	e.user("admin1", auth.RoleAdmin)
	m := e.user("manager1", auth.RoleManager)
	c := e.login("admin1")
	page := e.get(c, "/settings/approvals")
	wantStatus(t, "page", page, http.StatusOK)
	if !strings.Contains(page.body, `data-testid="preset-5000000"`) || !strings.Contains(page.body, "1.500.000.000 ₫") {
		t.Fatalf("presets missing: %.600s", page.body)
	}
	wantStatus(t, "preset", e.post(c, "/settings/approvals/rules", policyForm(0, "currency", "VND", "dual_above", "5000000")), http.StatusSeeOther)
	wantStatus(t, "limit", e.post(c, "/settings/approvals/limits", policyForm(1, "user", strconv.FormatInt(m.ID, 10),
		"currency", "usd", "up_to", "250.50")), http.StatusSeeOther)
	wantStatus(t, "stale page", e.post(c, "/settings/approvals/rules", policyForm(1, "currency", "EUR", "dual_above", "10")), http.StatusConflict)
	for _, tt := range []struct {
		name string
		form url.Values
		text string
	}{
		{"bad currency", policyForm(2, "currency", "dong", "dual_above", "1"), "three-letter currency code"},
		{"decimals in VND", policyForm(2, "currency", "VND", "dual_above", "1,5"), "VND amounts have no decimals"},
		{"too many decimals", policyForm(2, "currency", "USD", "dual_above", "1.505"), "at most 2 decimals"},
		{"floor above threshold", policyForm(2, "currency", "VND", "auto_up_to", "200", "dual_above", "100"), "below the two-approver threshold"},
	} {
		r := e.post(c, "/settings/approvals/rules", tt.form)
		wantStatus(t, tt.name, r, http.StatusUnprocessableEntity)
		if !strings.Contains(r.body, tt.text) {
			t.Errorf("%s: message missing %q", tt.name, tt.text)
		}
	}
	page = e.get(c, "/settings/approvals")
	for _, want := range []string{`data-testid="policy-version"`, `data-testid="rule-VND-"`, "5.000.000 ₫",
		`data-testid="limit-` + strconv.FormatInt(m.ID, 10) + `-USD"`, "USD 250.50"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := e.count(`SELECT count(*) FROM approval_policy_versions`); n != 2 {
		t.Errorf("%d versions stored, want 2", n)
	}
	if n := e.auditCount("approval_policy.changed"); n != 2 {
		t.Errorf("%d changes audited, want 2", n)
	}
	// Managers may not change it.
	mc := e.login("manager1")
	wantStatus(t, "manager", e.post(mc, "/settings/approvals/rules", policyForm(2, "currency", "VND")), http.StatusForbidden)
}

// TestTwoApproversOverHTTP: above the threshold the first approval leaves
// the refund pending and says so; the first approver cannot give the
// second; the second approver sees the first's decision and completes it.
func TestTwoApproversOverHTTP(t *testing.T) {
	e := newEnv(t)
	e.user("admin1", auth.RoleAdmin)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	e.user("manager2", auth.RoleManager)
	wantStatus(t, "rule", e.post(e.login("admin1"), "/settings/approvals/rules",
		policyForm(0, "currency", "VND", "dual_above", "100.000")), http.StatusSeeOther)
	res := e.post(e.login("staff1"), "/refunds", refundForm(uuid.NewString(), "200.000"))
	wantStatus(t, "request", res, http.StatusSeeOther)
	id := strings.TrimPrefix(res.header.Get("Location"), "/refunds/")
	m1, m2 := e.login("manager1"), e.login("manager2")
	wantStatus(t, "first approval", e.post(m1, "/refunds/"+id+"/approve", url.Values{"note": {"checked the receipt"}}), http.StatusSeeOther)
	p := e.get(m1, "/refunds/"+id)
	if !strings.Contains(p.body, "Your approval is recorded, the first of two") || !strings.Contains(p.body, `data-testid="same-approver-note"`) ||
		strings.Contains(p.body, `data-testid="approve-form"`) {
		t.Errorf("first approver's page: %.300s", p.body)
	}
	wantStatus(t, "same approver again", e.post(m1, "/refunds/"+id+"/approve", url.Values{}), http.StatusForbidden)
	p = e.get(m2, "/refunds/"+id)
	if !strings.Contains(p.body, `data-testid="approvals-given"`) || !strings.Contains(p.body, "1 of 2 approvals") ||
		!strings.Contains(p.body, "manager1") || !strings.Contains(p.body, "checked the receipt") {
		t.Errorf("second approver does not see the first decision")
	}
	q := e.get(m2, "/approvals")
	if !strings.Contains(q.body, `data-testid="queue-progress"`) {
		t.Error("queue does not show the progress")
	}
	wantStatus(t, "second approval", e.post(m2, "/refunds/"+id+"/approve", url.Values{}), http.StatusSeeOther)
	if n := e.count(`SELECT count(*) FROM refunds WHERE id = ? AND approval = 'APPROVED' AND submission = 'QUEUED'`, id); n != 1 {
		t.Error("not approved and queued after the second approval")
	}
}

// TestRequestNobodyCanApproveIsRefused: the form says why, nothing is
// stored.
func TestRequestNobodyCanApproveIsRefused(t *testing.T) {
	e := newEnv(t)
	e.user("admin1", auth.RoleAdmin)
	e.user("staff1", auth.RoleStaff)
	m := e.user("manager1", auth.RoleManager)
	wantStatus(t, "limit", e.post(e.login("admin1"), "/settings/approvals/limits",
		policyForm(0, "user", strconv.FormatInt(m.ID, 10), "currency", "VND", "up_to", "50.000")), http.StatusSeeOther)
	res := e.post(e.login("staff1"), "/refunds", refundForm(uuid.NewString(), "100.000"))
	wantStatus(t, "request", res, http.StatusUnprocessableEntity)
	if !strings.Contains(res.body, "No manager other than you may approve this amount in VND") {
		t.Errorf("no reason given: %.500s", res.body)
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 0 {
		t.Errorf("%d refunds stored", n)
	}
	wantStatus(t, "within the limit", e.post(e.login("staff1"), "/refunds", refundForm(uuid.NewString(), "50.000")), http.StatusSeeOther)
}

// TestBulkApproveReportsEachRule: bulk approval reports the refund over
// the limit and the one that got the first of two approvals.
func TestBulkApproveReportsEachRule(t *testing.T) {
	e := newEnv(t)
	e.user("admin1", auth.RoleAdmin)
	e.user("staff1", auth.RoleStaff)
	m1 := e.user("manager1", auth.RoleManager)
	e.user("manager2", auth.RoleManager)
	e.user("manager3", auth.RoleManager)
	ac := e.login("admin1")
	wantStatus(t, "rule", e.post(ac, "/settings/approvals/rules", policyForm(0, "currency", "VND", "dual_above", "60.000")), http.StatusSeeOther)
	wantStatus(t, "limit", e.post(ac, "/settings/approvals/limits", policyForm(1, "user", strconv.FormatInt(m1.ID, 10),
		"currency", "VND", "up_to", "100.000")), http.StatusSeeOther)
	sc := e.login("staff1")
	var ids []string
	for _, amount := range []string{"50.000", "70.000", "150.000"} {
		res := e.post(sc, "/refunds", refundForm(uuid.NewString(), amount))
		wantStatus(t, "request "+amount, res, http.StatusSeeOther)
		ids = append(ids, strings.TrimPrefix(res.header.Get("Location"), "/refunds/"))
	}
	mc := e.login("manager1")
	wantStatus(t, "bulk", e.post(mc, "/approvals/bulk", url.Values{"id": ids}), http.StatusSeeOther)
	q := e.get(mc, "/approvals")
	for _, want := range []string{"1 refund approved and queued", "Refund " + ids[1] + " has your approval, the first of two",
		"Refund " + ids[2] + " is above your approval limit"} {
		if !strings.Contains(q.body, want) {
			t.Errorf("bulk results lack %q", want)
		}
	}
	// The queue offers no checkbox for what the viewer may not approve.
	if strings.Contains(q.body, `value="`+ids[2]+`"`) {
		t.Error("checkbox offered above the viewer's limit")
	}
}
