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

// TestThreeInstancesKilled runs three servers on one PostgreSQL database
// and the sandbox, and kills one of them at random (SIGKILL, then starts it
// again) over and over while refunds are requested and approved through
// all three. At the end every approved refund is final, NeoX holds each
// exactly once under its one request id, and the audit chain verifies.
// A claim left by a killed instance is taken over by the others once its
// lease (WORKER_LEASE, 4 s here) runs out. CRASH_KILLS sets the number of
// kills (default 6; the closing note of issue 16 records a 50-kill run).
func TestThreeInstancesKilled(t *testing.T) {
	if storetest.DialectOf(t) != storetest.Postgres {
		storetest.URL(t, storetest.Postgres) // skips (fails under CI=true) without TEST_DATABASE_URL
		t.Skip("runs with STORE_TEST_DIALECT=postgres (.ci/run does)")
	}
	kills := 6
	if n, err := strconv.Atoi(os.Getenv("CRASH_KILLS")); err == nil && n > 0 {
		kills = n
	}
	c := newCluster(t)
	c.setEnv("NEOX_TIMEOUT=1s", "WORKER_LEASE=4s")
	c.start()
	nodes := []*cluster{c, c.second(), c.second()}
	c.sb.AddPGTransaction(sandbox.PGTransaction{ID: "THREEKILL0001", Payments: []sandbox.PGPayment{
		{ID: "9900003", Status: "SUCCESS", Method: "ATM", Amount: 50_000_000}}})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	var ids []string
	started := time.Now()
	for i := range kills {
		id := nodes[rng.IntN(3)].request("THREEKILL0001", "9900003", int64(10_000+i), uuid.NewString())
		ids = append(ids, id)
		nodes[rng.IntN(3)].approve(id)
		troubleNextRefund(c.sb, rng, 800*time.Millisecond)
		time.Sleep(time.Duration(rng.IntN(400)) * time.Millisecond)
		victim := nodes[rng.IntN(3)]
		victim.stop(syscall.SIGKILL)
		victim.start()
	}
	c.waitFinal(ids, 90*time.Second)
	for _, id := range ids {
		if _, sub, _ := c.row(id); sub != "SUCCEEDED" {
			t.Errorf("refund %s ended %s, want SUCCEEDED", id, sub)
		}
	}
	assertOnce(t, c.sb, ids)
	c.verifyAudit()
	interrupted := c.auditCount(`action = 'refund.state_changed' AND details LIKE '%"to":"UNKNOWN"%'`)
	t.Logf("%d kills across three instances, %d refunds (%d sends interrupted and taken over), all final and sent once, chain verified, in %s",
		kills, len(ids), interrupted, time.Since(started).Round(time.Second))
}
