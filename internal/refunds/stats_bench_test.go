package refunds

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// benchRefunds is the size of the dashboard benchmark's table.
const benchRefunds = 1_000_000

// benchNow is the fixture's "now": its last day.
var benchNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// benchDB opens (building once, then reusing from os.TempDir()) a database
// of benchRefunds refunds requested over the year before benchNow by 50
// makers, with realistic state shares: 3% pending, 4% rejected or
// cancelled, and of the approved 90% succeeded, 6% failed, 2% processing,
// 1% unknown, 1% queued.
func benchDB(b *testing.B) *store.DB {
	b.Helper()
	if testing.Short() {
		b.Skip("builds a 1M-refund database; skipped with -short")
	}
	path := filepath.Join(os.TempDir(), "refunddesk-bench-dashboard-v1.db")
	ctx := context.Background()
	if _, err := os.Stat(path); err != nil {
		tmp := path + ".building"
		os.Remove(tmp)
		db, err := store.Open(ctx, tmp)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		rawTx(b, db, func(tx *sql.Tx) {
			rng := rand.New(rand.NewPCG(1, 2))
			reasons := []string{"Account closed", "Refund amount exceeds", "Bank rejected", "Invalid account", "Timeout at bank", "Duplicate"}
			rows := make([]row, 0, 10_000)
			for i := 0; i < benchRefunds; i++ {
				req := benchNow.Add(-time.Duration(rng.Int64N(int64(365 * 24 * time.Hour))))
				r := row{api: []API{APIPG, APIGC, APICOL}[rng.IntN(3)], currency: "VND", amount: 10_000 + rng.Int64N(5_000_000),
					by: 1 + rng.Int64N(50), requested: req, approval: ApprovalApproved, sub: SubSucceeded}
				if r.api == APIGC && rng.IntN(4) == 0 {
					r.currency = "USD"
				}
				dec := req.Add(time.Duration(1+rng.IntN(240)) * time.Minute)
				fin := dec.Add(time.Duration(1+rng.IntN(3600)) * time.Second)
				switch p := rng.IntN(100); {
				case p < 3:
					r.approval, r.sub = ApprovalPending, SubNotSent
				case p < 7:
					r.approval, r.sub, r.decided, r.final = ApprovalRejected, SubNotSent, dec, dec
				default:
					r.decided = dec
					switch q := rng.IntN(100); {
					case q < 90:
						r.final = fin
					case q < 96:
						r.sub, r.final, r.reason = SubFailed, fin, reasons[rng.IntN(len(reasons))]
					case q < 98:
						r.sub = SubProcessing
					case q < 99:
						r.sub = SubUnknown
					default:
						r.sub = SubQueued
					}
				}
				if r.final.After(benchNow) || r.decided.After(benchNow) {
					r.approval, r.sub, r.decided, r.final = ApprovalPending, SubNotSent, time.Time{}, time.Time{}
				}
				rows = append(rows, r)
				if len(rows) == cap(rows) {
					insertRows(b, tx, i+1-len(rows), rows...)
					rows = rows[:0]
				}
			}
			insertRows(b, tx, benchRefunds-len(rows), rows...)
			if _, err := tx.ExecContext(ctx, `ANALYZE`); err != nil {
				b.Fatal(err)
			}
		})
		db.Close()
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		os.Remove(tmp + "-wal")
		os.Remove(tmp + "-shm")
		b.Logf("built %s in %s", path, time.Since(start).Round(time.Second))
	}
	db, err := store.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkDashboard measures the home-page queries on 1M refunds, beside
// the older Stats (a GROUP BY over the whole table) as the baseline.
//
//	go test ./internal/refunds -run '^$' -bench Dashboard -benchtime 20x
func BenchmarkDashboard(b *testing.B) {
	db := benchDB(b)
	s := New(db, fakeRecorder{}, Gateways{}, Options{Now: func() time.Time { return benchNow }})
	ctx := context.Background()
	zone := time.FixedZone("ICT", 7*3600)
	b.Run("manager", func(b *testing.B) {
		for b.Loop() {
			d, err := s.Dashboard(ctx, DashboardQuery{Now: benchNow, Zone: zone})
			if err != nil {
				b.Fatal(err)
			}
			if d.Pending.Count == 0 || d.ToFinal.Samples == 0 {
				b.Fatalf("empty figures: %+v", d)
			}
		}
	})
	// First call of a process: every day of the window is read.
	b.Run("manager-cold", func(b *testing.B) {
		for b.Loop() {
			cold := New(db, fakeRecorder{}, Gateways{}, Options{Now: func() time.Time { return benchNow }})
			if _, err := cold.Dashboard(ctx, DashboardQuery{Now: benchNow, Zone: zone}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("staff", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Dashboard(ctx, DashboardQuery{Now: benchNow, Zone: zone, RequestedBy: 7}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-Stats-full-scan", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.db.CountRefunds(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkMakerCountTriggers measures what the triggers of migration 0009
// add to a state change: the same UPDATE with the triggers and, as the
// baseline in the same run, with them dropped. One commit per change, as
// the application does.
func BenchmarkMakerCountTriggers(b *testing.B) {
	for _, tc := range []struct {
		name string
		drop bool
	}{{"with-triggers", false}, {"baseline-no-triggers", true}} {
		b.Run(tc.name, func(b *testing.B) {
			db := openDB(b)
			if tc.drop {
				for _, tr := range []string{"insert", "update", "delete"} {
					if _, err := db.Write.Exec(`DROP TRIGGER refunds_maker_counts_` + tr); err != nil {
						b.Fatal(err)
					}
				}
			}
			now := time.Now()
			rows := make([]row, 100)
			for i := range rows {
				rows[i] = row{api: APIPG, amount: 1000, by: int64(i % 10), requested: now, decided: now,
					approval: ApprovalApproved, sub: SubQueued}
			}
			seed(b, db, rows...)
			states := [2]string{SubSending, SubQueued}
			i := 0
			for b.Loop() {
				if _, err := db.Write.Exec(`UPDATE refunds SET submission = ? WHERE id = ?`,
					states[(i/100)%2], fmt.Sprintf("r%08d", i%100)); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
