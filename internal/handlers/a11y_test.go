package handlers

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// pageTitle is the text of a page's <title>.
func pageTitle(t *testing.T, body string) string {
	t.Helper()
	m := regexp.MustCompile(`<title>([^<]*)</title>`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("page has no <title>")
	}
	return m[1]
}

// A failed submit links each message to its field, and lists them all at
// the top of the form, each a link to its field.
func TestFailedFormsLinkErrorsToFields(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("root", auth.RoleAdmin)
	staff, admin := e.login("staff1"), e.login("root")
	qr := url.Values{"api": {"PG"}, "ref": {"240830080146NDTISR"}, "payment": {"1439211"}, "token": {uuid.NewString()}}
	tests := []struct {
		name   string
		c      *http.Client
		path   string
		form   url.Values
		fields map[string]string // control id → message id
	}{
		{"refund form", staff, "/refunds", withFields(qr, map[string]string{"amount": "12,5"}),
			map[string]string{"amount": "amount-error", "bank_swift": "bank_swift-error", "reason_code": "reason_code-error"}},
		{"password", staff, "/account/password", url.Values{"current": {"wrong one"}, "new": {"a new long passphrase"}, "confirm": {"another passphrase"}},
			map[string]string{"confirm": "confirm-error"}},
		{"add user", admin, "/users", url.Values{"username": {"x y"}, "role": {"staff"}},
			map[string]string{"new-username": "username-error"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.post(tt.c, tt.path, tt.form)
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", res.status)
			}
			if !strings.Contains(res.body, `data-error-summary`) || !strings.Contains(res.body, `tabindex="-1"`) {
				t.Fatal("no focusable error summary")
			}
			for id, msg := range tt.fields {
				control := regexp.MustCompile(`<(?:input|select|textarea)[^>]*\bid="` + regexp.QuoteMeta(id) + `"[^>]*>`).FindString(res.body)
				if !strings.Contains(control, `aria-invalid="true"`) || !regexp.MustCompile(`aria-describedby="[^"]*\b`+regexp.QuoteMeta(msg)+`"`).MatchString(control) {
					t.Errorf("%s is not linked to its message %s: %s", id, msg, control)
				}
				if !strings.Contains(res.body, `id="`+msg+`"`) {
					t.Errorf("message %s missing", msg)
				}
				if !strings.Contains(res.body, `href="#`+id+`"`) {
					t.Errorf("the summary does not link to %s", id)
				}
			}
		})
	}
	// A page without errors has no summary and no invalid field.
	if page := e.get(staff, "/account"); strings.Contains(page.body, "data-error-summary") || strings.Contains(page.body, `aria-invalid="true"`) {
		t.Error("a fresh form shows errors")
	}
}

// Two refunds, even of one transaction and amount, have different titles,
// and the title says what the refund is.
func TestRefundPagesHaveDistinctTitles(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	staff := e.login("staff1")
	var titles []string
	for range 2 {
		id := strings.TrimPrefix(e.post(staff, "/refunds", refundForm(uuid.NewString(), "1.000")).header.Get("Location"), "/refunds/")
		title := pageTitle(t, e.get(staff, "/refunds/"+id).body)
		for _, want := range []string{"PG", "240901101500HCMCAF", "1.000", id[:8]} {
			if !strings.Contains(title, want) {
				t.Errorf("title %q lacks %q", title, want)
			}
		}
		titles = append(titles, title)
	}
	if titles[0] == titles[1] {
		t.Errorf("two refunds share the title %q", titles[0])
	}
}

// A manager rejects from the queue with a note, as on the refund page:
// without a note nothing changes and the row's form says why; with one,
// the refund is rejected and the queue says so after a redirect, once.
func TestRejectFromQueue(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	staff, mgr := e.login("staff1"), e.login("manager1")
	id := strings.TrimPrefix(e.post(staff, "/refunds", refundForm(uuid.NewString(), "1.000")).header.Get("Location"), "/refunds/")
	q := e.get(mgr, "/approvals")
	if !strings.Contains(q.body, `<form id="reject-`+id+`" method="post" action="/refunds/`+id+`/reject"`) ||
		!strings.Contains(q.body, `form="reject-`+id+`"`) {
		t.Fatalf("the queue has no reject form for the row")
	}
	if mine := e.get(staff, "/approvals"); mine.status == http.StatusOK && strings.Contains(mine.body, "reject-"+id) {
		t.Error("staff see a reject form")
	}
	res := e.post(mgr, "/refunds/"+id+"/reject", url.Values{"from": {"approvals"}, "note": {"  "}})
	if res.status != http.StatusUnprocessableEntity {
		t.Fatalf("no note: status %d", res.status)
	}
	note := regexp.MustCompile(`<textarea[^>]*id="reject-note-` + id + `"[^>]*>`).FindString(res.body)
	if !strings.Contains(note, `aria-invalid="true"`) || !strings.Contains(note, `aria-describedby="reject-note-`+id+`-error"`) ||
		!strings.Contains(res.body, `data-error-summary`) || !strings.Contains(res.body, `open data-testid="queue-reject"`) &&
		!regexp.MustCompile(`<details[^>]*open[^>]*data-testid="queue-reject"|<details[^>]*data-testid="queue-reject"[^>]*open`).MatchString(res.body) {
		t.Errorf("the failed reject is not shown on its row: %s", note)
	}
	if n := e.auditCount("refund.rejected"); n != 0 {
		t.Fatalf("rejected without a note (%d)", n)
	}
	// Staff may not reject, from anywhere.
	if res := e.post(staff, "/refunds/"+id+"/reject", url.Values{"from": {"approvals"}, "note": {"no"}}); res.status != http.StatusForbidden {
		t.Errorf("staff reject: %d", res.status)
	}
	res = e.post(mgr, "/refunds/"+id+"/reject", url.Values{"from": {"approvals"}, "note": {"duplicate of an earlier request"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/approvals" {
		t.Fatalf("reject: %d to %q", res.status, res.header.Get("Location"))
	}
	page := e.get(mgr, "/approvals")
	if !strings.Contains(page.body, "Refund "+id+" rejected.") || strings.Contains(page.body, `data-id="`+id+`"`) {
		t.Errorf("the queue does not say the refund was rejected, or still lists it")
	}
	if again := e.get(mgr, "/approvals"); strings.Contains(again.body, "rejected.") {
		t.Error("result shown again on reload")
	}
	if n := e.auditCount("refund.rejected"); n != 1 {
		t.Errorf("%d rejections audited, want 1", n)
	}
	// Again, once decided: the queue says someone decided it.
	res = e.post(mgr, "/refunds/"+id+"/reject", url.Values{"from": {"approvals"}, "note": {"again"}})
	if res.status != http.StatusSeeOther || !strings.Contains(e.get(mgr, "/approvals").body, "already decided") {
		t.Errorf("a second reject: %d", res.status)
	}
}

// While a full verification runs, the chain badge is neutral and busy, says
// how far it has come and refreshes itself; it turns green only once the
// verification has succeeded.
func TestChainNeverGreenWhileVerifying(t *testing.T) {
	e := newEnv(t)
	e.user("manager1", auth.RoleManager)
	mgr := e.login("manager1")
	hold := make(chan struct{})
	e.srv.chain.mu.Lock()
	e.srv.chain.hold = hold
	e.srv.chain.mu.Unlock()
	running := func(body string) {
		t.Helper()
		for _, want := range []string{`data-state="running"`, `aria-busy="true"`, `class="flash flash-info"`, `<progress`,
			`hx-get="/audit/chain"`, "being verified"} {
			if !strings.Contains(body, want) {
				t.Errorf("running badge lacks %s", want)
			}
		}
		if strings.Contains(body, "flash-ok") {
			t.Error("a chain being verified is shown green")
		}
	}
	running(e.get(mgr, "/audit").body)
	// The pass has read every event but is held: the badge counts them all
	// and is still not green.
	deadline := time.Now().Add(20 * time.Second)
	for {
		b := e.get(mgr, "/audit/chain").body
		m := regexp.MustCompile(`(\d+) of (\d+) events`).FindStringSubmatch(b)
		if m != nil && m[1] == m[2] && m[1] != "0" {
			running(b)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress never reached the end: %.300s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(hold)
	for {
		b := e.get(mgr, "/audit/chain").body
		if strings.Contains(b, `data-state="ok"`) {
			if !strings.Contains(b, "flash-ok") || !strings.Contains(b, "verified up to event") || strings.Contains(b, "aria-busy") {
				t.Errorf("verified badge: %.300s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never verified: %.300s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Verify now starts a new pass: neutral again until it is done.
	e.srv.chain.mu.Lock()
	e.srv.chain.hold = make(chan struct{})
	hold = e.srv.chain.hold
	e.srv.chain.mu.Unlock()
	if res := e.post(mgr, "/audit/verify", url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("verify: %d", res.status)
	}
	running(e.get(mgr, "/audit").body)
	close(hold)
}
