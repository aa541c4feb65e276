package handlers

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
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
	if b := c.badge(ctx, e.audit); !strings.Contains(b.Text, "being verified") {
		t.Fatalf("first look: %q", b.Text)
	}
	waitBadge := func(want string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			b := c.badge(ctx, e.audit)
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
	// Tamper with the newest rows behind the triggers' back: appended after
	// the verified head, so the incremental check sees it.
	e.audit.RecordNow(ctx, audit.Event{ActorName: "t", Action: audit.ActionLogout, Outcome: audit.OutcomeSuccess})
	for _, q := range []string{`DROP TRIGGER audit_events_no_update`, `UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 22`} {
		if _, err := e.db.Write.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if got := waitBadge("BROKEN"); !strings.Contains(got, "event 22") {
		t.Errorf("broken badge names the wrong event: %q", got)
	}
}
