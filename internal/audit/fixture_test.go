package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

func openDB(tb testing.TB) *store.DB {
	tb.Helper()
	db, err := store.OpenURL(context.Background(), storetest.URL(tb, ""), store.PoolConfig{})
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// stepClock returns a clock that advances by step on every call.
func stepClock(start time.Time, step time.Duration) func() time.Time {
	return clock.NewStepping(start, step).Now
}

var (
	fxActors  = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "system", "neox"}
	fxActions = []string{ActionLogin, ActionRefundRequested, ActionRefundApproved, ActionNeoXCall, ActionWebhookReceived,
		ActionRefundState, ActionLoginFailed, ActionRefundRejected}
)

// fixtureRow is event i (1-based) of the synthetic trail used by the tests
// and benchmarks: ten actors, eight actions, 2% failures, refund targets
// reused about five times each, one event every 30 seconds, ~600 bytes.
func fixtureRow(i int64, n int64) row {
	refunds := max(n/5, 1)
	outcome := OutcomeSuccess
	if i%50 == 0 {
		outcome = OutcomeFailure
	}
	rid := (i * 7919) % refunds
	return row{
		Seq:        i,
		At:         store.FormatTime(t0.Add(time.Duration(i) * 30 * time.Second)),
		ActorID:    i % int64(len(fxActors)),
		ActorName:  fxActors[i%int64(len(fxActors))],
		ActorRole:  "manager",
		Action:     fxActions[i%int64(len(fxActions))],
		Outcome:    outcome,
		TargetType: "refund",
		TargetID:   fmt.Sprintf("rf-%08d-4e1c-9b7a-%012d", rid, rid*31),
		ClientIP:   "203.0.113.42",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
		RequestID:  fmt.Sprintf("req-%016x", i*2654435761),
		Details: fmt.Sprintf(`{"amount":%d,"api":"PG","currency":"VND","note":"customer asked for a refund of order %d, approved after call","reason":"duplicate payment %s","receiver_account_number":"****%04d","state":"QUEUED"}`,
			i*1000, i, strings.Repeat("x", 40), i%10000),
	}
}

// bulkInsert appends events from+1..to of the fixture trail of total
// events with a correct chain, in one transaction with multi-row inserts
// (prevHash is the hash of event from, GenesisHash when from is 0), and
// returns the hash of event to.
func bulkInsert(tb testing.TB, db *store.DB, from, to, total int64, prevHash string) string {
	tb.Helper()
	const batch = 50
	ctx := context.Background()
	hs := store.NewAuditHasher()
	// The append-only trigger makes every insert keep a statement journal;
	// in a temp file that is most of the fixture's time. The writer is a
	// single connection, so these pragmas stay on it for the rest of the test.
	for _, p := range []string{`PRAGMA temp_store = MEMORY`, `PRAGMA cache_size = -131072`} {
		if db.Postgres() {
			break // SQLite's knobs
		}
		if _, err := db.Write.ExecContext(ctx, p); err != nil {
			tb.Fatal(err)
		}
	}
	// The rows go in behind the store's back (a raw transaction with
	// multi-row inserts, far faster than appends); AuditAdoptImported then
	// indexes them for search and moves the chain's head row to them.
	err := rawTx(ctx, db, func(tx *sql.Tx) error {
		var stmt *sql.Stmt
		args := make([]any, 0, batch*15)
		flush := func(rows int) error {
			if rows == 0 {
				return nil
			}
			var err error
			if rows != batch || stmt == nil {
				q := `INSERT INTO audit_events (seq, at, actor_id, actor_name, actor_role, action, outcome,
					target_type, target_id, client_ip, user_agent, request_id, details, prev_hash, hash) VALUES ` +
					strings.TrimSuffix(strings.Repeat("(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?),", rows), ",")
				if rows != batch {
					_, err = tx.ExecContext(ctx, q, args...)
					args = args[:0]
					return err
				}
				if stmt, err = tx.PrepareContext(ctx, q); err != nil {
					return err
				}
			}
			_, err = stmt.ExecContext(ctx, args...)
			args = args[:0]
			return err
		}
		k := 0
		for i := from + 1; i <= to; i++ {
			r := fixtureRow(i, total)
			r.PrevHash = prevHash
			r.Hash = hs.Sum(&r)
			prevHash = r.Hash
			args = append(args, r.Seq, r.At, r.ActorID, r.ActorName, r.ActorRole, r.Action, r.Outcome, r.TargetType,
				r.TargetID, r.ClientIP, r.UserAgent, r.RequestID, r.Details, r.PrevHash, r.Hash)
			if k++; k == batch {
				if err := flush(k); err != nil {
					return err
				}
				k = 0
			}
		}
		err := flush(k)
		if stmt != nil {
			stmt.Close()
		}
		return err
	})
	if err == nil {
		err = db.Tx(ctx, func(tx *store.Tx) error { _, err := tx.AuditAdoptImported(ctx); return err })
	}
	if err != nil {
		tb.Fatalf("bulk insert: %v", err)
	}
	return prevHash
}

// rawTx runs fn in a write transaction of the writer pool itself, for
// fixtures that write rows the store has no operation for.
func rawTx(ctx context.Context, db *store.DB, fn func(*sql.Tx) error) error {
	tx, err := db.Write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// rowCols are the columns of a whole audit_events row, in row's order.
const rowCols = `seq, at, actor_id, actor_name, actor_role, action, outcome, target_type, target_id,
	client_ip, user_agent, request_id, details, prev_hash, hash`

// scanRow reads one rowCols row, for tests that tamper with rows directly.
func scanRow(rows *sql.Rows, r *row) error {
	return rows.Scan(&r.Seq, &r.At, &r.ActorID, &r.ActorName, &r.ActorRole, &r.Action, &r.Outcome,
		&r.TargetType, &r.TargetID, &r.ClientIP, &r.UserAgent, &r.RequestID, &r.Details, &r.PrevHash, &r.Hash)
}
