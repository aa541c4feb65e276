package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

func refundForm(token, amount string) url.Values {
	return url.Values{"api": {"PG"}, "ref": {"240901101500HCMCAF"}, "payment": {"1440001"}, "amount": {amount},
		"reason_code": {"customer_request"}, "reason_text": {"double click"}, "token": {token}}
}

// TestSubmitAsksNeoXOnce: POST /refunds looks the reference up once, to
// show the refundable figure and to create the refund from (issue 15: it
// used to ask twice); the refund is created with the stored language of
// the session. A form the lookup already refuses asks once too.
func TestSubmitAsksNeoXOnce(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	for _, tt := range []struct {
		name   string
		form   url.Values
		status int
	}{
		{"PG refund", refundForm(uuid.NewString(), "100.000"), http.StatusSeeOther},
		{"COL refund", url.Values{"api": {"COL"}, "ref": {"FT24330QNH007"}, "amount": {"10.000"},
			"reason_code": {"customer_request"}, "token": {uuid.NewString()}}, http.StatusSeeOther},
		{"amount over the refundable", refundForm(uuid.NewString(), "999.999.999"), http.StatusUnprocessableEntity},
		{"unknown payment", func() url.Values { f := refundForm(uuid.NewString(), "1.000"); f.Set("payment", "nope"); return f }(),
			http.StatusUnprocessableEntity},
	} {
		e.neoxCalls.api()
		r := e.post(c, "/refunds", tt.form)
		if r.status != tt.status {
			t.Fatalf("%s: status %d, want %d: %s", tt.name, r.status, tt.status, r.body)
		}
		if n := e.neoxCalls.api(); n != 1 {
			t.Errorf("%s: %d NeoX calls for one submit, want 1", tt.name, n)
		}
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE lang = 'en'`); n != 2 {
		t.Errorf("%d refunds stored in the session's language (en), want 2", n)
	}
}

// A double click on "Ask for approval" sends the same form twice: one refund.
func TestDoubleSubmitCreatesOneRefund(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	token := uuid.NewString()
	var wg sync.WaitGroup
	locs := make([]string, 2)
	for i := range locs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.post(c, "/refunds", refundForm(token, "100.000"))
			locs[i] = r.header.Get("Location")
		}()
	}
	wg.Wait()
	if locs[0] == "" || locs[0] != locs[1] {
		t.Fatalf("two submits went to %q and %q, want the same refund", locs[0], locs[1])
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 1 {
		t.Fatalf("%d refunds, want 1", n)
	}
}

// A form token reused with other content (another amount, or by another
// person) creates nothing and says so; the first refund stays as it was.
func TestReusedTokenWithOtherContentCreatesNothing(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("staff2", auth.RoleStaff)
	c := e.login("staff1")
	token := uuid.NewString()
	first := e.post(c, "/refunds", refundForm(token, "100.000"))
	if first.status != http.StatusSeeOther {
		t.Fatalf("first submit: %d", first.status)
	}
	for name, try := range map[string]func() result{
		"other amount": func() result { return e.post(c, "/refunds", refundForm(token, "120.000")) },
		"other person": func() result { return e.post(e.login("staff2"), "/refunds", refundForm(token, "100.000")) },
	} {
		res := try()
		if res.status != http.StatusUnprocessableEntity || !strings.Contains(res.body, "already submitted with other values") ||
			strings.Contains(res.body, `value="`+token+`"`) {
			t.Fatalf("%s: %d %.300s", name, res.status, res.body)
		}
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 1 {
		t.Fatalf("%d refunds, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE amount = 100000`); n != 1 {
		t.Fatal("the first refund changed")
	}
	// The same content again is the double click: the same refund.
	if again := e.post(c, "/refunds", refundForm(token, "100.000")); again.header.Get("Location") != first.header.Get("Location") {
		t.Fatalf("repeat went to %q, want %q", again.header.Get("Location"), first.header.Get("Location"))
	}
}

// Two managers approving at once: exactly one decision, the other is told.
func TestConcurrentApprovalsOneWins(t *testing.T) {
	e := newEnv(t)
	staff := e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	e.user("manager2", auth.RoleManager)
	r, err := e.refunds.Create(context.Background(), refunds.Actor{ID: staff.ID, Name: staff.Username, Role: "staff"}, refunds.NewRequest{
		API: refunds.APIPG, TransactionRef: "240901101500HCMCAF", PaymentID: "1440001", Amount: 50000,
		ReasonCode: "other", ReasonText: "race", IdempotencyKey: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	clients := []*http.Client{e.login("manager1"), e.login("manager2")}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i == 0 {
				results[i] = e.post(c, "/refunds/"+r.ID+"/approve", url.Values{})
			} else {
				results[i] = e.post(c, "/refunds/"+r.ID+"/reject", url.Values{"note": {"not convinced"}})
			}
		}()
	}
	wg.Wait()
	won, lost := 0, 0
	for _, res := range results {
		switch res.status {
		case http.StatusSeeOther:
			won++
		case http.StatusConflict:
			lost++
			if !strings.Contains(res.body, "acted on this refund first") {
				t.Errorf("loser's message: %.300s", res.body)
			}
		default:
			t.Errorf("unexpected status %d", res.status)
		}
	}
	if won != 1 || lost != 1 {
		t.Fatalf("won %d, lost %d; want exactly one decision", won, lost)
	}
	decisions := e.count(`SELECT count(*) FROM audit_events WHERE target_id = ? AND action IN ('refund.approved', 'refund.rejected')`, r.ID)
	if decisions != 1 {
		t.Errorf("%d decisions audited, want 1", decisions)
	}
}

// withFields is a copy of form with fields set.
func withFields(form url.Values, fields map[string]string) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = append([]string(nil), v...)
	}
	for k, v := range fields {
		out.Set(k, v)
	}
	return out
}

// TestRefundFormReportsEveryErrorAtOnce: a bad amount no longer hides the
// receiver's errors of a QR payment; each bank detail is checked (SWIFT
// "XX" and account "123" used to reach NeoX); a reason code is required;
// nothing is created.
func TestRefundFormReportsEveryErrorAtOnce(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	c := e.login("staff1")
	qr := url.Values{"api": {"PG"}, "ref": {"240830080146NDTISR"}, "payment": {"1439211"}, "token": {uuid.NewString()}}
	tests := []struct {
		name   string
		fields map[string]string
		want   map[string]string // field → part of its message
	}{
		{"bad amount and no receiver", map[string]string{"amount": "12,5", "reason_code": "customer_request"},
			map[string]string{"amount": "", "bank_account_name": "account name", "bank_account_number": "account number",
				"bank_swift": "SWIFT"}},
		{"receiver that NeoX would get wrong", map[string]string{"amount": "10.000", "reason_code": "customer_request",
			"bank_swift": "XX", "bank_account_number": "123", "bank_account_name": "1"},
			map[string]string{"bank_swift": "8 or 11 letters and digits", "bank_account_number": "6 to 20 digits",
				"bank_account_name": "2 to 70 letters"}},
		{"no reason code", map[string]string{"amount": "10.000", "reason_text": "customer asked",
			"bank_swift": "BFTVVNVX", "bank_account_number": "0071001234567", "bank_account_name": "NGUYEN VAN A"},
			map[string]string{"reason_code": "reason"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := e.post(c, "/refunds", withFields(qr, tt.fields))
			if res.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d", res.status)
			}
			for field, part := range tt.want {
				re := regexp.MustCompile(`(?s)id="` + field + `"[^>]*aria-invalid="true"`)
				if !re.MatchString(res.body) {
					t.Errorf("%s not marked invalid", field)
				}
				if part != "" && !strings.Contains(res.body, part) {
					t.Errorf("%s: message with %q missing", field, part)
				}
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 0 {
		t.Fatalf("%d refunds created", n)
	}
	// The same form with good receiver details and a reason goes through.
	good := withFields(qr, map[string]string{"amount": "10.000", "reason_code": "customer_request", "bank_swift": "bftvvnvx",
		"bank_account_number": "0071 0012 34567", "bank_account_name": "Nguyễn Văn A"})
	if res := e.post(c, "/refunds", good); res.status != http.StatusSeeOther {
		t.Fatalf("good form: %d", res.status)
	}
	if n := e.count(`SELECT count(*) FROM refunds WHERE bank_swift = 'BFTVVNVX' AND bank_account_number = '0071001234567'`); n != 1 {
		t.Fatal("the receiver was not stored as NeoX needs it (upper-case BIC, digits only)")
	}
	// A double click of the same form is still the same refund.
	if res := e.post(c, "/refunds", good); res.status != http.StatusSeeOther {
		t.Fatalf("double click: %d", res.status)
	}
	if n := e.count(`SELECT count(*) FROM refunds`); n != 1 {
		t.Fatalf("%d refunds after a double click", n)
	}
}

// TestDecisionCardGoesWhenSomeoneElseDecides: the refund page's live part
// (polled every 2 s) replaces the Approve/Reject card out of band once
// another manager has decided, and says who; while the refund is pending
// it leaves the card (and a note being typed) alone.
func TestDecisionCardGoesWhenSomeoneElseDecides(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	e.user("manager2", auth.RoleManager)
	staff := e.login("staff1")
	res := e.post(staff, "/refunds", refundForm(uuid.NewString(), "100.000"))
	id := strings.TrimPrefix(res.header.Get("Location"), "/refunds/")
	if res.status != http.StatusSeeOther || id == "" {
		t.Fatalf("request: %d", res.status)
	}
	first, second := e.login("manager1"), e.login("manager2")
	page := e.get(first, "/refunds/"+id)
	if strings.Count(page.body, `id="decision-card"`) != 1 || !strings.Contains(page.body, `data-testid="approve"`) {
		t.Fatalf("page without one decision card: %.300s", page.body)
	}
	poll := func(c *http.Client) result {
		return e.do(c, http.MethodGet, "/refunds/"+id+"/status", nil, map[string]string{"HX-Request": "true"})
	}
	if live := poll(first); strings.Contains(live.body, "decision-card") {
		t.Fatal("the live part touches the decision card while the refund is pending")
	}
	if res := e.post(second, "/refunds/"+id+"/approve", url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", res.status)
	}
	live := poll(first)
	if !strings.Contains(live.body, `id="decision-card" hx-swap-oob="true"`) || !strings.Contains(live.body, "by manager2") ||
		strings.Contains(live.body, `data-testid="approve"`) {
		t.Fatalf("live part after the other manager approved: %.600s", live.body)
	}
	if again := e.get(first, "/refunds/"+id); strings.Contains(again.body, `data-testid="approve"`) ||
		strings.Count(again.body, `id="decision-card"`) != 1 {
		t.Fatal("a reloaded page still offers the decision, or has two decision cards")
	}
}

// TestStaffSeeOnlyLinksTheyMayOpen: on the lookup page another staff
// member's refund is listed without a link (its page is 403 for them), and
// a staff member's refund timeline shows event numbers without links to
// the managers' audit pages; managers get both links.
func TestStaffSeeOnlyLinksTheyMayOpen(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("staff2", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	one, two, mgr := e.login("staff1"), e.login("staff2"), e.login("manager1")
	mine := strings.TrimPrefix(e.post(one, "/refunds", refundForm(uuid.NewString(), "10.000")).header.Get("Location"), "/refunds/")
	theirs := strings.TrimPrefix(e.post(two, "/refunds", refundForm(uuid.NewString(), "20.000")).header.Get("Location"), "/refunds/")
	if mine == "" || theirs == "" {
		t.Fatal("refunds not created")
	}
	lookup := "/transactions?api=PG&ref=240901101500HCMCAF"
	page := e.get(one, lookup)
	if !strings.Contains(page.body, `href="/refunds/`+mine+`"`) || strings.Contains(page.body, `href="/refunds/`+theirs+`"`) ||
		!strings.Contains(page.body, `data-id="`+theirs+`"`) {
		t.Fatalf("staff lookup links: mine %v, theirs listed %v, theirs linked %v", strings.Contains(page.body, `href="/refunds/`+mine+`"`),
			strings.Contains(page.body, `data-id="`+theirs+`"`), strings.Contains(page.body, `href="/refunds/`+theirs+`"`))
	}
	if res := e.get(one, "/refunds/"+theirs); res.status != http.StatusForbidden && res.status != http.StatusNotFound {
		t.Fatalf("the unlinked page is open to staff1: %d", res.status)
	}
	if all := e.get(mgr, lookup); !strings.Contains(all.body, `href="/refunds/`+theirs+`"`) {
		t.Fatal("managers lost the link")
	}
	if own := e.get(one, "/refunds/"+mine); strings.Contains(own.body, `href="/audit/events/`) || !strings.Contains(own.body, `data-testid="timeline"`) {
		t.Fatal("staff timeline links to the managers' audit pages")
	}
	if m := e.get(mgr, "/refunds/"+mine); !strings.Contains(m.body, `href="/audit/events/`) {
		t.Fatal("managers lost the timeline links")
	}
}

// TestRefundTitleIsWhatPeopleRecognise: the refund page's title names the
// product, the reference, the amount and the state (the UUID moves to the
// details), and the live part keeps the title's state current.
func TestRefundTitleIsWhatPeopleRecognise(t *testing.T) {
	e := newEnv(t)
	e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	staff := e.login("staff1")
	id := strings.TrimPrefix(e.post(staff, "/refunds", refundForm(uuid.NewString(), "100.000")).header.Get("Location"), "/refunds/")
	page := e.get(staff, "/refunds/"+id)
	i, j := strings.Index(page.body, `data-testid="refund-title"`), strings.Index(page.body, "</h1>")
	if i < 0 || j < i {
		t.Fatal("no title")
	}
	title := page.body[i:j]
	for _, want := range []string{"PG", "240901101500HCMCAF", "100.000", `id="refund-title-state"`} {
		if !strings.Contains(title, want) {
			t.Errorf("title lacks %q: %s", want, title)
		}
	}
	if strings.Contains(title, id) || !strings.Contains(page.body, `data-testid="refund-id">`+id+`<`) {
		t.Errorf("the UUID should be in the details, not the title")
	}
	if res := e.post(e.login("manager1"), "/refunds/"+id+"/approve", url.Values{}); res.status != http.StatusSeeOther {
		t.Fatalf("approve: %d", res.status)
	}
	live := e.do(staff, http.MethodGet, "/refunds/"+id+"/status", nil, map[string]string{"HX-Request": "true"})
	if !strings.Contains(live.body, `id="refund-title-state" hx-swap-oob="true"`) || !strings.Contains(live.body, "Queued") && !strings.Contains(live.body, "QUEUED") {
		t.Fatalf("live part does not refresh the title's state: %.400s", live.body)
	}
}
