package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

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

// storeFilter is f as the store's filter over the seq range [lo, hi].
func (f Filter) storeFilter(lo, hi int64) store.AuditFilter {
	return store.AuditFilter{From: f.From, To: f.To, Actor: f.Actor, Action: f.Action, Outcome: f.Outcome,
		TargetType: f.TargetType, TargetID: f.TargetID, Text: f.Text, Lo: lo, Hi: hi}
}

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
	spanLo, spanHi, ok, err := l.db.AuditSpan(ctx, f.From, f.To)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("audit: query: %w", err)
		}
		return Page{Entries: []Entry{}}, err
	}
	lo, hi := spanLo, spanHi
	// Newest first by default; AfterSeq pages towards newer events.
	backward := c.AfterSeq > 0 && c.BeforeSeq == 0
	switch {
	case backward:
		lo = max(lo, c.AfterSeq+1)
	case c.BeforeSeq > 0:
		hi = min(hi, c.BeforeSeq-1)
	}
	if lo > hi {
		return Page{Entries: []Entry{}}, nil
	}
	recs, err := l.db.AuditList(ctx, f.storeFilter(lo, hi), backward, limit+1)
	if err != nil {
		return Page{}, fmt.Errorf("audit: query: %w", err)
	}
	entries := make([]Entry, 0, len(recs))
	for i := range recs {
		e, err := summary(&recs[i])
		if err != nil {
			return Page{}, err
		}
		entries = append(entries, e)
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
	ok, err := l.db.AuditExists(ctx, f.storeFilter(lo, hi))
	if err != nil {
		return false, fmt.Errorf("audit: query: %w", err)
	}
	return ok, nil
}

// Get returns the event with the given seq, or ErrNotFound.
func (l *Log) Get(ctx context.Context, seq int64) (Entry, error) {
	r, found, err := l.db.AuditGet(ctx, seq)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: query: %w", err)
	}
	if !found {
		return Entry{}, fmt.Errorf("%w: seq %d", ErrNotFound, seq)
	}
	return entry(&r)
}

// Timeline returns every event about one target (for a refund: type
// "refund" and its id), oldest first. No events is an empty slice, not an
// error.
func (l *Log) Timeline(ctx context.Context, targetType, targetID string) ([]Entry, error) {
	recs, err := l.db.AuditTimeline(ctx, targetType, targetID)
	if err != nil {
		return nil, fmt.Errorf("audit: query: %w", err)
	}
	out := make([]Entry, 0, len(recs))
	for i := range recs {
		e, err := entry(&recs[i])
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Actors lists the distinct actor names, sorted, for a filter drop-down.
// The first call skips through the (actor_name, seq) index, one probe per
// name; the log is append-only, so later calls only read the events
// appended since (a range of the primary key) and merge their names in.
func (l *Log) Actors(ctx context.Context) ([]string, error) {
	c := &l.actors
	c.mu.Lock()
	defer c.mu.Unlock()
	head, names, err := l.db.AuditActorsSince(ctx, c.upto)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	if head < c.upto { // the file was replaced by a shorter one (a restore): start again
		c.upto, c.names = 0, nil
		if head, names, err = l.db.AuditActorsSince(ctx, 0); err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
	}
	for _, n := range names {
		if i, found := slices.BinarySearch(c.names, n); !found {
			c.names = slices.Insert(c.names, i, n)
		}
	}
	c.upto = head
	return append([]string{}, c.names...), nil
}

// actorCache holds the actor names of events up to seq upto, sorted.
type actorCache struct {
	mu    sync.Mutex
	upto  int64
	names []string
}

// summary is r, a record with the review list's fields only, as an Entry.
func summary(r *row) (Entry, error) {
	t, err := store.ParseTime(r.At)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: seq %d: bad time %q: %w", r.Seq, r.At, err)
	}
	return Entry{Seq: r.Seq, Event: Event{Time: t, ActorID: r.ActorID, ActorName: r.ActorName, ActorRole: r.ActorRole,
		Action: r.Action, Outcome: r.Outcome, TargetType: r.TargetType, TargetID: r.TargetID, ClientIP: r.ClientIP}}, nil
}

// entry is a whole stored record as an Entry, its details decoded.
func entry(r *row) (Entry, error) {
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
