package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// "Target contains" gives the same answer through the trigram index as a
// plain scan would, and the index is what SQLite uses for it.
var errRollback = errors.New("roll back")

func TestTargetSearch(t *testing.T) {
	db := openDB(t)
	l := New(db, stepClock(t0, time.Second))
	ctx := context.Background()
	var ids []string
	for i := range 300 {
		id := fmt.Sprintf("REF-%04d-%s", i, []string{"hanoi", "HCM", "danang"}[i%3])
		ids = append(ids, id)
		if err := l.RecordNow(ctx, Event{ActorName: "t", Action: ActionRefundRequested, Outcome: OutcomeSuccess,
			TargetType: "refund", TargetID: id}); err != nil {
			t.Fatal(err)
		}
	}
	for _, text := range []string{"hcm", "Danang", "0042", "REF-01", "-0", "zzz", "a_c", "10%"} {
		t.Run(text, func(t *testing.T) {
			var want []int64
			for i, id := range ids {
				if strings.Contains(strings.ToLower(id), strings.ToLower(text)) {
					want = append(want, int64(i+1))
				}
			}
			var got []int64
			c := Cursor{}
			for {
				p, err := l.Query(ctx, Filter{Text: text}, c, 40)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range p.Entries {
					got = append(got, e.Seq)
				}
				if p.Next.IsZero() {
					break
				}
				c = p.Next
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Fatalf("%q: %d events, want %d", text, len(got), len(want))
			}
		})
	}
	if db.Postgres() {
		// A few rows make a scan cheapest; with scans priced out, the
		// substring search must be able to use the pg_trgm index.
		var plan []string
		err := db.Tx(ctx, func(tx *store.Tx) error {
			// The (target_type, target_id, seq) index, walked whole, is cheaper
			// still at this size; it goes for this transaction only.
			for _, q := range []string{`DROP INDEX audit_events_target`, `SET LOCAL enable_seqscan = off`} {
				if _, err := tx.Raw().ExecContext(ctx, q); err != nil {
					return err
				}
			}
			rows, err := tx.Raw().QueryContext(ctx, `EXPLAIN SELECT seq FROM audit_events WHERE target_id ILIKE '%hanoi%' ESCAPE '\'`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					return err
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			return errRollback
		})
		if !errors.Is(err, errRollback) {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(plan, "\n"), "audit_events_target_trgm") {
			t.Logf("plan: %q", plan)
			t.Errorf("the search cannot use the trigram index:\n%s", strings.Join(plan, "\n"))
		}
		return
	}
	plan, err := db.AuditExplainList(ctx, Filter{Text: "hanoi"}.storeFilter(1, 1<<62), false)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(plan, "\n"), "audit_target_search VIRTUAL TABLE INDEX") {
		t.Errorf("the search does not use the trigram index:\n%s", strings.Join(plan, "\n"))
	}
}
