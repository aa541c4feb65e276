package handlers

import (
	"context"
	"net/http"
	"net/url"
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
