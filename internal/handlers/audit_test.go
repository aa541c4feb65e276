package handlers

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
)

// The chain badge never makes a page wait for a full pass: the first look
// starts one in the background; later looks check only what was appended,
// and a row edited after that is reported.
func TestChainBadge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for range 20 {
		if err := e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	var c chainCache
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	if b := c.badge(ctx, e.audit, now); !strings.Contains(b.Text, "being verified") {
		t.Fatalf("first look: %q", b.Text)
	}
	waitBadge := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			now = now.Add(chainRecheck)
			b := c.badge(ctx, e.audit, now)
			if strings.Contains(b.Text, want) {
				return b.Text
			}
			if time.Now().After(deadline) {
				t.Fatalf("badge %q, want %q", b.Text, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitBadge("verified up to event 20 ")
	e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess})
	waitBadge("verified up to event 21 ")
	// Within chainRecheck of the last check, a look reuses its answer.
	e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess})
	if b := c.badge(ctx, e.audit, now.Add(chainRecheck-time.Millisecond)); !strings.Contains(b.Text, "verified up to event 21 ") {
		t.Errorf("rechecked within %v: %q", chainRecheck, b.Text)
	}
	waitBadge("verified up to event 22 ")
	// Tamper with the newest rows behind the triggers' back: appended after
	// the verified head, so the incremental check sees it.
	e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess})
	for _, q := range []string{`DROP TRIGGER audit_events_no_update`, `UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 23`} {
		if _, err := e.db.Write.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if got := waitBadge("BROKEN"); !strings.Contains(got, "event 23") {
		t.Errorf("broken badge names the wrong event: %q", got)
	}
}

// The audit filter's actor list is reused for auditActorsTTL, then
// follows the trail.
func TestAuditActorsAreReusedBriefly(t *testing.T) {
	e := newEnv(t)
	e.user("manager1", auth.RoleManager)
	mgr := e.login("manager1")
	offers := func(name string) bool {
		t.Helper()
		r := e.get(mgr, "/audit")
		if r.status != http.StatusOK {
			t.Fatalf("audit: %d", r.status)
		}
		return strings.Contains(r.body, `<option value="`+name+`"`)
	}
	if !offers("manager1") || offers("zed") {
		t.Fatal("first look: want manager1 and not zed in the actor list")
	}
	if err := e.audit.RecordNow(context.Background(), audit.Event{ActorName: "zed", Action: audit.ActionLogin, Outcome: audit.OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if offers("zed") {
		t.Error("actor list re-read within its TTL")
	}
	e.clock.Advance(auditActorsTTL)
	if !offers("zed") {
		t.Error("actor list not re-read after its TTL")
	}
}
