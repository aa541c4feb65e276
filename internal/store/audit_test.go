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

// auditDraft is an event to append for target, stamped sec seconds into
// 2026: what the audit package hands the store.
func auditDraft(target string, sec int) AuditRecord {
	return AuditRecord{At: FormatTime(time.Date(2026, 1, 1, 0, 0, sec, 0, time.UTC)),
		ActorName: "tester", Action: "test.append", Outcome: "success", TargetType: "refund", TargetID: target,
		Details: "{}"}
}

// auditWalk reads the whole chain and checks that each event follows the
// one before (seq, prev_hash, a time no earlier) and carries the hash of
// the canonical encoding; it returns the events and the head row.
func auditWalk(t *testing.T, db *DB) ([]AuditRecord, AuditHead) {
	t.Helper()
	var recs []AuditRecord
	prev := AuditHead{Hash: AuditGenesisHash}
	hs := NewAuditHasher()
	head, present, err := db.AuditChain(context.Background(), 1, func(r *AuditRecord) error {
		switch {
		case r.Seq != prev.Seq+1 || r.PrevHash != prev.Hash:
			return fmt.Errorf("event %d links to %d/%s, want %d/%s", r.Seq, r.Seq-1, r.PrevHash, prev.Seq, prev.Hash)
		case r.At < prev.At:
			return fmt.Errorf("event %d at %s, before its predecessor's %s", r.Seq, r.At, prev.At)
		case r.Hash != hs.Sum(r):
			return fmt.Errorf("event %d has hash %s, want %s", r.Seq, r.Hash, hs.Sum(r))
		}
		recs = append(recs, *r)
		prev = AuditHead{Seq: r.Seq, Hash: r.Hash, At: r.At}
		return nil
	})
	if err != nil || !present {
		t.Fatalf("walk: %v (head row present %v)", err, present)
	}
	if head != prev && !(prev.Seq == 0 && head.Seq == 0) {
		t.Fatalf("head row %+v, want the last event %+v", head, prev)
	}
	return recs, head
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
		for i, target := range []string{"rf-one", "rf-two"} {
			if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditDraft(target, i+1)) }); err != nil {
				t.Fatal(err)
			}
		}
		recs, head := auditWalk(t, db)
		if len(recs) != 2 || recs[0].PrevHash != AuditGenesisHash || recs[0].TargetID != "rf-one" ||
			recs[1].At != "2026-01-01T00:00:02.000000Z" || recs[1].TargetID != "rf-two" {
			t.Fatalf("chain = %+v", recs)
		}
		second := AuditHead{Seq: 2, Hash: recs[1].Hash, At: recs[1].At}
		if h := auditHeadRow(t, db); h != second || head != second {
			t.Errorf("head row = %+v, want %+v", h, second)
		}
		if h, err := db.AuditNewest(ctx); err != nil || h != second {
			t.Errorf("AuditNewest = %+v, %v", h, err)
		}
		r, found, err := db.AuditGet(ctx, 2)
		if err != nil || !found || r.PrevHash != recs[0].Hash || r.TargetID != "rf-two" {
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
		err := db.Tx(ctx, func(tx *Tx) error {
			for i := range 3 {
				if err := tx.AppendAudit(ctx, auditDraft(fmt.Sprint("rf-", i), 1)); err != nil {
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
		if recs, _ := auditWalk(t, db); len(recs) != 3 {
			t.Errorf("%d events stored, want 3", len(recs))
		}
		boom := errors.New("boom")
		err = db.Tx(ctx, func(tx *Tx) error {
			if err := tx.AppendAudit(ctx, auditDraft("rf-x", 9)); err != nil {
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

// auditOpenLinkingInGo opens a store that links the chain in Go on both
// databases (on PostgreSQL audit_link does it otherwise).
func auditOpenLinkingInGo(t *testing.T) *DB {
	t.Helper()
	saved := auditLinkInDB
	auditLinkInDB = false // read by Open, which prepares the statements
	defer func() { auditLinkInDB = saved }()
	return auditOpen(t)
}

// Linking in Go, a head row moved by a writer that did not lock it fails
// the commit of the transaction that read it: nothing forks. (audit_link
// reads and moves the head in one statement under its lock: there is no
// moment between for anyone to move it.)
func TestAppendAuditRefusesAMovedHead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		// After the move, the transaction either appends nothing more (its
		// commit moves the head alone) or appends again: both must see the
		// move.
		for _, more := range []int{0, 1} {
			db := auditOpenLinkingInGo(t)
			ctx := context.Background()
			err := db.Tx(ctx, func(tx *Tx) error {
				if err := tx.AppendAudit(ctx, auditDraft("rf-1", 1)); err != nil {
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
					if err := tx.AppendAudit(ctx, auditDraft("rf-1", 2)); err != nil {
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
				for i := range each {
					if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditDraft(fmt.Sprint("w", w, "-", i), i)) }); err != nil {
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
		// Linked and stamped in commit order, whatever time each draft had.
		if recs, _ := auditWalk(t, db); len(recs) != writers*each {
			t.Errorf("%d events, want %d", len(recs), writers*each)
		}
	})
}

// Rows inserted behind the store's back are indexed for search and become
// the head once adopted.
func TestAuditAdoptImported(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditDraft("rf-appended", 1)) }); err != nil {
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
		for range 3 {
			if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditDraft("rf", 1)) }); err != nil {
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
	appendOne := func(target string) {
		t.Helper()
		if err := db.Tx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, auditDraft(target, 1)) }); err != nil {
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
		auditSearchBatch+6, auditHeadRow(t, db).Hash, auditTestHash(auditSearchBatch+6)); err != nil {
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
// auditChunks sizes (in Go) or through audit_link's arrays (PostgreSQL);
// every count, across the chunks' edges, stores every event once, chained
// on the one before, with the head row on the last. Appends after a read
// of the trail inside the transaction continue from it.
func TestAppendAuditChunks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, _ string) {
		for _, inGo := range []bool{false, true} {
			db := auditOpen(t)
			if inGo {
				db = auditOpenLinkingInGo(t)
			}
			ctx := context.Background()
			total := 0
			for _, n := range []int{1, 7, 8, 9, 31, 32, 33, 41, 100} {
				if err := db.Tx(ctx, func(tx *Tx) error {
					for i := range n {
						if i == n/2 {
							if _, err := tx.AuditNewest(ctx); err != nil {
								return err
							}
						}
						if err := tx.AppendAudit(ctx, auditDraft(fmt.Sprint("rf-", i), i)); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					t.Fatalf("%d events: %v", n, err)
				}
				total += n
			}
			if recs, head := auditWalk(t, db); len(recs) != total || head.Seq != int64(total) {
				t.Errorf("linking in Go %v: %d events stored, head %+v; want %d, the last", inGo, len(recs), head, total)
			}
		}
	})
}

// Whoever links (Go on SQLite, audit_link inside PostgreSQL), the stored
// chain is the one auditLink and AuditHasher make from the same drafts:
// the same seq, prev_hash, time and hash, for text that an encoder could
// get wrong (multi-byte UTF-8, quotes, braces and commas that a text array
// escapes, the word NULL, empty strings, a long JSON), for extreme actor
// ids, and for a clock that steps back.
func TestAuditLinkConformance(t *testing.T) {
	long := `{"note":"` + strings.Repeat("Hoàn tiền ", 20_000) + `"}`
	drafts := []AuditRecord{
		{At: "2026-03-01T10:00:00.000000Z", ActorID: 7, ActorName: "Nguyễn Văn Á", ActorRole: "manager",
			Action: "refund.approve", Outcome: "success", TargetType: "refund", TargetID: "rf-1",
			ClientIP: "2001:db8::1", UserAgent: "Mozilla/5.0 💸", RequestID: "req-1", Details: `{"amount":125000}`},
		{At: "2026-03-01T09:59:59.999999Z", ActorName: "system", Action: "webhook.received", Outcome: "failure",
			TargetID: `a,b{c}"d\e`, Details: `{"why":"clock stepped back"}`},
		{At: "2026-03-01T10:00:00.000000Z", ActorID: -1, ActorName: "NULL", ActorRole: "", Action: "x", Outcome: "y",
			TargetType: "NULL", TargetID: "", Details: "{}"},
		{At: "2026-03-02T00:00:00.000001Z", ActorID: 1<<63 - 1, ActorName: "tab\tnew\nline", Action: "big", Outcome: "success",
			UserAgent: "", RequestID: " leading and trailing ", Details: long},
	}
	storetest.Each(t, func(t *testing.T, _ string) {
		db := auditOpen(t)
		ctx := context.Background()
		// The first alone, then the other three in one transaction.
		for _, batch := range [][]AuditRecord{drafts[:1], drafts[1:]} {
			if err := db.Tx(ctx, func(tx *Tx) error {
				for _, d := range batch {
					if err := tx.AppendAudit(ctx, d); err != nil {
						return err
					}
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
		}
		got, head := auditWalk(t, db)
		hs, want := NewAuditHasher(), AuditHead{}
		for i, d := range drafts {
			want = auditLink(hs, want, &d)
			if i >= len(got) || got[i] != d {
				t.Errorf("event %d:\n got %+v\nwant %+v", i+1, got[min(i, len(got)-1)], d)
			}
		}
		if head != want {
			t.Errorf("head row %+v, want %+v", head, want)
		}
		if got[1].At != drafts[0].At {
			t.Errorf("the clock stepped back: event 2 at %s, want the previous event's %s", got[1].At, drafts[0].At)
		}
	})
}

// On PostgreSQL an appended event waits in audit_pending only until its
// transaction ends: linked by the COMMIT, dropped by a rollback, and never
// seen by another transaction meanwhile (it would link it as its own). A
// head row gone makes the COMMIT fail, and nothing it wrote is kept.
func TestAuditPendingNeverOutlivesItsTransaction(t *testing.T) {
	if storetest.DialectOf(t) != storetest.Postgres {
		t.Skip("audit_pending is PostgreSQL's; set STORE_TEST_DIALECT=postgres")
	}
	db := auditOpen(t)
	ctx := context.Background()
	pending := func() int {
		t.Helper()
		var n int
		if err := db.Read.QueryRow(`SELECT count(*) FROM audit_pending`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Another transaction looks while the first has appended and not
	// committed: it sees nothing pending.
	err := db.Tx(ctx, func(tx *Tx) error {
		for i := range 3 {
			if err := tx.AppendAudit(ctx, auditDraft("rf-commit", i)); err != nil {
				return err
			}
		}
		if err := tx.auditDrain(ctx); err != nil { // into audit_pending now, as the commit would
			return err
		}
		var mine int
		if err := tx.stx.QueryRowContext(ctx, `SELECT count(*) FROM audit_pending`).Scan(&mine); err != nil || mine != 3 {
			return fmt.Errorf("the transaction sees %d pending events (%v), want its 3", mine, err)
		}
		if n := pending(); n != 0 {
			return fmt.Errorf("another transaction sees %d pending events", n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if recs, _ := auditWalk(t, db); len(recs) != 3 || pending() != 0 {
		t.Fatalf("after the commit: %d events linked, %d pending; want 3 and none", len(recs), pending())
	}
	boom := errors.New("boom")
	err = db.Tx(ctx, func(tx *Tx) error {
		if err := tx.AppendAudit(ctx, auditDraft("rf-rollback", 9)); err != nil {
			return err
		}
		if err := tx.auditDrain(ctx); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) || pending() != 0 {
		t.Fatalf("rollback: err %v, %d pending", err, pending())
	}
	if _, err := db.Write.Exec(`DELETE FROM audit_head`); err != nil {
		t.Fatal(err)
	}
	err = db.Tx(ctx, func(tx *Tx) error {
		if _, err := tx.stx.ExecContext(ctx, `INSERT INTO users (username, display_name, role, password_hash, created_at, updated_at)
			VALUES ('kept-only-with-its-event', 'x', 'staff', 'x', '', '')`); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, auditDraft("rf-no-head", 10))
	})
	if err == nil || !strings.Contains(err.Error(), "head row is missing") {
		t.Fatalf("commit without a head row: err = %v, want the missing head named", err)
	}
	var users int
	if err := db.Read.QueryRow(`SELECT count(*) FROM users WHERE username = 'kept-only-with-its-event'`).Scan(&users); err != nil || users != 0 {
		t.Errorf("the change of the failed commit was kept (%d rows, %v)", users, err)
	}
	if recs, _ := db.AuditList(ctx, AuditFilter{}, false, 10); len(recs) != 3 {
		t.Errorf("%d events after the failed commit, want 3", len(recs))
	}
}
