package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

func refundIDs(t *testing.T, rs []RefundRecord, err error) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range rs {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, ",")
}

func TestListRefunds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		// a..e requested a minute apart, amounts 500, 100, 400, 200, 300.
		for i, r := range []struct {
			id     string
			amount int64
		}{{"a", 500}, {"b", 100}, {"c", 400}, {"d", 200}, {"e", 300}} {
			rec := refundNew(r.id, r.amount, refundT0.Add(time.Duration(i)*time.Minute))
			if r.id == "d" {
				rec.API, rec.RequestedBy = "COL", 9
			}
			refundInsert(t, db, rec, "")
		}
		refundTx(t, db, refundT0.Add(time.Hour), func(tx *Tx) error {
			_, err := tx.CloseRefund(ctx, "c", "REJECTED", Decision{By: 2})
			return err
		})
		at := func(min int) time.Time { return refundT0.Add(time.Duration(min) * time.Minute) }
		tests := []struct {
			name string
			f    RefundFilter
			want string
		}{
			{"all by date", RefundFilter{Limit: 10}, "a,b,c,d,e"},
			{"newest first, one page", RefundFilter{Desc: true, Limit: 2}, "e,d"},
			{"after a position", RefundFilter{After: &RefundPosition{RequestedAt: at(1), ID: "b"}, Limit: 10}, "c,d,e"},
			{"by amount", RefundFilter{ByAmount: true, Limit: 10}, "b,d,e,c,a"},
			{"by amount after", RefundFilter{ByAmount: true, After: &RefundPosition{Amount: 300, ID: "e"}, Limit: 10}, "c,a"},
			{"by amount desc after", RefundFilter{ByAmount: true, Desc: true, After: &RefundPosition{Amount: 300, ID: "e"}, Limit: 10}, "d,b"},
			{"approval", RefundFilter{Approval: "REJECTED", Limit: 10}, "c"},
			{"submission", RefundFilter{Submission: "NOT_SENT", API: "COL", Limit: 10}, "d"},
			{"maker", RefundFilter{RequestedBy: 9, Limit: 10}, "d"},
			{"requested window", RefundFilter{From: at(1), To: at(3), Limit: 10}, "b,c"},
			{"amounts", RefundFilter{MinAmount: 200, MaxAmount: 400, Limit: 10}, "c,d,e"},
			{"final window", RefundFilter{OnFinal: true, From: at(30), Limit: 10}, "c"},
			{"final, no window", RefundFilter{OnFinal: true, Limit: 2}, "a,b"},
		}
		for _, tc := range tests {
			rs, err := db.ListRefunds(ctx, tc.f)
			if got := refundIDs(t, rs, err); got != tc.want {
				t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
			}
		}
	})
}

func TestRefundWebhooksAndAttention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		refundQueued(t, db, "r", refundT0)
		refundTx(t, db, refundT0, func(tx *Tx) error {
			if _, err := tx.WebhookByKey(ctx, "k1"); !errors.Is(err, ErrNotFound) {
				t.Errorf("unseen key: %v", err)
			}
			for _, w := range []NewWebhook{
				{API: "PG", DedupeKey: "k1", RefundID: "r", EventRef: "r", Applied: "applied", RawBody: "{}"},
				{API: "GC", DedupeKey: "k2", EventRef: "N9", Applied: "unknown_refund", Event: `{"x":1}`},
				{API: "PG", DedupeKey: "k3", RefundID: "r", Applied: "suspicious", Reason: "amount"},
			} {
				if err := tx.InsertWebhook(ctx, w); err != nil {
					return err
				}
			}
			return nil
		})
		later := refundT0.Add(time.Minute)
		refundTx(t, db, later, func(tx *Tx) error {
			seen, err := tx.WebhookByKey(ctx, "k3")
			if err != nil || seen.RefundID != "r" || seen.Applied != "suspicious" || seen.Reason != "amount" {
				t.Errorf("seen = %+v, %v", seen, err)
			}
			if err := tx.CountRedelivery(ctx, seen.ID); err != nil {
				return err
			}
			held, err := tx.HeldEvents(ctx, "GC", "N9")
			if err != nil || len(held) != 1 || held[0].Event != `{"x":1}` {
				t.Errorf("held = %+v, %v", held, err)
			}
			return tx.SettleHeldWebhook(ctx, held[0].ID, "r", "stale", "")
		})
		hooks, err := db.RefundWebhooks(ctx, "r")
		if err != nil || len(hooks) != 3 {
			t.Fatalf("refund webhooks = %+v, %v", hooks, err)
		}
		if h := hooks[2]; h.Deliveries != 2 || !h.LastReceivedAt.Equal(later) || !h.ReceivedAt.Equal(refundT0) || !h.Verified {
			t.Errorf("redelivered = %+v", h)
		}
		if un, err := db.UnmatchedWebhooks(ctx, 10); err != nil || len(un) != 0 {
			t.Errorf("unmatched = %+v, %v", un, err)
		}
		if rv, err := db.ReviewWebhooks(ctx, 10); err != nil || len(rv) != 1 || rv[0].Reason != "amount" {
			t.Errorf("review = %+v, %v", rv, err)
		}

		refundTx(t, db, later, func(tx *Tx) error {
			if _, err := tx.Transition(ctx, "r", "QUEUED", SubmissionChange{To: "PROCESSING"}); err != nil {
				return err
			}
			_, err := tx.FlagAttention(ctx, "r", "PROCESSING", "no_final_answer")
			return err
		})
		q, err := db.AttentionQueue(ctx, 10)
		n, err2 := db.AttentionCount(ctx)
		if err != nil || err2 != nil || len(q) != 1 || n != 1 || !q[0].AttentionSince.Equal(later) {
			t.Errorf("attention = %v (%d), %v %v", q, n, err, err2)
		}
		c, err := db.CountRefunds(ctx)
		if err != nil || len(c.States) != 1 || c.States[0].Submission != "PROCESSING" || c.Unmatched != 0 || c.Review != 1 ||
			!c.OldestPending.IsZero() {
			t.Errorf("counts = %+v, %v", c, err)
		}
	})
}

func TestRefundSweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		if _, err := db.LastSweep(ctx); !errors.Is(err, ErrNotFound) {
			t.Errorf("no sweep yet: %v", err)
		}
		from, to := refundT0.Add(-24*time.Hour), refundT0
		var id int64
		refundTx(t, db, refundT0, func(tx *Tx) error {
			var err error
			if id, err = tx.StartSweep(ctx, from, to, 0, time.Hour); err != nil {
				return err
			}
			for _, f := range []FindingRecord{
				{RequestID: "x", Kind: "unknown_to_desk", API: "COL", Amount: 5, NeoXCreatedAt: refundT0.Add(-time.Hour)},
				{RequestID: "y", Kind: "state_differs", API: "COL", NeoXStatus: "SUCCESS", NeoXCreatedAt: refundT0.Add(-2 * time.Hour)},
				{RequestID: "v", Kind: "unknown_to_desk", API: "VOUCHER", NeoXCreatedAt: refundT0.Add(-time.Hour)},
			} {
				if err := tx.SaveFinding(ctx, id, f); err != nil {
					return err
				}
			}
			if err := tx.ClearFindings(ctx, "y", ""); err != nil {
				return err
			}
			n, err := tx.OpenFindingCount(ctx)
			if err != nil || n != 2 {
				t.Errorf("open findings = %d, %v", n, err)
			}
			return tx.FinishSweep(ctx, SweepRecord{ID: id, Finished: refundT0.Add(time.Second), Pages: 1, Docs: 2, Findings: n})
		})
		sw, err := db.LastSweep(ctx)
		if err != nil || sw.ID != id || !sw.From.Equal(from) || !sw.StartedAt.Equal(refundT0) || sw.Docs != 2 || sw.Findings != 2 {
			t.Errorf("last sweep = %+v, %v", sw, err)
		}
		open, err := db.OpenFindings(ctx, 10)
		if err != nil || len(open) != 2 || open[0].RequestID != "x" || open[0].API != "COL" || open[0].Amount != 5 ||
			!open[0].FirstSeen.Equal(refundT0) || open[1].RequestID != "v" || open[1].API != "VOUCHER" {
			t.Errorf("open = %+v, %v", open, err)
		}
		// A later full sweep of COL's list that does not see x again
		// clears it; the other product's finding stays.
		refundTx(t, db, refundT0.Add(time.Hour), func(tx *Tx) error {
			next, err := tx.StartSweep(ctx, from, to, id, time.Hour)
			if err != nil {
				return err
			}
			return tx.ClearUnseenFindings(ctx, next, "COL", from, to)
		})
		if open, err := db.OpenFindings(ctx, 10); err != nil || len(open) != 1 || open[0].RequestID != "v" {
			t.Errorf("after a sweep without x: %+v, %v", open, err)
		}
	})
}

func TestRefundDashboardReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		refundQueued(t, db, "ok", refundT0)
		refundQueued(t, db, "ko", refundT0)
		refundInsert(t, db, refundNew("wait", 100, refundT0.Add(time.Minute)), "")
		final := refundT0.Add(90 * time.Second)
		refundTx(t, db, final, func(tx *Tx) error {
			if _, err := tx.Transition(ctx, "ok", "QUEUED", SubmissionChange{To: "SUCCEEDED", FinalAt: final}); err != nil {
				return err
			}
			_, err := tx.Transition(ctx, "ko", "QUEUED", SubmissionChange{To: "FAILED", Code: "33", FinalAt: final})
			return err
		})
		err := db.View(ctx, final, func(tx *Tx) error {
			counts, err := tx.MakerCounts(ctx, 7)
			if err != nil {
				return err
			}
			if counts["SUCCEEDED"] != 1 || counts["FAILED"] != 1 || counts["PENDING"] != 1 {
				t.Errorf("maker counts = %v", counts)
			}
			b, err := tx.Backlogs(ctx)
			if err != nil {
				return err
			}
			if b.Pending.Count != 1 || !b.Pending.OldestAt.Equal(refundT0.Add(time.Minute)) || b.Unknown.Count != 0 ||
				!b.Unknown.OldestAt.IsZero() {
				t.Errorf("backlogs = %+v", b)
			}
			day, err := tx.RefundDay(ctx, refundT0.Truncate(24*time.Hour), refundT0.Truncate(24*time.Hour).Add(24*time.Hour))
			if err != nil {
				return err
			}
			if len(day.Final) != 2 || !day.Final[0].HasToFinal || day.Final[0].ToFinal < 89 || day.Final[0].ToFinal > 91 ||
				day.Reasons["code 33"] != 1 || len(day.ToApproval) != 2 {
				t.Errorf("day = %+v", day)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// The list filters the dashboard links to: a failure reason as the
// dashboard reads it, a currency, and the search box.
func TestRefundListFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		for i, id := range []string{"a", "b", "c", "d"} {
			refundQueued(t, db, id, refundT0.Add(time.Duration(i)*time.Minute))
		}
		for _, u := range []string{
			`UPDATE refunds SET submission = 'FAILED', failed_reason = 'card expired' WHERE id = 'a'`,
			`UPDATE refunds SET submission = 'FAILED', neox_message = 'card expired' WHERE id = 'b'`,
			`UPDATE refunds SET submission = 'FAILED' WHERE id = 'c'`,
			`UPDATE refunds SET currency = 'USD', transaction_ref = 'CO-7%_X' WHERE id = 'd'`,
		} {
			if _, err := db.Write.Exec(u); err != nil {
				t.Fatal(err)
			}
		}
		ids := func(f RefundFilter) string {
			t.Helper()
			f.Limit = 10
			rs, err := db.ListRefunds(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rs {
				out = append(out, r.ID)
			}
			return strings.Join(out, ",")
		}
		tests := []struct {
			name string
			f    RefundFilter
			want string
		}{
			{"failure reason", RefundFilter{FailureReason: "card expired", HasFailureReason: true}, "a,b"},
			{"no failure reason", RefundFilter{HasFailureReason: true}, "c"},
			{"currency", RefundFilter{Currency: "USD"}, "d"},
			{"search by id", RefundFilter{Search: "b"}, "b"},
			{"search by reference start, wildcards literal", RefundFilter{Search: "CO-7%_"}, "d"},
			{"a wildcard alone matches nothing", RefundFilter{Search: "%"}, ""},
		}
		for _, tt := range tests {
			if got := ids(tt.f); got != tt.want {
				t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
			}
		}
		for _, limit := range []int{0, 4, 10} {
			totals, capped, err := db.RefundTotals(ctx, RefundFilter{}, limit)
			if err != nil || capped || len(totals) != 2 || totals[0].Currency != "USD" || totals[0].Count != 1 || totals[1].Count != 3 || totals[1].Amount != 300 {
				t.Errorf("totals (limit %d) = %+v, capped %v, %v", limit, totals, capped, err)
			}
		}
		// More matching rows than the limit: no totals, said so.
		if totals, capped, err := db.RefundTotals(ctx, RefundFilter{}, 3); err != nil || !capped || totals != nil {
			t.Errorf("totals over the limit = %+v, capped %v, %v; want capped and none", totals, capped, err)
		}
		if totals, capped, err := db.RefundTotals(ctx, RefundFilter{Currency: "USD"}, 3); err != nil || capped || len(totals) != 1 {
			t.Errorf("a narrower filter under the limit = %+v, capped %v, %v", totals, capped, err)
		}
	})
}

// TestOwnListTotalsReadTheIndexOnly: a staff member's own list totals are
// read from the covering index refunds_requester_totals, not from one
// table row per refund (SQLite's plan; PostgreSQL plans by statistics).
func TestOwnListTotalsReadTheIndexOnly(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("reads SQLite's query plan")
	}
	db := openTest(t)
	q, args := refundTotalsQuery(RefundFilter{RequestedBy: 7}, 10_000)
	plan := queryPlan(t, db, q, args...)
	if !slices.ContainsFunc(plan, func(s string) bool { return strings.Contains(s, "COVERING INDEX refunds_requester_totals") }) {
		t.Errorf("own list totals plan %q: want the covering index refunds_requester_totals", plan)
	}
}

// queryPlan is SQLite's plan for q, one line per step.
func queryPlan(t *testing.T, db *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Read.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}

// TestNewIndexOnAnalyzedDatabase: on a database analyzed before an index
// was added, the next start gives the new index statistics too, so the
// planner does not take it for a very selective one. The own refund list
// then still reads refunds_list_requester in order (no sort), as it does
// on a database never analyzed.
func TestNewIndexOnAnalyzedDatabase(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("SQLite's statistics and plans")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "desk.db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		r := refundNew(fmt.Sprintf("r%03d", i), int64(100+i), refundT0.Add(time.Duration(i)*time.Minute))
		r.RequestedBy = int64(1 + i%3)
		refundInsert(t, db, r, "")
	}
	// Analyzed, then an index added by a later migration (dropped and
	// made again here, so it has no statistics).
	for _, q := range []string{`ANALYZE`, `DROP INDEX refunds_requester_totals`,
		`CREATE INDEX refunds_requester_totals ON refunds(requested_by, currency, amount)`} {
		if _, err := db.Write.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	db, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Read.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_stat1 WHERE idx = 'refunds_requester_totals'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("statistics of the new index: %d rows, %v; want 1", n, err)
	}
	list := queryPlan(t, db, `SELECT id FROM refunds WHERE requested_by = ? ORDER BY requested_at DESC, id DESC LIMIT 50`, 2)
	if slices.ContainsFunc(list, func(s string) bool { return strings.Contains(s, "TEMP B-TREE") }) {
		t.Errorf("own list plan %q sorts: want refunds_list_requester read in order", list)
	}
	q, args := refundTotalsQuery(RefundFilter{RequestedBy: 2}, 10_000)
	if totals := queryPlan(t, db, q, args...); !slices.ContainsFunc(totals, func(s string) bool {
		return strings.Contains(s, "COVERING INDEX refunds_requester_totals")
	}) {
		t.Errorf("own list totals plan %q: want the covering index", totals)
	}
}

// Instances that each schedule the sweep start it once: a start based on
// an older run, or while a run is going and not yet taken for dead, is
// refused; a sweep asked for now needs only that none is going.
func TestStartSweepOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := openTest(t)
		ctx := context.Background()
		from, to := refundT0.Add(-24*time.Hour), refundT0
		start := func(at time.Time, after int64) (int64, error) {
			var id int64
			err := db.TxAt(ctx, at, func(tx *Tx) error {
				var err error
				id, err = tx.StartSweep(ctx, from, to, after, time.Hour)
				return err
			})
			return id, err
		}
		first, err := start(refundT0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name  string
			at    time.Time
			after int64
		}{
			{"a second instance on the same schedule", refundT0, 0},
			{"asked for now while it runs", refundT0.Add(59 * time.Minute), SweepAny},
			{"a schedule based on it while it runs", refundT0.Add(59 * time.Minute), first},
		} {
			if id, err := start(tc.at, tc.after); !errors.Is(err, ErrSweepStarted) {
				t.Errorf("%s: id %d, err %v; want ErrSweepStarted", tc.name, id, err)
			}
		}
		// Unfinished for an hour: its instance is taken for dead.
		second, err := start(refundT0.Add(time.Hour), first)
		if err != nil {
			t.Fatalf("after the running one was taken for dead: %v", err)
		}
		refundTx(t, db, refundT0.Add(time.Hour+time.Minute), func(tx *Tx) error {
			return tx.FinishSweep(ctx, SweepRecord{ID: second, Finished: refundT0.Add(time.Hour + time.Minute)})
		})
		if _, err := start(refundT0.Add(2*time.Hour), first); !errors.Is(err, ErrSweepStarted) {
			t.Errorf("a schedule based on the run before the newest: %v, want ErrSweepStarted", err)
		}
		if _, err := start(refundT0.Add(2*time.Hour), SweepAny); err != nil {
			t.Errorf("asked for now with none running: %v", err)
		}
	})
}
