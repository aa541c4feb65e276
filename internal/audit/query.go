package audit

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Entry is a stored event with its position in the chain.
type Entry struct {
	Seq int64
	Event
	DetailsJSON string // the redacted details exactly as stored and hashed
	PrevHash    string
	Hash        string
}

// Filter selects events; zero fields match everything. From is inclusive,
// To exclusive; the string fields are exact matches except Text, a
// case-insensitive (ASCII) substring of the target id.
type Filter struct {
	From, To   time.Time
	Actor      string
	Action     string
	Outcome    string
	TargetType string
	TargetID   string
	Text       string
}

// Cursor is a keyset position: BeforeSeq asks for the events older than it
// (the next page, newest first), AfterSeq for those newer (the previous
// page). The zero Cursor is the first (newest) page.
type Cursor struct {
	BeforeSeq, AfterSeq int64
}

// IsZero reports whether c is the first-page cursor.
func (c Cursor) IsZero() bool { return c.BeforeSeq == 0 && c.AfterSeq == 0 }

// Encode renders c for a URL query value: "" for the zero cursor, "b<seq>"
// or "a<seq>" otherwise.
func (c Cursor) Encode() string {
	switch {
	case c.BeforeSeq > 0:
		return "b" + strconv.FormatInt(c.BeforeSeq, 10)
	case c.AfterSeq > 0:
		return "a" + strconv.FormatInt(c.AfterSeq, 10)
	}
	return ""
}

// ErrBadCursor is returned by ParseCursor for a value Encode cannot produce.
var ErrBadCursor = errors.New("audit: bad page cursor")

// ParseCursor reads a value made by Cursor.Encode ("" is the zero cursor).
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	n, err := strconv.ParseInt(s[1:], 10, 64)
	if err != nil || n <= 0 {
		return Cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	switch s[0] {
	case 'b':
		return Cursor{BeforeSeq: n}, nil
	case 'a':
		return Cursor{AfterSeq: n}, nil
	}
	return Cursor{}, fmt.Errorf("%w: %q", ErrBadCursor, s)
}

// Page is one page of events, newest first. Next (older) and Prev (newer)
// are zero when there is nothing in that direction.
type Page struct {
	Entries    []Entry
	Next, Prev Cursor
}

// Page sizes for Query.
const (
	DefaultPageSize = 50
	MaxPageSize     = 500
)

const selectCols = `seq, at, actor_id, actor_name, actor_role, action, outcome, target_type, target_id,
	client_ip, user_agent, request_id, details, prev_hash, hash`

// querier is what both the read pool and a transaction offer, so helpers
// can read on one snapshot (a transaction) or on any pooled connection.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// span resolves f's time range to the inclusive seq range [lo, hi] through
// the (at, seq) index: two probes, exact because Record never lets time
// decrease along seq. ok is false when no event can match.
func (l *Log) span(ctx context.Context, db querier, f Filter) (lo, hi int64, ok bool, err error) {
	lo, hi = 1, math.MaxInt64
	probe := func(q string, t time.Time, dst *int64) error {
		err := db.QueryRowContext(ctx, q, store.FormatTime(t)).Scan(dst)
		if errors.Is(err, sql.ErrNoRows) {
			ok = false
			return nil
		}
		return err
	}
	ok = true
	if !f.From.IsZero() {
		err = probe(`SELECT seq FROM audit_events WHERE at >= ? ORDER BY at, seq LIMIT 1`, f.From, &lo)
	}
	if err == nil && ok && !f.To.IsZero() {
		err = probe(`SELECT seq FROM audit_events WHERE at < ? ORDER BY at DESC, seq DESC LIMIT 1`, f.To, &hi)
	}
	if err != nil {
		return 0, 0, false, fmt.Errorf("audit: query time range: %w", err)
	}
	return lo, hi, ok && lo <= hi, nil
}

// where renders f as SQL conditions over the seq range [lo, hi]. Keeping
// a single seq range (time bounds and the keyset cursor merged by the
// caller) lets SQLite walk one index range; the "+at" checks keep the time
// filter exact for rows imported from elsewhere, and their unary + stops the
// planner from walking the at index and sorting instead.
func (f Filter) where(lo, hi int64) (string, []any) {
	conds := []string{`seq BETWEEN ? AND ?`}
	args := []any{lo, hi}
	add := func(c string, a ...any) { conds = append(conds, c); args = append(args, a...) }
	if !f.From.IsZero() {
		add(`+at >= ?`, store.FormatTime(f.From))
	}
	if !f.To.IsZero() {
		add(`+at < ?`, store.FormatTime(f.To))
	}
	if f.Actor != "" {
		add(`actor_name = ?`, f.Actor)
	}
	if f.Action != "" {
		add(`action = ?`, f.Action)
	}
	if f.Outcome != "" {
		add(`outcome = ?`, f.Outcome)
	}
	if f.TargetType != "" {
		add(`target_type = ?`, f.TargetType)
	}
	if f.TargetID != "" {
		add(`target_id = ?`, f.TargetID)
	}
	if f.Text != "" {
		if useTargetSearch(f.Text) {
			// The trigram index finds the candidates; the LIKE below keeps the
			// answer exact whatever the index holds.
			add(`seq IN (SELECT rowid FROM audit_target_search WHERE target_id LIKE ?)`, "%"+f.Text+"%")
		}
		add(`target_id LIKE ? ESCAPE '\'`, "%"+likeEscape(f.Text)+"%")
	}
	return strings.Join(conds, " AND "), args
}

// useTargetSearch reports whether the trigram index can answer a substring
// search: it needs three characters, and LIKE's wildcards must not occur
// (an ESCAPE clause would stop SQLite from handing the LIKE to the index).
func useTargetSearch(text string) bool {
	return utf8.RuneCountInString(text) >= 3 && !strings.ContainsAny(text, `%_\`)
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// listCols are the columns of the review list. Query reads only these:
// decoding each row's details JSON was 40 % of a page's cost, for fields
// the list does not show.
const listCols = `seq, at, actor_id, actor_name, actor_role, action, outcome, target_type, target_id, client_ip`

// Query returns one page of the events matching f, newest first, from the
// read pool. limit ≤ 0 means DefaultPageSize; it is capped at MaxPageSize.
// Each page is an index range walk of limit+1 rows plus one existence
// probe in the other direction, so page depth does not matter.
//
// Entries carry the list's fields only (listCols): no details, user agent,
// request id or hashes. Get returns a whole event.
func (l *Log) Query(ctx context.Context, f Filter, c Cursor, limit int) (Page, error) {
	if limit <= 0 {
		limit = DefaultPageSize
	}
	limit = min(limit, MaxPageSize)
	spanLo, spanHi, ok, err := l.span(ctx, l.db.Read, f)
	if err != nil || !ok {
		return Page{Entries: []Entry{}}, err
	}
	lo, hi := spanLo, spanHi
	// Newest first by default; AfterSeq pages towards newer events.
	backward := c.AfterSeq > 0 && c.BeforeSeq == 0
	order := `DESC`
	switch {
	case backward:
		lo, order = max(lo, c.AfterSeq+1), `ASC`
	case c.BeforeSeq > 0:
		hi = min(hi, c.BeforeSeq-1)
	}
	where, args := f.where(lo, hi)
	entries, err := l.listSummaries(ctx, `SELECT `+listCols+` FROM audit_events WHERE `+where+
		` ORDER BY seq `+order+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return Page{}, err
	}
	more := len(entries) > limit
	if more {
		entries = entries[:limit]
	}
	if backward {
		slices.Reverse(entries)
	}
	p := Page{Entries: entries}
	if len(entries) == 0 {
		return p, nil
	}
	newest, oldest := entries[0].Seq, entries[len(entries)-1].Seq
	// The direction we paged in is known from limit+1; the other needs a probe.
	olderExists, newerExists := more, c.BeforeSeq > 0
	if backward {
		newerExists = more
		olderExists, err = l.exists(ctx, f, spanLo, oldest-1)
	} else if newerExists {
		newerExists, err = l.exists(ctx, f, newest+1, spanHi)
	}
	if err != nil {
		return Page{}, err
	}
	if olderExists {
		p.Next = Cursor{BeforeSeq: oldest}
	}
	if newerExists {
		p.Prev = Cursor{AfterSeq: newest}
	}
	return p, nil
}

func (l *Log) exists(ctx context.Context, f Filter, lo, hi int64) (bool, error) {
	if lo > hi {
		return false, nil
	}
	where, args := f.where(lo, hi)
	var one int
	err := l.db.Read.QueryRowContext(ctx, `SELECT 1 FROM audit_events WHERE `+where+` LIMIT 1`, args...).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("audit: query: %w", err)
	}
	return true, nil
}

// Get returns the event with the given seq, or ErrNotFound.
func (l *Log) Get(ctx context.Context, seq int64) (Entry, error) {
	es, err := l.list(ctx, `SELECT `+selectCols+` FROM audit_events WHERE seq = ?`, seq)
	if err != nil {
		return Entry{}, err
	}
	if len(es) == 0 {
		return Entry{}, fmt.Errorf("%w: seq %d", ErrNotFound, seq)
	}
	return es[0], nil
}

// Timeline returns every event about one target (for a refund: type
// "refund" and its id), oldest first. No events is an empty slice, not an
// error.
func (l *Log) Timeline(ctx context.Context, targetType, targetID string) ([]Entry, error) {
	return l.list(ctx, `SELECT `+selectCols+` FROM audit_events
		WHERE target_type = ? AND target_id = ? ORDER BY seq ASC`, targetType, targetID)
}

// Actors lists the distinct actor names, sorted, for a filter drop-down.
// The first call skips through the (actor_name, seq) index, one probe per
// name; the log is append-only, so later calls only read the events
// appended since (a range of the primary key) and merge their names in.
func (l *Log) Actors(ctx context.Context) ([]string, error) {
	c := &l.actors
	c.mu.Lock()
	defer c.mu.Unlock()
	tx, err := l.db.Read.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("audit: actors: %w", err)
	}
	defer tx.Rollback()
	var head int64
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM audit_events`).Scan(&head); err != nil {
		return nil, fmt.Errorf("audit: actors: %w", err)
	}
	if head < c.upto { // the file was replaced by a shorter one (a restore): start again
		c.upto, c.names = 0, nil
	}
	if head > c.upto {
		query, args := `SELECT DISTINCT actor_name FROM audit_events WHERE seq > ?`, []any{c.upto}
		if c.upto == 0 {
			query, args = `WITH RECURSIVE a(name) AS (
				SELECT min(actor_name) FROM audit_events
				UNION ALL
				SELECT (SELECT min(actor_name) FROM audit_events WHERE actor_name > a.name) FROM a WHERE a.name IS NOT NULL
			) SELECT name FROM a WHERE name IS NOT NULL`, nil
		}
		// The read transaction is one snapshot: nothing past head is seen.
		rows, err := tx.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("audit: actors: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return nil, fmt.Errorf("audit: actors: %w", err)
			}
			if i, found := slices.BinarySearch(c.names, n); !found {
				c.names = slices.Insert(c.names, i, n)
			}
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("audit: actors: %w", err)
		}
		c.upto = head
	}
	return append([]string{}, c.names...), nil
}

// actorCache holds the actor names of events up to seq upto, sorted.
type actorCache struct {
	mu    sync.Mutex
	upto  int64
	names []string
}

// list runs q (selecting selectCols) and returns whole entries.
func (l *Log) list(ctx context.Context, q string, args ...any) ([]Entry, error) {
	var r row
	return l.collect(ctx, func(rows *sql.Rows) (Entry, error) {
		if err := r.scan(rows); err != nil {
			return Entry{}, err
		}
		return r.entry()
	}, q, args...)
}

// listSummaries runs q (selecting listCols) and returns entries with the
// list's fields only.
func (l *Log) listSummaries(ctx context.Context, q string, args ...any) ([]Entry, error) {
	return l.collect(ctx, func(rows *sql.Rows) (Entry, error) {
		var (
			e  Entry
			at string
		)
		if err := rows.Scan(&e.Seq, &at, &e.ActorID, &e.ActorName, &e.ActorRole, &e.Action, &e.Outcome,
			&e.TargetType, &e.TargetID, &e.ClientIP); err != nil {
			return Entry{}, fmt.Errorf("audit: scan: %w", err)
		}
		t, err := store.ParseTime(at)
		if err != nil {
			return Entry{}, fmt.Errorf("audit: seq %d: bad time %q: %w", e.Seq, at, err)
		}
		e.Time = t
		return e, nil
	}, q, args...)
}

// collect runs q on the read pool and turns each row into an entry.
func (l *Log) collect(ctx context.Context, scan func(*sql.Rows) (Entry, error), q string, args ...any) ([]Entry, error) {
	rows, err := l.db.Read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	defer rows.Close()
	out := []Entry{}
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	return out, nil
}

func (r *row) scan(rows *sql.Rows) error {
	err := rows.Scan(&r.Seq, &r.At, &r.ActorID, &r.ActorName, &r.ActorRole, &r.Action, &r.Outcome,
		&r.TargetType, &r.TargetID, &r.ClientIP, &r.UserAgent, &r.RequestID, &r.Details, &r.PrevHash, &r.Hash)
	if err != nil {
		return fmt.Errorf("audit: scan: %w", err)
	}
	return nil
}

func (r *row) entry() (Entry, error) {
	t, err := store.ParseTime(r.At)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: seq %d: bad time %q: %w", r.Seq, r.At, err)
	}
	var details map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(r.Details)))
	dec.UseNumber()
	if err := dec.Decode(&details); err != nil {
		return Entry{}, fmt.Errorf("audit: seq %d: bad details: %w", r.Seq, err)
	}
	return Entry{
		Seq: r.Seq,
		Event: Event{
			Time: t, ActorID: r.ActorID, ActorName: r.ActorName, ActorRole: r.ActorRole,
			Action: r.Action, Outcome: r.Outcome, TargetType: r.TargetType, TargetID: r.TargetID,
			ClientIP: r.ClientIP, UserAgent: r.UserAgent, RequestID: r.RequestID, Details: details,
		},
		DetailsJSON: r.Details,
		PrevHash:    r.PrevHash,
		Hash:        r.Hash,
	}, nil
}
