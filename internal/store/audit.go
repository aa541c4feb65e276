package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
)

// AuditRecord is an audit_events row exactly as stored: every field is the
// text SQLite holds, so the audit package hashes it without re-encoding
// times or JSON. The chain's rules (what seq and prev_hash follow, what the
// hash covers) are the audit package's; the store only keeps rows.
type AuditRecord struct {
	Seq        int64
	At         string // TimeFormat
	ActorID    int64
	ActorName  string
	ActorRole  string
	Action     string
	Outcome    string
	TargetType string
	TargetID   string
	ClientIP   string
	UserAgent  string
	RequestID  string
	Details    string // JSON
	PrevHash   string
	Hash       string
}

// AuditHead is one point of the chain: the seq, hash and stored time text
// of an event. The zero AuditHead (Seq 0) is the empty trail.
type AuditHead struct {
	Seq  int64
	Hash string
	At   string
}

// ErrAuditHeadMoved is returned (wrapped) by the commit of a transaction
// that appended audit events when the head row no longer holds the head
// its first append read: another writer appended without taking the head's
// lock. The transaction is rolled back, so nothing was appended.
var ErrAuditHeadMoved = errors.New("store: the audit chain head moved during the append")

// ErrAuditNoHead is returned when the audit_head row is missing (deleted
// behind the store's back).
var ErrAuditNoHead = errors.New("store: the audit chain head row is missing")

const auditCols = `seq, at, actor_id, actor_name, actor_role, action, outcome, target_type, target_id,
	client_ip, user_agent, request_id, details, prev_hash, hash`

// The append's statements, prepared once per DB on the writer connection
// (see prepareAudit), so no append compiles SQL: compiling the INSERT, with
// its trigger and five indexes, was about a fifth of an append's cost. A
// transaction reads the head once, runs one INSERT per event, and at its
// commit moves the head and, every auditSearchBatch events, indexes the
// targets appended since the last batch.
const (
	// On PostgreSQL this is SELECT ... FOR UPDATE: the row lock is what
	// serialises appenders there. SQLite has no row locks; the immediate
	// write transaction AppendAudit runs in already holds the database's
	// write lock, so the plain SELECT reads a head no one else can move.
	// The last column is how far the search index reaches (see
	// auditSearchIndexedSQL).
	auditHeadForAppendSQL = `SELECT seq, hash, at, ` + auditSearchIndexedSQL + ` FROM audit_head WHERE id = 1`
	// auditSearchIndexedSQL is the seq up to which the trigram index is
	// complete: its highest rowid. Events are indexed in seq order, in
	// whole ranges, and a batch always indexes its last event (even with an
	// empty target), so every event at or below it with a target is
	// indexed and none above it is. (A rowid-descending scan of the FTS5
	// content table: one probe.)
	auditSearchIndexedSQL = `coalesce((SELECT rowid FROM audit_target_search ORDER BY rowid DESC LIMIT 1), 0)`
	// auditIndexSQL indexes the events after the first argument up to the
	// second for search, in one statement: FTS5 writes one index segment
	// per statement savepoint, so one statement per batch is one segment.
	// An empty target matches no search of three or more characters (the
	// only ones the index answers) and is left out, except the batch's last
	// event, which marks how far the index reaches.
	auditIndexSQL = `INSERT INTO audit_target_search (rowid, target_id)
	SELECT seq, target_id FROM audit_events WHERE seq > ? AND seq <= ? AND (target_id <> '' OR seq = ?)`
	// The seq guard makes a head moved by anyone else fail the commit
	// instead of forking the chain.
	auditMoveHeadSQL = `UPDATE audit_head SET seq = ?, hash = ?, at = ? WHERE id = 1 AND seq = ?`
)

// auditSearchBatch is how many events may wait for the search index.
// Indexing each transaction's events at its commit wrote a small FTS5
// segment (and, as they piled up, merges) with every commit: about a third
// of a one-event commit's pages. In batches, one commit in many pays for
// the index, and a search reads the few events past the index with a plain
// scan (see auditWhere).
const auditSearchBatch = 256

// auditChunks are the row counts of the append's multi-row INSERTs,
// largest first. The events a transaction appends go in at its commit in
// as few statements as they fill (100 events: three of 32 and four of
// one): one statement per row spent most of a many-event commit's time
// stepping the statement machinery, binding and resetting, not writing
// rows.
var auditChunks = []int{32, 8, 1}

// auditInsertSQL inserts n events.
func auditInsertSQL(n int) string {
	row := `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return `INSERT INTO audit_events (` + auditCols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// On PostgreSQL the database links the chain (migrations/postgres/0048): a
// transaction's events go into audit_pending unlinked, and its COMMIT
// links them. auditLinkSQL links them at once instead, for a transaction
// that reads the trail back before its commit.
const (
	auditPendingCols = `at, actor_id, actor_name, actor_role, action, outcome, target_type, target_id,
	client_ip, user_agent, request_id, details`
	auditLinkSQL = `SELECT head_seq, head_hash, head_at FROM audit_link()`
)

// auditLinkInDB has PostgreSQL link the chain itself, at the commit: the
// head row's lock is then held by the COMMIT alone, with no round trip to
// this process. Linked in Go there, the holder made two more round trips
// under it (read the head, insert and move it), and on a busy machine each
// waited for this process to be scheduled: at 10 users in load run 14 the
// head's mean wait was 39 ms. A variable so that a benchmark and the tests
// can set it false (before Open) to measure or exercise linking in Go.
var auditLinkInDB = true

// auditPendingSQL inserts n unlinked events into audit_pending.
func auditPendingSQL(n int) string {
	row := `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	return `INSERT INTO audit_pending (` + auditPendingCols + `) VALUES ` + strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
}

// auditStmts are the append's prepared statements.
type auditStmts struct {
	head, index, move *sql.Stmt
	inserts           []*sql.Stmt // one per auditChunks size: linked events into audit_events, or unlinked ones into audit_pending
	link              *sql.Stmt   // PostgreSQL with auditLinkInDB: audit_link
	hashers           sync.Pool   // of *AuditHasher, for linking in Go
}

// prepareAudit prepares the append's statements on the writer. It runs
// when no transaction holds the writer's only connection (at Open):
// preparing on the pool needs a free connection.
func (db *DB) prepareAudit(ctx context.Context) error {
	var s auditStmts
	type prep struct {
		dst **sql.Stmt
		q   string
	}
	stmts := []prep{{&s.head, auditHeadForAppendSQL}, {&s.move, auditMoveHeadSQL}, {&s.index, auditIndexSQL}}
	if db.pg {
		// The row lock on the head is what makes appenders on several
		// connections (and servers) take turns: one chain, no forks. The
		// trigram index is on audit_events itself, so there is no separate
		// search table to write: the search index always reaches the head.
		stmts[0].q = `SELECT seq, hash, at, seq FROM audit_head WHERE id = 1 FOR UPDATE`
		stmts = stmts[:2]
	}
	// One statement per chunk size: query(n) for n rows.
	perChunk := func(dst *[]*sql.Stmt, query func(n int) string) {
		*dst = make([]*sql.Stmt, len(auditChunks))
		for i, n := range auditChunks {
			stmts = append(stmts, prep{&(*dst)[i], query(n)})
		}
	}
	if db.pg && auditLinkInDB {
		stmts = append(stmts[:0], prep{&s.link, auditLinkSQL})
		perChunk(&s.inserts, auditPendingSQL)
	} else {
		perChunk(&s.inserts, auditInsertSQL)
	}
	for _, p := range stmts {
		st, err := db.Write.PrepareContext(ctx, p.q)
		if err != nil {
			s.close()
			return fmt.Errorf("prepare audit append: %w", explain(err))
		}
		*p.dst = st
	}
	db.audit = &s
	return nil
}

func (s *auditStmts) close() error {
	if s == nil {
		return nil
	}
	var errs []error
	for _, st := range append([]*sql.Stmt{s.head, s.index, s.move, s.link}, s.inserts...) {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	return errors.Join(errs...)
}

// AppendAudit appends r to the audit chain inside t. r is the event
// without its place in the chain: the store fills Seq, PrevHash and Hash
// (see auditLink) and keeps r.At unless it is earlier than the previous
// event's time. The event commits if and only if t does, and no other
// writer can append between t's read of the head and its move.
//
// The events wait in t and are linked at its commit (or when t reads the
// trail back: AuditNewest, AuditChain), under the head row's lock (on
// PostgreSQL, where writers run side by side, the one lock every appender
// needs; SQLite has one writer). Taken after every other lock t takes, it
// is held for the append and the commit alone, and a transaction holding
// it never waits for anything else.
//
// On SQLite the store links in Go and inserts through multi-row INSERTs
// (auditChunks), moving the head row at the commit (and, once
// auditSearchBatch events wait for it, the search index catches up). On
// PostgreSQL the events go into audit_pending unlinked, and the COMMIT
// links them: a deferred trigger (migrations/postgres/0048) locks the
// head, links each event, inserts it and moves the head, so the lock is
// held inside the COMMIT alone, never across a round trip to this process
// (a read of the trail before the commit links them at once: audit_link).
//
// Errors (database errors wrapped, the append-only trigger's refusal among
// them) come from the commit, which then rolls t back. ErrAuditHeadMoved
// means the head row changed under t (a writer that did not lock it).
func (t *Tx) AppendAudit(ctx context.Context, r AuditRecord) error {
	if _, err := t.auditStmts(); err != nil {
		return err
	}
	a := &t.audit
	if !a.registered {
		a.registered = true
		t.beforeCommit = append(t.beforeCommit, func() error { return t.auditCommit(ctx) })
	}
	a.pending = append(a.pending, r)
	return nil
}

// auditFlush appends, now, the events t's AppendAudit calls are holding
// for its commit, and takes the chain's head for the rest of t: the reads
// of the trail inside t (AuditNewest, AuditChain) see t's own events.
// Nothing to do when t appended nothing.
func (t *Tx) auditFlush(ctx context.Context) error {
	if len(t.audit.pending) == 0 {
		return nil
	}
	if err := t.auditDrain(ctx); err != nil {
		return err
	}
	if t.db.audit.link == nil {
		return nil
	}
	// PostgreSQL: link what was just put in audit_pending now, not at the
	// commit.
	a := &t.audit
	if err := t.stx.StmtContext(ctx, t.db.audit.link).QueryRowContext(ctx).Scan(&a.head.Seq, &a.head.Hash, &a.head.At); err != nil {
		return fmt.Errorf("link audit events: %w", err)
	}
	a.locked = true
	return nil
}

// auditDrain inserts the waiting events: linked in Go after the head,
// which it takes; or, when PostgreSQL links them, into audit_pending.
func (t *Tx) auditDrain(ctx context.Context) error {
	a := &t.audit
	s := t.db.audit
	inDB := s.link != nil
	if !inDB {
		if err := t.auditLockHead(ctx); err != nil {
			return err
		}
		hs, _ := s.hashers.Get().(*AuditHasher)
		if hs == nil {
			hs = NewAuditHasher()
		}
		for i := range a.pending {
			a.head = auditLink(hs, a.head, &a.pending[i])
		}
		s.hashers.Put(hs)
	}
	recs := a.pending
	for len(recs) > 0 {
		i := 0
		for auditChunks[i] > len(recs) {
			i++
		}
		n := auditChunks[i]
		a.args = a.args[:0]
		for _, r := range recs[:n] {
			if !inDB {
				a.args = append(a.args, r.Seq)
			}
			a.args = append(a.args, r.At, r.ActorID, r.ActorName, r.ActorRole,
				r.Action, r.Outcome, r.TargetType, r.TargetID, r.ClientIP, r.UserAgent, r.RequestID, r.Details)
			if !inDB {
				a.args = append(a.args, r.PrevHash, r.Hash)
			}
		}
		if _, err := t.stx.StmtContext(ctx, s.inserts[i]).ExecContext(ctx, a.args...); err != nil {
			return fmt.Errorf("insert %d audit events: %w", n, err)
		}
		recs = recs[n:]
	}
	a.pending = a.pending[:0]
	return nil
}

// auditMoved checks the head row's move: one row, or the head was no
// longer the one read.
func auditMoved(res sql.Result, read int64) error {
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%w (it was at %d when read)", ErrAuditHeadMoved, read)
	}
	return nil
}

// auditLockHead reads the head row once per transaction, locked on
// PostgreSQL (see auditHeadForAppendSQL).
func (t *Tx) auditLockHead(ctx context.Context) error {
	a := &t.audit
	if a.locked {
		return nil
	}
	err := t.stx.StmtContext(ctx, t.db.audit.head).QueryRowContext(ctx).Scan(&a.head.Seq, &a.head.Hash, &a.head.At, &a.indexed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return ErrAuditNoHead
	case err != nil:
		return fmt.Errorf("read audit chain head: %w", err)
	}
	a.locked, a.read = true, a.head
	return nil
}

// auditTxState is what a write transaction knows of the audit chain: the
// events waiting for its commit and, once it has taken the head, the head
// row it read (and holds locked), the head it has moved the chain to, and
// how far the search index reaches.
type auditTxState struct {
	registered bool // auditCommit is among t's beforeCommit
	pending    []AuditRecord
	locked     bool
	read       AuditHead
	head       AuditHead
	indexed    int64 // the search index is complete up to this seq
	args       []any // reused for each INSERT's values
}

// auditCommit runs just before a transaction that appended commits: it
// appends what waits and, when linking in Go, moves the head row and, once
// auditSearchBatch events wait for the search index, indexes them.
//
// The index is not written at each append: an insert into audit_events
// fires triggers, so SQLite gives it a statement savepoint, and at every
// savepoint FTS5 flushes the terms it holds to disk, one small segment per
// event. Nor at each commit: that is still a segment per commit, and the
// merges they cause. One statement per batch makes one segment per batch.
func (t *Tx) auditCommit(ctx context.Context) error {
	if err := t.auditDrain(ctx); err != nil {
		return err
	}
	a, s := &t.audit, t.db.audit
	if s.link != nil || !a.locked {
		return nil // PostgreSQL: the COMMIT links the events and moves the head row
	}
	if s.index != nil && a.head.Seq-a.indexed >= auditSearchBatch {
		if _, err := t.stx.StmtContext(ctx, s.index).ExecContext(ctx, a.indexed, a.head.Seq, a.head.Seq); err != nil {
			return fmt.Errorf("index audit events %d to %d for search: %w", a.indexed+1, a.head.Seq, err)
		}
	}
	res, err := t.stx.StmtContext(ctx, s.move).ExecContext(ctx, a.head.Seq, a.head.Hash, a.head.At, a.read.Seq)
	if err != nil {
		return fmt.Errorf("move audit chain head to %d: %w", a.head.Seq, err)
	}
	return auditMoved(res, a.read.Seq)
}

// auditStmts returns the prepared append statements of t's database.
func (t *Tx) auditStmts() (*auditStmts, error) {
	if t.db == nil || t.db.audit == nil {
		return nil, errors.New("store: audit append outside a write transaction of an open store")
	}
	return t.db.audit, nil
}

// AuditAdoptImported takes in events that were inserted into audit_events
// directly rather than through AppendAudit (a test fixture, an operator's
// bulk import): it indexes every event the search index does not reach yet
// (appended ones waiting for their batch among them) and moves the head
// row to the newest event. It returns how many events past the head row it
// took in. It checks nothing about the chain: Verify does. Call it in a
// transaction of its own, not one that appends.
func (t *Tx) AuditAdoptImported(ctx context.Context) (int64, error) {
	if t.audit.registered {
		return 0, errors.New("store: AuditAdoptImported in a transaction that appended audit events")
	}
	var from, indexed, newest int64
	indexedSQL := auditSearchIndexedSQL
	if t.pg {
		// The trigram index is on audit_events itself: nothing to index.
		indexedSQL = `coalesce((SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), 0)`
	}
	if err := t.stx.QueryRowContext(ctx, `SELECT seq, `+indexedSQL+`,
		coalesce((SELECT seq FROM audit_events ORDER BY seq DESC LIMIT 1), 0) FROM audit_head WHERE id = 1`).Scan(&from, &indexed, &newest); err != nil {
		return 0, fmt.Errorf("read audit chain head: %w", err)
	}
	if newest > indexed {
		if _, err := t.stx.ExecContext(ctx, auditIndexSQL, indexed, newest, newest); err != nil {
			return 0, fmt.Errorf("index imported audit events: %w", err)
		}
	}
	if newest <= from {
		return 0, nil
	}
	if _, err := t.stx.ExecContext(ctx, `UPDATE audit_head SET (seq, hash, at) =
		(SELECT seq, hash, at FROM audit_events WHERE seq = ?) WHERE id = 1`, newest); err != nil {
		return 0, fmt.Errorf("move audit chain head: %w", err)
	}
	var n int64
	if err := t.stx.QueryRowContext(ctx, `SELECT count(*) FROM audit_events WHERE seq > ?`, from).Scan(&n); err != nil {
		return 0, fmt.Errorf("count imported audit events: %w", err)
	}
	return n, nil
}

// AuditNewest returns the newest event's head on t's snapshot (the zero
// AuditHead for an empty trail). It reads the events, not the head row:
// it is what the trail itself shows.
func (t *Tx) AuditNewest(ctx context.Context) (AuditHead, error) {
	if err := t.auditFlush(ctx); err != nil {
		return AuditHead{}, err
	}
	return auditNewest(ctx, t.stx)
}

// AuditNewest returns the newest event's head from the read pool.
func (db *DB) AuditNewest(ctx context.Context) (AuditHead, error) { return auditNewest(ctx, db.Read) }

// auditQuerier is what both a pool and a transaction offer.
type auditQuerier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditNewest(ctx context.Context, q auditQuerier) (AuditHead, error) {
	var h AuditHead
	err := q.QueryRowContext(ctx, `SELECT seq, hash, at FROM audit_events ORDER BY seq DESC LIMIT 1`).Scan(&h.Seq, &h.Hash, &h.At)
	if errors.Is(err, sql.ErrNoRows) {
		return AuditHead{}, nil
	}
	if err != nil {
		return AuditHead{}, fmt.Errorf("read newest audit event: %w", err)
	}
	return h, nil
}

// AuditChain streams the events with seq ≥ from in seq order to each and
// returns the head row, all on one snapshot: the read pool's, so it sees
// committed events only. present is false when the head row is missing.
// An error from each stops the walk and is returned as is.
func (db *DB) AuditChain(ctx context.Context, from int64, each func(*AuditRecord) error) (head AuditHead, present bool, err error) {
	stx, err := db.beginRead(ctx)
	if err != nil {
		return AuditHead{}, false, fmt.Errorf("begin read transaction: %w", err)
	}
	defer stx.Rollback()
	return auditChain(ctx, stx, from, each)
}

// AuditChain is DB.AuditChain on t, which sees t's own uncommitted
// events; after t appended, the head is the one t will leave in the head
// row at its commit.
func (t *Tx) AuditChain(ctx context.Context, from int64, each func(*AuditRecord) error) (head AuditHead, present bool, err error) {
	if err := t.auditFlush(ctx); err != nil {
		return AuditHead{}, false, err
	}
	head, present, err = auditChain(ctx, t.stx, from, each)
	if err == nil && t.audit.locked {
		head, present = t.audit.head, true
	}
	return head, present, err
}

func auditChain(ctx context.Context, q auditQuerier, from int64, each func(*AuditRecord) error) (AuditHead, bool, error) {
	var head AuditHead
	present := true
	err := q.QueryRowContext(ctx, `SELECT seq, hash, at FROM audit_head WHERE id = 1`).Scan(&head.Seq, &head.Hash, &head.At)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		present = false
	case err != nil:
		return AuditHead{}, false, fmt.Errorf("read audit chain head: %w", err)
	}
	rows, err := q.QueryContext(ctx, `SELECT `+auditCols+` FROM audit_events WHERE seq >= ? ORDER BY seq`, from)
	if err != nil {
		return AuditHead{}, false, fmt.Errorf("read audit events: %w", err)
	}
	if err := auditEach(rows, each); err != nil {
		return AuditHead{}, false, err
	}
	return head, present, nil
}

// auditEach scans every row (auditCols) into one reused record and hands
// it to each; it closes rows. each's error comes back as is.
func auditEach(rows *sql.Rows, each func(*AuditRecord) error) error {
	defer rows.Close()
	var r AuditRecord
	for rows.Next() {
		if err := auditScan(rows, &r); err != nil {
			return err
		}
		if err := each(&r); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read audit events: %w", err)
	}
	return nil
}

func auditScan(rows *sql.Rows, r *AuditRecord) error {
	if err := rows.Scan(&r.Seq, &r.At, &r.ActorID, &r.ActorName, &r.ActorRole, &r.Action, &r.Outcome,
		&r.TargetType, &r.TargetID, &r.ClientIP, &r.UserAgent, &r.RequestID, &r.Details, &r.PrevHash, &r.Hash); err != nil {
		return fmt.Errorf("scan audit event: %w", err)
	}
	return nil
}
