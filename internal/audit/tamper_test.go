package audit

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// tamperable records n events and drops the append-only triggers, as an
// attacker with write access to the file could.
func tamperable(t *testing.T, n int) (*store.DB, *Log) {
	t.Helper()
	db := openDB(t)
	l := New(db, stepClock(t0, time.Minute))
	ctx := context.Background()
	for i := range n {
		e := Event{ActorName: fxActors[i%len(fxActors)], Action: fxActions[i%len(fxActions)], Outcome: OutcomeSuccess,
			TargetType: "refund", TargetID: fmt.Sprintf("rf-%d", i%4), Details: map[string]any{"amount": i * 1000}}
		if err := l.RecordNow(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	exec(t, db, `DROP TRIGGER audit_events_no_update`, `DROP TRIGGER audit_events_no_delete`, `DROP TRIGGER audit_events_append_only`)
	return db, l
}

// rewindHeadSQL moves the chain's head row back to the newest event, as an
// attacker who cut the end of the trail would, to leave a shorter chain that
// verifies on its own.
const rewindHeadSQL = `UPDATE audit_head SET (seq, hash, at) = (SELECT seq, hash, at FROM audit_events ORDER BY seq DESC LIMIT 1)`

func exec(t *testing.T, db *store.DB, qs ...string) {
	t.Helper()
	if db.Postgres() {
		// One transaction, so one connection: the swap's temp table lives there.
		err := db.Tx(context.Background(), func(tx *store.Tx) error {
			for _, q := range qs {
				if _, err := tx.Raw().Exec(pgTamperSQL(q)); err != nil {
					return fmt.Errorf("%s: %w", q, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	for _, q := range qs {
		if _, err := db.Write.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// pgTamperSQL is the tampering statement q (written for SQLite) in
// PostgreSQL's words: triggers belong to their table and run a function
// (those of migrations/postgres/0003), the temp schema is pg_temp.
func pgTamperSQL(q string) string {
	switch {
	case strings.HasPrefix(q, "DROP TRIGGER "):
		return q + " ON audit_events"
	case strings.HasPrefix(q, "CREATE TRIGGER audit_events_append_only"):
		return `CREATE TRIGGER audit_events_append_only BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()`
	case strings.HasPrefix(q, "CREATE TRIGGER audit_events_no_delete"):
		return `CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()`
	case strings.HasPrefix(q, "CREATE TRIGGER audit_events_no_update"):
		return `CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events FOR EACH ROW EXECUTE FUNCTION audit_events_refuse()`
	case strings.Contains(q, "audit_target_search"):
		return "SELECT 1" // the trigram index is on audit_events itself: nothing to trim
	}
	q = strings.ReplaceAll(q, "temp.sw", "pg_temp.sw")
	return strings.ReplaceAll(q, "printf('%064d', 1)", "lpad('1', 64, '0')")
}

// swapSQL swaps every column but seq between rows a and b.
func swapSQL(a, b int) []string {
	cols := "at, actor_id, actor_name, actor_role, action, outcome, target_type, target_id, client_ip, user_agent, request_id, details, prev_hash, hash"
	return []string{
		`CREATE TEMP TABLE sw AS SELECT * FROM audit_events WHERE seq IN (` + fmt.Sprint(a, ",", b) + `)`,
		fmt.Sprintf(`UPDATE audit_events SET (%s) = (SELECT %s FROM temp.sw WHERE seq = %d) WHERE seq = %d`, cols, cols, b, a),
		fmt.Sprintf(`UPDATE audit_events SET (%s) = (SELECT %s FROM temp.sw WHERE seq = %d) WHERE seq = %d`, cols, cols, a, b),
		`DROP TABLE temp.sw`,
	}
}

func TestVerifyPinpointsTampering(t *testing.T) {
	tests := []struct {
		name       string
		sql        []string
		rehash     int64 // after the SQL, recompute this row's hash as a careful attacker would
		wantBroken int64
		wantIn     string
	}{
		{name: "edit actor", sql: []string{`UPDATE audit_events SET actor_name = 'mallory' WHERE seq = 4`}, wantBroken: 4, wantIn: "edited"},
		{name: "edit details", sql: []string{`UPDATE audit_events SET details = '{"amount":1}' WHERE seq = 7`}, wantBroken: 7, wantIn: "edited"},
		{name: "edit time", sql: []string{`UPDATE audit_events SET at = '2020-01-01T00:00:00.000000Z' WHERE seq = 2`}, wantBroken: 2, wantIn: "edited"},
		{name: "edit last row", sql: []string{`UPDATE audit_events SET outcome = 'failure' WHERE seq = 10`}, wantBroken: 10, wantIn: "edited"},
		{name: "edit and rehash", sql: []string{`UPDATE audit_events SET outcome = 'failure' WHERE seq = 5`}, rehash: 5, wantBroken: 6, wantIn: "prev_hash"},
		{name: "delete middle", sql: []string{`DELETE FROM audit_events WHERE seq = 6`}, wantBroken: 6, wantIn: "missing"},
		{name: "delete first", sql: []string{`DELETE FROM audit_events WHERE seq = 1`}, wantBroken: 1, wantIn: "missing"},
		{name: "delete and renumber", sql: []string{`DELETE FROM audit_events WHERE seq = 3`, `UPDATE audit_events SET seq = seq - 1 WHERE seq > 3`}, wantBroken: 3, wantIn: "prev_hash"},
		{name: "swap contents", sql: swapSQL(3, 7), wantBroken: 3, wantIn: "prev_hash"},
		{name: "swap neighbours", sql: swapSQL(8, 9), wantBroken: 8, wantIn: "prev_hash"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, l := tamperable(t, 10)
			exec(t, db, tt.sql...)
			if tt.rehash > 0 {
				var r row
				rows, err := db.Write.Query(`SELECT `+rowCols+` FROM audit_events WHERE seq = ?`, tt.rehash)
				if err != nil {
					t.Fatal(err)
				}
				rows.Next()
				if err := scanRow(rows, &r); err != nil {
					t.Fatal(err)
				}
				rows.Close()
				exec(t, db, fmt.Sprintf(`UPDATE audit_events SET hash = '%s' WHERE seq = %d`, rowHash(&r), tt.rehash))
			}
			st, err := l.Verify(context.Background(), Anchor{})
			if err != nil {
				t.Fatal(err)
			}
			if st.OK || st.BrokenSeq != tt.wantBroken || !strings.Contains(st.Problem, tt.wantIn) {
				t.Fatalf("verify = %+v, want broken at %d (%q)", st, tt.wantBroken, tt.wantIn)
			}
			if st.VerifiedSeq != tt.wantBroken-1 || st.Count != tt.wantBroken-1 {
				t.Errorf("verified up to %d (%d events), want %d", st.VerifiedSeq, st.Count, tt.wantBroken-1)
			}
			if !strings.Contains(st.String(), fmt.Sprintf("BROKEN at event %d", tt.wantBroken)) {
				t.Errorf("String() = %q", st.String())
			}
		})
	}
}

func TestVerifyIntactChainReportsHead(t *testing.T) {
	_, l := tamperable(t, 10)
	st, err := l.Verify(context.Background(), Anchor{})
	if err != nil {
		t.Fatal(err)
	}
	last, _ := l.Get(context.Background(), 10)
	if !st.OK || st.VerifiedSeq != 10 || st.Count != 10 || !st.VerifiedAt.Equal(last.Time) || st.HeadHash != last.Hash || st.BrokenSeq != 0 {
		t.Fatalf("verify = %+v", st)
	}
	if !strings.Contains(st.String(), "up to event 10 at 2025-01-02T03:14:05Z") {
		t.Errorf("String() = %q", st.String())
	}
	empty := New(openDB(t), nil)
	if st, err := empty.Verify(context.Background(), Anchor{}); err != nil || !st.OK || st.Count != 0 {
		t.Errorf("empty verify = %+v, %v", st, err)
	}
}

func TestVerifyFromAnchorAfterArchiving(t *testing.T) {
	db, l := tamperable(t, 10)
	ctx := context.Background()
	e5, _ := l.Get(ctx, 5)
	anchor := Anchor{Seq: 5, PrevHash: e5.PrevHash}
	// The operator's archive step: drop the prefix, put the trigger back.
	exec(t, db, `DELETE FROM audit_events WHERE seq < 5`,
		`CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END`)

	if st, _ := l.Verify(ctx, Anchor{}); st.OK || st.BrokenSeq != 1 {
		t.Errorf("verify from genesis = %+v, want event 1 missing", st)
	}
	st, err := l.Verify(ctx, anchor)
	if err != nil || !st.OK || st.Count != 6 || st.VerifiedSeq != 10 {
		t.Fatalf("verify from anchor = %+v, %v", st, err)
	}
	// New events continue the chain and verify from the same anchor.
	if err := l.RecordNow(ctx, Event{Action: ActionAuditExport, Outcome: OutcomeSuccess}); err != nil {
		t.Fatal(err)
	}
	if st, _ := l.Verify(ctx, anchor); !st.OK || st.VerifiedSeq != 11 {
		t.Errorf("after append = %+v", st)
	}
	// A wrong anchor hash, or an anchor whose row was also deleted, fails.
	if st, _ := l.Verify(ctx, Anchor{Seq: 5, PrevHash: GenesisHash}); st.OK || st.BrokenSeq != 5 {
		t.Errorf("wrong anchor hash = %+v", st)
	}
	exec(t, db, `DROP TRIGGER audit_events_no_delete`, `DELETE FROM audit_events WHERE seq = 5`)
	if st, _ := l.Verify(ctx, anchor); st.OK || st.BrokenSeq != 5 || !strings.Contains(st.Problem, "missing") {
		t.Errorf("anchor row deleted = %+v", st)
	}
}

func TestAnchorText(t *testing.T) {
	a := Anchor{Seq: 42, PrevHash: strings.Repeat("ab", 32)}
	got, err := ParseAnchor(a.String())
	if err != nil || got != a {
		t.Errorf("round trip %v -> %+v, %v", a, got, err)
	}
	if got, err := ParseAnchor(""); err != nil || got != (Anchor{}) {
		t.Errorf("empty = %+v, %v", got, err)
	}
	for _, s := range []string{"42", "0:" + GenesisHash, "x:" + GenesisHash, "42:abc", "42:" + strings.Repeat("zz", 32)} {
		if _, err := ParseAnchor(s); !errors.Is(err, ErrBadAnchor) {
			t.Errorf("ParseAnchor(%q) = %v", s, err)
		}
	}
}

// The chain's head row moves with every append, so Verify notices what a
// chain that still links cannot show: events cut off the end (unless the
// head row is rewound too), events added behind the application's back,
// and a rewritten newest event or head row.
func TestVerifyChecksTheHeadRow(t *testing.T) {
	tests := []struct {
		name       string
		sql        []string
		wantBroken int64
		wantIn     string
	}{
		{name: "end cut", sql: []string{`DELETE FROM audit_events WHERE seq > 8`}, wantBroken: 9, wantIn: "head row records event 10"},
		{name: "head row edited", sql: []string{`UPDATE audit_head SET hash = printf('%064d', 1)`}, wantBroken: 10, wantIn: "differs from the chain's head row"},
		// As if event 10 had been inserted behind the application's back.
		{name: "head row behind", sql: []string{`UPDATE audit_head SET seq = 9`}, wantBroken: 10, wantIn: "past the chain's head row"},
		{name: "head row deleted", sql: []string{`DELETE FROM audit_head`}, wantBroken: 11, wantIn: "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, l := tamperable(t, 10)
			exec(t, db, tt.sql...)
			st, err := l.Verify(context.Background(), Anchor{})
			if err != nil {
				t.Fatal(err)
			}
			if st.OK || st.BrokenSeq != tt.wantBroken || !strings.Contains(st.Problem, tt.wantIn) {
				t.Fatalf("verify = %+v, want broken at %d (%q)", st, tt.wantBroken, tt.wantIn)
			}
		})
	}
	// Rewinding the head row with the cut leaves a chain that verifies: only
	// a head kept outside the database (CheckHead) sees that cut.
	db, l := tamperable(t, 10)
	exec(t, db, `DELETE FROM audit_events WHERE seq > 8`, rewindHeadSQL)
	if st, err := l.Verify(context.Background(), Anchor{}); err != nil || !st.OK || st.VerifiedSeq != 8 {
		t.Fatalf("cut with the head rewound = %+v, %v", st, err)
	}
}
