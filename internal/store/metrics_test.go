package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

// RefundGauges counts refunds per state pair and dates the send queue and
// the approval queue; ProbeWrite takes a write and keeps nothing.
func TestRefundGaugesAndProbeWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		ctx := context.Background()
		db, err := store.OpenURL(ctx, storetest.URL(t, dialect), store.PoolConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		g, err := db.RefundGauges(ctx)
		if err != nil || len(g.States) != 0 || g.Queued != 0 || !g.OldestQueued.IsZero() || !g.OldestPending.IsZero() {
			t.Fatalf("empty desk: %+v %v", g, err)
		}
		err = db.Tx(ctx, func(tx *store.Tx) error {
			for _, q := range []string{
				`INSERT INTO users (id, username, display_name, role, password_hash, created_at, updated_at) VALUES (1, 'u', 'U', 'staff', 'x', '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z')`,
				`INSERT INTO refunds (id, api, transaction_ref, amount, requested_by, requested_at, updated_at, approval, submission, decided_at)
				 VALUES ('r1', 'PG', 'T1', 100, 1, '2026-01-02T00:00:00.000000Z', '2026-01-02T00:00:00.000000Z', 'PENDING', 'NOT_SENT', ''),
				        ('r2', 'PG', 'T2', 100, 1, '2026-01-01T00:00:00.000000Z', '2026-01-01T00:00:00.000000Z', 'PENDING', 'NOT_SENT', ''),
				        ('r3', 'GC', 'T3', 100, 1, '2026-01-01T00:00:00.000000Z', '2026-01-03T00:00:00.000000Z', 'APPROVED', 'QUEUED', '2026-01-03T00:00:00.000000Z'),
				        ('r4', 'GC', 'T4', 100, 1, '2026-01-01T00:00:00.000000Z', '2026-01-04T00:00:00.000000Z', 'APPROVED', 'QUEUED', '2026-01-04T00:00:00.000000Z'),
				        ('r5', 'PG', 'T5', 100, 1, '2026-01-01T00:00:00.000000Z', '2026-01-04T00:00:00.000000Z', 'APPROVED', 'SUCCEEDED', '2026-01-04T00:00:00.000000Z')`,
			} {
				if _, err := tx.Raw().ExecContext(ctx, store.Rebind(q)); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		g, err = db.RefundGauges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[string]int{}
		for _, s := range g.States {
			counts[s.Approval+"/"+s.Submission] = s.N
		}
		want := map[string]int{"PENDING/NOT_SENT": 2, "APPROVED/QUEUED": 2, "APPROVED/SUCCEEDED": 1}
		for k, n := range want {
			if counts[k] != n {
				t.Errorf("%s: %d, want %d (%v)", k, counts[k], n, counts)
			}
		}
		if len(counts) != len(want) {
			t.Errorf("states %v, want %v", counts, want)
		}
		if g.Queued != 2 || !g.OldestQueued.Equal(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)) ||
			!g.OldestPending.Equal(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("queues: %+v", g)
		}

		for range 3 {
			if err := db.ProbeWrite(ctx); err != nil {
				t.Fatalf("probe: %v", err)
			}
		}
		if _, err := db.Setting(ctx, "readyz_probe"); err == nil {
			t.Error("the write probe kept its row")
		}
	})
}
