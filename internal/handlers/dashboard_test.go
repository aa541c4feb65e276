package handlers

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

var pendingCount = regexp.MustCompile(`data-testid="fig-pending-value"[^>]*>(\d+)<`)

// The managers' figures are reused for a few seconds, then recomputed.
func TestManagerDashboardIsReusedBriefly(t *testing.T) {
	e := newEnv(t)
	staff := e.user("staff1", auth.RoleStaff)
	e.user("manager1", auth.RoleManager)
	mgr := e.login("manager1")
	pending := func() string {
		t.Helper()
		r := e.get(mgr, "/")
		if r.status != http.StatusOK {
			t.Fatalf("home: %d", r.status)
		}
		m := pendingCount.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("no pending figure on the dashboard")
		}
		return m[1]
	}
	if got := pending(); got != "0" {
		t.Fatalf("pending before any request: %s", got)
	}
	_, err := e.refunds.Create(context.Background(), refunds.Actor{ID: staff.ID, Name: staff.Username, Role: "staff"}, refunds.NewRequest{
		API: refunds.APIPG, TransactionRef: "240901101500HCMCAF", PaymentID: "1440001", Amount: 1000,
		ReasonCode: "other", ReasonText: "cache", IdempotencyKey: uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	if got := pending(); got != "0" {
		t.Errorf("figures recomputed within the TTL: pending %s", got)
	}
	e.clock.Advance(managerDashboardTTL + time.Second)
	if got := pending(); got != "1" {
		t.Errorf("figures not recomputed after the TTL: pending %s", got)
	}
}
