package crashtest

import (
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

// TestNeoXFaultsEndOnce runs one refund through each kind of NeoX failure
// on the create call. Whatever the failure, the refund ends SUCCEEDED,
// NeoX holds it exactly once, and every call carried the same request id.
func TestNeoXFaultsEndOnce(t *testing.T) {
	c := newCluster(t)
	c.start()
	c.sb.AddPGTransaction(sandbox.PGTransaction{ID: "FAULTS0000001", Payments: []sandbox.PGPayment{
		{ID: "9800001", Status: "SUCCESS", Method: "CC", Amount: 10_000_000}}})
	faults := []struct {
		name  string
		fault sandbox.Fault
	}{
		{"HTTP 5xx", sandbox.Fault5xx},
		{"connection dropped before NeoX recorded it", sandbox.FaultDropBeforeRecord},
		{"connection dropped after NeoX recorded it", sandbox.FaultDropAfterRecord},
		{"unparseable answer", sandbox.FaultMalformed},
		{"timeout (answer after NEOX_TIMEOUT)", sandbox.FaultLatency},
	}
	var ids []string
	for i, f := range faults {
		id := c.request("FAULTS0000001", "9800001", int64(100_000+i), uuid.NewString())
		ids = append(ids, id)
		if f.fault == sandbox.FaultLatency {
			c.sb.SetLatency(3500 * time.Millisecond) // NEOX_TIMEOUT is 3s
		}
		c.sb.InjectFault(sandbox.OpPGRefund, f.fault, 1)
		c.approve(id)
		c.waitFinal([]string{id}, 40*time.Second)
		_, sub, attempts := c.row(id)
		if sub != "SUCCEEDED" {
			t.Errorf("%s: refund ended %s, want SUCCEEDED", f.name, sub)
		}
		// The fault was seen: the refund went through UNKNOWN, then was
		// either resent (same id) or settled by NeoX's IPN first.
		unknown := c.auditCount(`action = 'refund.state_changed' AND target_id = ? AND details LIKE '%"to":"UNKNOWN"%'`, id)
		if unknown == 0 {
			t.Errorf("%s: the refund never went UNKNOWN; the fault was not exercised", f.name)
		}
		t.Logf("%s: %d attempts, %d create calls at NeoX, %d times UNKNOWN", f.name, attempts, c.sb.RefundCalls(id), unknown)
	}
	assertOnce(t, c.sb, ids)
	c.verifyAudit()
}

// TestNeoXOutage: NeoX's refund endpoint answers nothing but HTTP 500 for
// long enough that every refund is retried. Approved refunds wait in the
// queue; every page tells staff and managers that NeoX is not answering;
// when it answers again the queue drains by itself, each refund once,
// under the request id it was approved with.
func TestNeoXOutage(t *testing.T) {
	c := newCluster(t)
	c.start()
	c.sb.AddPGTransaction(sandbox.PGTransaction{ID: "OUTAGE0000001", Payments: []sandbox.PGPayment{
		{ID: "9700001", Status: "SUCCESS", Method: "CC", Amount: 10_000_000}}})
	c.sb.InjectFault(sandbox.OpPGRefund, sandbox.Fault5xx, 1_000_000)

	var ids []string
	for i := range 3 {
		id := c.request("OUTAGE0000001", "9700001", int64(100_000+i), uuid.NewString())
		c.approve(id)
		ids = append(ids, id)
	}
	// Every refund has been tried twice (the retry delay starts at 2 s) and
	// is still waiting.
	c.waitEach(ids, 30*time.Second, "2 attempts while NeoX is down", func(sub string, attempts int) bool {
		if sub == "SUCCEEDED" || sub == "FAILED" {
			t.Fatalf("a refund ended %s while NeoX was down", sub)
		}
		return attempts >= 2
	})
	for _, who := range []string{"staff", "manager"} {
		body := c.get(who, "/")
		if !strings.Contains(body, `data-testid="neox-outage"`) || !strings.Contains(body, "NeoX PG did not answer the last") {
			t.Errorf("%s's home page does not say NeoX is down", who)
		}
	}

	c.sb.InjectFault(sandbox.OpPGRefund, sandbox.FaultNone, 0)
	c.waitFinal(ids, 60*time.Second)
	for _, id := range ids {
		if _, sub, attempts := c.row(id); sub != "SUCCEEDED" {
			t.Errorf("refund %s ended %s after %d attempts, want SUCCEEDED", id, sub, attempts)
		}
	}
	assertOnce(t, c.sb, ids)
	if body := c.get("manager", "/"); strings.Contains(body, `data-testid="neox-outage"`) {
		t.Error("the outage notice stays after NeoX answered")
	}
	c.verifyAudit()
}
