package crashtest

import (
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
