package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// stuckGC creates and approves a GC refund and leaves it as the worker
// would after its threshold: PROCESSING and in needs attention (the
// flagging itself is tested in internal/refunds).
func stuckGC(t *testing.T, e *env, staff, approver auth.User) refunds.Refund {
	t.Helper()
	ctx := context.Background()
	r, err := e.refunds.Create(ctx, actorOf(context.Background(), staff), refunds.NewRequest{API: refunds.APIGC, TransactionRef: "CO-20240503-000200002",
		ReasonCode: "other", ReasonText: "stuck", FeeChargeWay: "OUR", IdempotencyKey: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.refunds.Approve(ctx, actorOf(context.Background(), approver), r.ID, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := e.db.Write.Exec(`UPDATE refunds SET submission = 'PROCESSING', attempts = 1, neox_refund_id = 'RF-TEST-1',
		attention_since = ?, attention_reason = 'no_final_answer' WHERE id = ?`, store.FormatTime(e.clock.Now()), r.ID); err != nil {
		t.Fatal(err)
	}
	return r
}

func TestAttentionPageAndResolve(t *testing.T) {
	e := newEnv(t)
	staff := e.user("staff1", auth.RoleStaff)
	m1 := e.user("manager1", auth.RoleManager)
	e.user("manager2", auth.RoleManager)
	r := stuckGC(t, e, staff, m1)
	mc := e.login("manager2")

	page := e.get(mc, "/attention")
	if page.status != http.StatusOK || !strings.Contains(page.body, `data-testid="attention-row" data-id="`+r.ID+`"`) ||
		!strings.Contains(page.body, `data-testid="col-sweep"`) || !strings.Contains(page.body, "No final answer from NeoX in time") {
		t.Fatalf("attention page: %d %.500s", page.status, page.body)
	}
	home := e.get(mc, "/")
	if !strings.Contains(home.body, `href="/attention" data-testid="fig-attention-value">1<`) {
		t.Errorf("the dashboard does not count the refund in needs attention")
	}
	if d := e.get(mc, "/refunds/"+r.ID); !strings.Contains(d.body, `data-testid="resolve-form"`) {
		t.Error("a manager sees no resolution form")
	}
	if d := e.get(e.login("staff1"), "/refunds/"+r.ID); strings.Contains(d.body, `data-testid="resolve-form"`) ||
		!strings.Contains(d.body, `data-testid="attention-badge"`) {
		t.Error("staff: resolution form shown, or needs attention not")
	}

	// Bad input: field errors, what was typed kept, nothing changed.
	bad := []struct {
		form  url.Values
		texts []string
	}{
		{url.Values{"ref": {"RF-TEST-1"}}, []string{"Choose what NeoX", "Write what NeoX", `value="RF-TEST-1"`}},
		{url.Values{"outcome": {"FAILED"}, "note": {"seen in the portal"}}, []string{"Enter NeoX", "seen in the portal", `value="FAILED" data-testid="resolve-failed" checked`}},
		{url.Values{"outcome": {"MAYBE"}, "note": {"x"}, "ref": {"a\nb"}}, []string{"Choose what NeoX", "on one line"}},
	}
	for _, b := range bad {
		res := e.post(mc, "/refunds/"+r.ID+"/resolve", b.form)
		if res.status != http.StatusUnprocessableEntity {
			t.Errorf("%v: status %d", b.form, res.status)
		}
		for _, s := range b.texts {
			if !strings.Contains(res.body, s) {
				t.Errorf("%v: page lacks %q", b.form, s)
			}
		}
	}
	if got, _ := e.refunds.Get(context.Background(), r.ID); got.Submission != refunds.SubProcessing || got.ResolvedManually() ||
		e.auditCount("refund.resolved_manually") != 0 {
		t.Fatalf("refused input changed something: %+v", got)
	}

	res := e.post(mc, "/refunds/"+r.ID+"/resolve", url.Values{"outcome": {"FAILED"}, "note": {"Portal: FAILED, bank returned it"},
		"ref": {"RF-20240503-000000777"}})
	if res.status != http.StatusSeeOther || res.header.Get("Location") != "/refunds/"+r.ID {
		t.Fatalf("resolve: %d %q", res.status, res.header.Get("Location"))
	}
	d := e.get(mc, "/refunds/"+r.ID)
	for _, s := range []string{`data-testid="manual-resolution"`, "FAILED, set by manager2", "Portal: FAILED, bank returned it",
		"RF-20240503-000000777", `data-manual="true"`} {
		if !strings.Contains(d.body, s) {
			t.Errorf("refund page lacks %q", s)
		}
	}
	if strings.Contains(d.body, `data-testid="resolve-form"`) {
		t.Error("the form is still offered after the resolution")
	}
	if n := e.auditCount("refund.resolved_manually"); n != 1 {
		t.Errorf("%d resolution events", n)
	}
	if p := e.get(mc, "/attention"); !strings.Contains(p.body, `data-testid="attention-empty"`) {
		t.Error("the resolved refund is still in the queue")
	}
	again := e.post(mc, "/refunds/"+r.ID+"/resolve", url.Values{"outcome": {"SUCCEEDED"}, "note": {"n"}, "ref": {"r"}})
	if again.status != http.StatusConflict || !strings.Contains(again.body, "no longer waits for a person") {
		t.Errorf("second resolution: %d", again.status)
	}
}

// Two managers resolving at once: one outcome, the other is told.
func TestConcurrentResolutionsOneWins(t *testing.T) {
	e := newEnv(t)
	staff := e.user("staff1", auth.RoleStaff)
	m1 := e.user("manager1", auth.RoleManager)
	e.user("manager2", auth.RoleManager)
	r := stuckGC(t, e, staff, m1)
	clients := []*http.Client{e.login("manager1"), e.login("manager2")}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			outcome := []string{"SUCCEEDED", "FAILED"}[i]
			results[i] = e.post(c, "/refunds/"+r.ID+"/resolve", url.Values{"outcome": {outcome}, "note": {"portal"}, "ref": {"RF"}})
		})
	}
	wg.Wait()
	won, lost := 0, 0
	for _, res := range results {
		switch res.status {
		case http.StatusSeeOther:
			won++
		case http.StatusConflict:
			lost++
		default:
			t.Errorf("status %d", res.status)
		}
	}
	if won != 1 || lost != 1 || e.auditCount("refund.resolved_manually") != 1 {
		t.Fatalf("won %d lost %d, %d events", won, lost, e.auditCount("refund.resolved_manually"))
	}
}

// The COL sweep's section lists what NeoX holds that the desk does not,
// and the last run.
func TestAttentionPageShowsSweep(t *testing.T) {
	e := newEnv(t)
	e.user("manager1", auth.RoleManager)
	mc := e.login("manager1")
	if p := e.get(mc, "/attention"); !strings.Contains(p.body, `data-testid="sweep-never"`) {
		t.Error("no sweep yet, and the page does not say so")
	}
	stranger := uuid.NewString()
	e.sandbox.AddCOLRefund(sandbox.Refund{RequestID: stranger, Target: "FT24323L4AAA", ApprovalStatus: "APPROVED",
		Status: "SUCCESS", Amount: 150000, CreatedAt: e.clock.Now().Add(-time.Hour)}) // the desk runs on a test clock
	if _, err := e.refunds.SweepNow(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := e.get(mc, "/attention")
	for _, s := range []string{"COL sweep: NeoX&#39;s refund list against the desk", `data-testid="sweep-last"`,
		`data-kind="unknown_to_desk" data-id="` + stranger + `"`,
		"NeoX holds a refund the desk does not know", "150.000"} {
		if !strings.Contains(p.body, s) {
			t.Errorf("attention page lacks %q", s)
		}
	}
	if strings.Contains(p.body, `data-testid="sweep-error"`) {
		t.Error("a good sweep is shown as failed")
	}
}
