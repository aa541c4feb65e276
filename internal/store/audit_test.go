package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

func auditOpen(t *testing.T) *DB {
	t.Helper()
	db, err := OpenURL(context.Background(), storetest.URL(t, ""), PoolConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// auditTestHash is a stand-in for the audit package's hash: 64 hex digits
// that differ per seq. The store does not check hashes; it keeps rows.
func auditTestHash(seq int64) string { return fmt.Sprintf("%064x", seq*7919) }

// auditNext builds the record after head, as the audit package would, and
// remembers the head it was given.
func auditNext(target string, seen *[]AuditHead) func(AuditHead) (AuditRecord, error) {
	return func(head AuditHead) (AuditRecord, error) {
		*seen = append(*seen, head)
		seq := head.Seq + 1
		return AuditRecord{Seq: seq, At: FormatTime(time.Date(2026, 1, 1, 0, 0, int(seq), 0, time.UTC)),
			ActorName: "tester", Action: "test.append", Outcome: "success", TargetType: "refund", TargetID: target,
			Details: "{}", PrevHash: head.Hash, Hash: auditTestHash(seq)}, nil
	}
}

func auditHeadRow(t *testing.T, db *DB) AuditHead {
	t.Helper()
	var h AuditHead
	if err := db.Read.QueryRow(`SELECT seq, hash, at FROM audit_head`).Scan(&h.Seq, &h.Hash, &h.At); err != nil {
		t.Fatal(err)
	}
	return h
}

// Two appends in two transactions chain: the second is built on the head
// the first left, and the head row follows the newest event.
func TestAppendAuditChainsSequentialAppends(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		if h := auditHeadRow(t, db); h.Seq != 0 || h.Hash != strings.Repeat("0", 64) {
			t.Fatalf("empty trail's head row = %+v", h)
		}
		var seen []AuditHead
		for _, target := range []string{"rf-one", "rf-two"} {
			if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditNext(target, &seen)) }); err != nil {
				t.Fatal(err)
			}
		}
		first := AuditHead{Seq: 1, Hash: auditTestHash(1), At: "2026-01-01T00:00:01.000000Z"}
		if len(seen) != 2 || seen[0].Seq != 0 || seen[1] != first {
			t.Fatalf("heads given to build = %+v, want the empty head then %+v", seen, first)
		}
		second := AuditHead{Seq: 2, Hash: auditTestHash(2), At: "2026-01-01T00:00:02.000000Z"}
		if h := auditHeadRow(t, db); h != second {
			t.Errorf("head row = %+v, want %+v", h, second)
		}
		if h, err := db.AuditNewest(ctx); err != nil || h != second {
			t.Errorf("AuditNewest = %+v, %v", h, err)
		}
		r, found, err := db.AuditGet(ctx, 2)
		if err != nil || !found || r.PrevHash != first.Hash || r.TargetID != "rf-two" {
			t.Errorf("AuditGet(2) = %+v, %v, %v", r, found, err)
		}
	})
}

// Appends sharing a transaction chain on the head the transaction holds;
// the head row moves at the commit, and not at all when it rolls back.
func TestAppendAuditInOneTransaction(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		var seen []AuditHead
		err := db.Tx(ctx, func(tx *Tx) error {
			for i := range 3 {
				if err := tx.AppendAudit(ctx, auditNext(fmt.Sprint("rf-", i), &seen)); err != nil {
					return err
				}
			}
			// The transaction sees its own head before the commit.
			head, present, err := tx.AuditChain(ctx, 1, func(*AuditRecord) error { return nil })
			if err != nil || !present || head.Seq != 3 {
				return fmt.Errorf("AuditChain inside the transaction: %+v %v %v", head, present, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i, h := range seen {
			if h.Seq != int64(i) {
				t.Errorf("append %d was built on seq %d", i+1, h.Seq)
			}
		}
		if h := auditHeadRow(t, db); h.Seq != 3 || h.Hash != auditTestHash(3) {
			t.Errorf("head row = %+v, want event 3", h)
		}
		boom := errors.New("boom")
		err = db.Tx(ctx, func(tx *Tx) error {
			if err := tx.AppendAudit(ctx, auditNext("rf-x", &seen)); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("err = %v", err)
		}
		if h := auditHeadRow(t, db); h.Seq != 3 {
			t.Errorf("head row after a rollback = %+v, want event 3", h)
		}
		if _, found, _ := db.AuditGet(ctx, 4); found {
			t.Error("the rolled-back event was stored")
		}
	})
}

// A head row moved by a writer that did not lock it fails the commit of
// the transaction that read it: nothing forks.
func TestAppendAuditRefusesAMovedHead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		// After the move, the transaction either appends nothing more (its
		// commit moves the head alone) or appends again (on PostgreSQL its
		// last INSERT moves the head): both must see the move.
		for _, more := range []int{0, 1} {
			db := auditOpen(t)
			ctx := context.Background()
			var seen []AuditHead
			err := db.Tx(ctx, func(tx *Tx) error {
				if err := tx.AppendAudit(ctx, auditNext("rf-1", &seen)); err != nil {
					return err
				}
				// The append waits for the commit: read the head now.
				if err := tx.auditFlush(ctx); err != nil {
					return err
				}
				// Another writer, not locking, moves the head meanwhile.
				if _, err := tx.stx.ExecContext(ctx, `UPDATE audit_head SET seq = 7`); err != nil {
					return err
				}
				for range more {
					if err := tx.AppendAudit(ctx, auditNext("rf-1", &seen)); err != nil {
						return err
					}
				}
				return nil
			})
			if !errors.Is(err, ErrAuditHeadMoved) {
				t.Fatalf("%d appended after the move: err = %v, want ErrAuditHeadMoved", more, err)
			}
			if _, found, _ := db.AuditGet(ctx, 1); found {
				t.Errorf("%d appended after the move: the event of the refused transaction was stored", more)
			}
		}
	})
}

// Writers racing to append never fork the chain: every event links to the
// one before it, and the head row is the last.
func TestAppendAuditConcurrentWritersChain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		const writers, each = 4, 15
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var seen []AuditHead
				for i := range each {
					if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditNext(fmt.Sprint("w", w, "-", i), &seen)) }); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		prev, n := strings.Repeat("0", 64), int64(0)
		head, present, err := db.AuditChain(ctx, 1, func(r *AuditRecord) error {
			n++
			if r.Seq != n || r.PrevHash != prev {
				return fmt.Errorf("event %d (want seq %d) links to %s, want %s", r.Seq, n, r.PrevHash, prev)
			}
			prev = r.Hash
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != writers*each || !present || head.Seq != n || head.Hash != prev {
			t.Errorf("%d events, head row %+v (present %v); want %d events and the last as head", n, head, present, writers*each)
		}
	})
}

// Rows inserted behind the store's back are indexed for search and become
// the head once adopted.
func TestAuditAdoptImported(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		var seen []AuditHead
		if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditNext("rf-appended", &seen)) }); err != nil {
			t.Fatal(err)
		}
		for seq := int64(2); seq <= 4; seq++ {
			if _, err := db.Write.Exec(`INSERT INTO audit_events (seq, at, action, outcome, target_id, prev_hash, hash)
			VALUES (?, '2026-01-02T00:00:00.000000Z', 'imported', 'success', ?, ?, ?)`,
				seq, fmt.Sprint("rf-imported-", seq), auditTestHash(seq-1), auditTestHash(seq)); err != nil {
				t.Fatal(err)
			}
		}
		var n int64
		if err := db.Tx(ctx, func(tx *Tx) error { var err error; n, err = tx.AuditAdoptImported(ctx); return err }); err != nil {
			t.Fatal(err)
		}
		if h := auditHeadRow(t, db); n != 3 || h.Seq != 4 || h.Hash != auditTestHash(4) {
			t.Errorf("adopted %d, head row %+v; want 3 and event 4", n, h)
		}
		for text, want := range map[string]int{"imported": 3, "appended": 1, "rf-": 4} {
			got, err := db.AuditList(ctx, AuditFilter{Text: text}, false, 10)
			if err != nil || len(got) != want {
				t.Errorf("search %q: %d events, %v; want %d", text, len(got), err, want)
			}
		}
	})
}

// Migration 0015 starts the head row at the newest existing event.
func TestAuditHeadMigrationBackfills(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("about SQLite itself; this package's SQLite run covers it")
	}
	db := auditOpen(t)
	ctx := context.Background()
	for seq := int64(1); seq <= 3; seq++ {
		if _, err := db.Write.Exec(`INSERT INTO audit_events (seq, at, action, outcome, prev_hash, hash)
			VALUES (?, ?, 'old', 'success', ?, ?)`, seq, fmt.Sprintf("2025-01-01T00:00:0%d.000000Z", seq), auditTestHash(seq-1), auditTestHash(seq)); err != nil {
			t.Fatal(err)
		}
	}
	// Back to the schema before 0015.
	for _, q := range []string{`DROP TABLE audit_head`,
		`CREATE TRIGGER audit_events_target_search AFTER INSERT ON audit_events BEGIN
			INSERT INTO audit_target_search(rowid, target_id) VALUES (new.seq, new.target_id); END`,
		`DELETE FROM schema_migrations WHERE name = '0015_audit_head.sql'`} {
		if _, err := db.Write.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	want := AuditHead{Seq: 3, Hash: auditTestHash(3), At: "2025-01-01T00:00:03.000000Z"}
	if h := auditHeadRow(t, db); h != want {
		t.Errorf("head row = %+v, want %+v", h, want)
	}
}

// The append is prepared once per database: transactions reuse the
// statements instead of compiling the INSERT and its triggers each time.
func TestAuditStatementsArePreparedOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		stmts := db.audit
		var seen []AuditHead
		for range 3 {
			if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditNext("rf", &seen)) }); err != nil {
				t.Fatal(err)
			}
		}
		if db.audit != stmts || stmts == nil || len(stmts.inserts) != len(auditChunks) {
			t.Error("the append's statements were not the ones prepared at Open")
		}
	})
}

// The search index is written in batches: events wait for it until
// auditSearchBatch of them have piled up, and a search finds them all the
// same, those in the index and those still waiting; a batch that ends on
// an event without a target still marks how far the index reaches.
func TestAuditSearchIndexedInBatches(t *testing.T) {
	if storetest.DialectOf(t) == storetest.Postgres {
		t.Skip("about SQLite itself; this package's SQLite run covers it")
	}
	db := auditOpen(t)
	ctx := context.Background()
	indexed := func() (rows, reach int64) {
		t.Helper()
		if err := db.Read.QueryRow(`SELECT count(*), `+auditSearchIndexedSQL+` FROM audit_target_search`).Scan(&rows, &reach); err != nil {
			t.Fatal(err)
		}
		return rows, reach
	}
	var seen []AuditHead
	appendOne := func(target string) {
		t.Helper()
		if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditNext(target, &seen)) }); err != nil {
			t.Fatal(err)
		}
	}
	search := func(text string, want int) {
		t.Helper()
		got, err := db.AuditList(ctx, AuditFilter{Text: text}, false, 1000)
		if err != nil || len(got) != want {
			t.Errorf("search %q: %d events, %v; want %d", text, len(got), err, want)
		}
	}
	for i := 1; i < auditSearchBatch; i++ {
		appendOne(fmt.Sprintf("rf-%04d", i))
	}
	if rows, reach := indexed(); rows != 0 || reach != 0 {
		t.Fatalf("before a batch is full: %d index rows reaching %d; want none", rows, reach)
	}
	search("rf-0", auditSearchBatch-1) // all from the waiting tail
	search("0042", 1)
	appendOne("") // the batch's last event has no target
	if rows, reach := indexed(); rows != auditSearchBatch || reach != auditSearchBatch {
		t.Fatalf("after a full batch: %d index rows reaching %d; want %d and %d", rows, reach, auditSearchBatch, auditSearchBatch)
	}
	for i := 1; i <= 5; i++ {
		appendOne(fmt.Sprintf("rf-tail-%d", i))
	}
	search("rf-", auditSearchBatch-1+5) // the index and the tail together
	search("0042", 1)
	search("tail-3", 1)
	search("zzz", 0)
	// Adopting takes every event the index does not reach into it.
	if _, err := db.Write.Exec(`INSERT INTO audit_events (seq, at, action, outcome, target_id, prev_hash, hash)
		VALUES (?, '2026-01-02T00:00:00.000000Z', 'imported', 'success', 'rf-imported', ?, ?)`,
		auditSearchBatch+6, auditTestHash(auditSearchBatch+5), auditTestHash(auditSearchBatch+6)); err != nil {
		t.Fatal(err)
	}
	if err := db.Tx(ctx, func(tx *Tx) error { _, err := tx.AuditAdoptImported(ctx); return err }); err != nil {
		t.Fatal(err)
	}
	if rows, reach := indexed(); rows != auditSearchBatch+6 || reach != auditSearchBatch+6 {
		t.Errorf("after adopting: %d index rows reaching %d; want %d", rows, reach, auditSearchBatch+6)
	}
	search("rf-", auditSearchBatch-1+6)
}

// A transaction's events go in through multi-row INSERTs of the
// auditChunks sizes; every count, across the chunks' edges, stores every
// event once, chained on the one before, with the head row on the last.
func TestAppendAuditChunks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		var seen []AuditHead
		total := int64(0)
		for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 41, 100} {
			if err := db.Tx(ctx, func(tx *Tx) error {
				for range n {
					if err := tx.AppendAudit(ctx, auditNext("rf", &seen)); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatalf("%d events: %v", n, err)
			}
			total += int64(n)
		}
		prev, count := "", int64(0)
		head, present, err := db.AuditChain(ctx, 1, func(r *AuditRecord) error {
			count++
			if r.Seq != count || (count > 1 && r.PrevHash != prev) || r.Hash != auditTestHash(r.Seq) {
				return fmt.Errorf("event %d (the %dth): prev %q after %q", r.Seq, count, r.PrevHash, prev)
			}
			prev = r.Hash
			return nil
		})
		if err != nil || !present {
			t.Fatalf("walk: %v, head present %v", err, present)
		}
		if count != total || head.Seq != total || head.Hash != prev {
			t.Errorf("%d events stored, head %+v; want %d, the last", count, head, total)
		}
	})
}
