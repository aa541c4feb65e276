package crashtest

import (
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// assertOnce checks what NeoX saw: each refund recorded exactly once under
// its own id, and no refund for these payments under any other id.
func assertOnce(t *testing.T, sb *sandbox.Sandbox, ids []string) {
	t.Helper()
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
	}
	seen := map[string]int{}
	for _, r := range sb.Refunds() {
		if r.API != "PG" {
			continue
		}
		if !want[r.RequestID] {
			t.Errorf("NeoX holds a refund under an id the desk never minted: %s", r.RequestID)
		}
		seen[r.RequestID]++
	}
	for _, id := range ids {
		if seen[id] != 1 {
			t.Errorf("refund %s recorded %d times at NeoX, want exactly 1", id, seen[id])
		}
	}
}

// troubleNextRefund makes NeoX's next PG refund call, at random, slow (up
// to maxDelay: a kill may land mid-call), recorded with its answer lost,
// or normal.
func troubleNextRefund(sb *sandbox.Sandbox, rng *rand.Rand, maxDelay time.Duration) {
	switch rng.IntN(3) {
	case 0:
		sb.SetLatency(200*time.Millisecond + time.Duration(rng.Int64N(int64(maxDelay-200*time.Millisecond))))
		sb.InjectFault(sandbox.OpPGRefund, sandbox.FaultLatency, 1)
	case 1:
		sb.InjectFault(sandbox.OpPGRefund, sandbox.FaultDropAfterRecord, 1)
	}
}

// settledAtNeoX reports whether the sandbox holds refund id as paid out.
func settledAtNeoX(sb *sandbox.Sandbox, id string) bool {
	for _, r := range sb.Refunds() {
		if r.RequestID == id && r.Status == "SUCCESS" {
			return true
		}
	}
	return false
}

// TestKilledWhileSending kills the server while a refund call is at NeoX
// (held there by injected latency), restarts it, and checks the refund
// completes once, under the same request id.
func TestKilledWhileSending(t *testing.T) {
	c := newCluster(t)
	c.start()
	id := c.request("240901101500HCMCAF", "1440001", 120000, uuid.NewString())
	// No IPN: the sandbox finishes the held call after the kill, and its
	// IPN could settle the refund before the restarted worker looks (a
	// correct ending, but not the one under test). Without it only the
	// restarted worker can finish the refund.
	c.sb.SetWebhookURLs("", "", "")
	c.sb.SetLatency(1500 * time.Millisecond)
	c.sb.InjectFault(sandbox.OpPGRefund, sandbox.FaultLatency, 1)
	c.approve(id)
	deadline := time.Now().Add(10 * time.Second)
	for c.sb.RefundCalls(id) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the refund call never reached NeoX")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, sub, _ := c.row(id); sub != "SENDING" {
		t.Fatalf("at the kill the refund is %s, want SENDING", sub)
	}
	c.stop(syscall.SIGKILL)
	// NeoX finishes the call it was holding: the refund is paid out there.
	// The restarted worker must find that out from QUERY_PT (the settle
	// rule, with the snapshot kept before the call) rather than wait.
	deadline = time.Now().Add(20 * time.Second)
	for !settledAtNeoX(c.sb, id) {
		if time.Now().After(deadline) {
			t.Fatal("NeoX never finished the held call")
		}
		time.Sleep(10 * time.Millisecond)
	}
	c.start()
	c.waitFinal([]string{id}, 30*time.Second)
	_, sub, attempts := c.row(id)
	if sub != "SUCCEEDED" {
		t.Fatalf("refund ended %s, want SUCCEEDED", sub)
	}
	// The interrupted attempt plus at least one after the restart, all
	// under the same id.
	if attempts < 2 || c.sb.RefundCalls(id) < 1 {
		t.Errorf("attempts %d, calls at NeoX %d: the restart did not resume the refund", attempts, c.sb.RefundCalls(id))
	}
	t.Logf("attempts %d, create calls at NeoX under %s: %d", attempts, id, c.sb.RefundCalls(id))
	assertOnce(t, c.sb, []string{id})
	c.verifyAudit()
}

// TestKillLoop kills the server at random points of the pipeline, over and
// over, while refunds are requested and approved. Set CRASH_LOOPS for a
// longer run (default 4 kills).
func TestKillLoop(t *testing.T) {
	loops := 4
	if n, err := strconv.Atoi(os.Getenv("CRASH_LOOPS")); err == nil && n > 0 {
		loops = n
	}
	c := newCluster(t)
	c.start()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	t.Logf("seed-independent loop of %d kills", loops)
	// One payment of 20.000.000 ₫ takes many small refunds.
	c.sb.AddPGTransaction(sandbox.PGTransaction{ID: "CRASHLOOP0001", Payments: []sandbox.PGPayment{
		{ID: "9900001", Status: "SUCCESS", Method: "ATM", Amount: 20_000_000}}})
	var ids []string
	for i := range loops {
		id := c.request("CRASHLOOP0001", "9900001", int64(10_000+i), uuid.NewString())
		ids = append(ids, id)
		c.approve(id)
		// Sometimes hold the call at NeoX, sometimes fail it, then kill at a random moment.
		troubleNextRefund(c.sb, rng, 800*time.Millisecond)
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		c.stop(syscall.SIGKILL)
		c.start()
	}
	c.waitFinal(ids, 60*time.Second)
	for _, id := range ids {
		if _, sub, _ := c.row(id); sub != "SUCCEEDED" {
			t.Errorf("refund %s ended %s, want SUCCEEDED", id, sub)
		}
	}
	assertOnce(t, c.sb, ids)
	c.verifyAudit()
}

// TestEndToEndOnPostgres is the whole pipeline on PostgreSQL, through the
// server as cmd/web runs it (DATABASE_URL): sign in, request, approve, the
// worker sends, NeoX's IPN finalises, the audit chain verifies. A second
// instance on the same database serves the approvals, so the two share
// sessions' users, refunds and one audit chain.
func TestEndToEndOnPostgres(t *testing.T) {
	if storetest.DialectOf(t) != storetest.Postgres {
		storetest.URL(t, storetest.Postgres) // skips (fails under CI=true) without TEST_DATABASE_URL
		t.Skip("runs with STORE_TEST_DIALECT=postgres (.ci/run does)")
	}
	c := newCluster(t)
	c.start()
	second := c.second()
	var ids []string
	for i := range 4 {
		ids = append(ids, c.request("240901101500HCMCAF", "1440001", int64(10000+i), uuid.NewString()))
	}
	for _, id := range ids {
		second.approve(id)
	}
	c.waitFinal(ids, 60*time.Second)
	for _, id := range ids {
		if _, sub, _ := c.row(id); sub != "SUCCEEDED" {
			t.Errorf("refund %s ended %s, want SUCCEEDED", id, sub)
		}
	}
	assertOnce(t, c.sb, ids)
	c.verifyAudit()
}
