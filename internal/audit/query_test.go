package audit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// queryFixture records 61 varied events, one a minute from t0+1m, and
// returns them as recorded (index i is seq i+1).
func queryFixture(t *testing.T) (*Log, []Event) {
	t.Helper()
	db := openDB(t)
	l := New(db, stepClock(t0, time.Minute))
	ctx := context.Background()
	var evs []Event
	for i := range 61 {
		e := Event{
			ActorName: fxActors[i%4], Action: fxActions[i%3], Outcome: OutcomeSuccess,
			TargetType: "refund", TargetID: fmt.Sprintf("RF-%03d", i%9),
		}
		if i%5 == 0 {
			e.Outcome = OutcomeFailure
		}
		if i%10 == 3 {
			e.TargetType, e.TargetID = "user", fmt.Sprintf("u_%d%%x", i)
		}
		if err := l.RecordNow(ctx, e); err != nil {
			t.Fatal(err)
		}
		e.Time = t0.Add(time.Duration(i+1) * time.Minute)
		evs = append(evs, e)
	}
	return l, evs
}

func TestQueryFiltersAndKeysetPaging(t *testing.T) {
	l, evs := queryFixture(t)
	ctx := context.Background()
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	tests := []struct {
		name string
		f    Filter
		keep func(e Event) bool
	}{
		{"all", Filter{}, func(Event) bool { return true }},
		{"actor", Filter{Actor: "bob"}, func(e Event) bool { return e.ActorName == "bob" }},
		{"action", Filter{Action: fxActions[1]}, func(e Event) bool { return e.Action == fxActions[1] }},
		{"outcome", Filter{Outcome: OutcomeFailure}, func(e Event) bool { return e.Outcome == OutcomeFailure }},
		{"target", Filter{TargetType: "refund", TargetID: "RF-004"}, func(e Event) bool { return e.TargetType == "refund" && e.TargetID == "RF-004" }},
		{"target type", Filter{TargetType: "user"}, func(e Event) bool { return e.TargetType == "user" }},
		{"text case-insensitive", Filter{Text: "rf-00"}, func(e Event) bool { return strings.HasPrefix(e.TargetID, "RF-00") }},
		{"text wildcard chars are literal", Filter{Text: "3%x"}, func(e Event) bool { return strings.Contains(e.TargetID, "3%x") }},
		{"text underscore literal", Filter{Text: "_"}, func(e Event) bool { return strings.Contains(e.TargetID, "_") }},
		{"from inclusive", Filter{From: at(17)}, func(e Event) bool { return !e.Time.Before(at(17)) }},
		{"to exclusive", Filter{To: at(17)}, func(e Event) bool { return e.Time.Before(at(17)) }},
		{"range", Filter{From: at(10), To: at(40)}, func(e Event) bool { return !e.Time.Before(at(10)) && e.Time.Before(at(40)) }},
		{"range before all", Filter{To: at(1)}, func(Event) bool { return false }},
		{"range after all", Filter{From: at(62)}, func(Event) bool { return false }},
		{"combined", Filter{Actor: "alice", Outcome: OutcomeFailure, From: at(5), To: at(59)}, func(e Event) bool {
			return e.ActorName == "alice" && e.Outcome == OutcomeFailure && !e.Time.Before(at(5)) && e.Time.Before(at(59))
		}},
		{"no match", Filter{Actor: "nobody"}, func(Event) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []int64 // newest first
			for i := len(evs) - 1; i >= 0; i-- {
				if tt.keep(evs[i]) {
					want = append(want, int64(i+1))
				}
			}
			for _, limit := range []int{4, 7, 100} {
				// Forward through every page via Next.
				var got []int64
				var pages []Page
				c := Cursor{}
				for {
					p, err := l.Query(ctx, tt.f, c, limit)
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Entries) > limit || (len(pages) > 0 && p.Prev.IsZero()) || (len(pages) == 0 && !p.Prev.IsZero()) {
						t.Fatalf("limit %d page %d: %d entries, prev %+v", limit, len(pages), len(p.Entries), p.Prev)
					}
					for _, e := range p.Entries {
						if !tt.keep(e.Event) {
							t.Errorf("entry %d does not match the filter: %+v", e.Seq, e.Event)
						}
						got = append(got, e.Seq)
					}
					pages = append(pages, p)
					if p.Next.IsZero() {
						break
					}
					if c, err = ParseCursor(p.Next.Encode()); err != nil {
						t.Fatal(err)
					}
				}
				if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
					t.Fatalf("limit %d forward:\n got %v\nwant %v", limit, got, want)
				}
				// And back via Prev, each page equal to the one seen going forward.
				for i := len(pages) - 1; i > 0; i-- {
					p, err := l.Query(ctx, tt.f, pages[i].Prev, limit)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(seqs(p.Entries), seqs(pages[i-1].Entries)) || p.Next != pages[i-1].Next || p.Prev != pages[i-1].Prev {
						t.Fatalf("limit %d back to page %d: got %v next %v prev %v, want %v next %v prev %v", limit, i-1,
							seqs(p.Entries), p.Next, p.Prev, seqs(pages[i-1].Entries), pages[i-1].Next, pages[i-1].Prev)
					}
				}
			}
		})
	}
}

func seqs(es []Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func TestQueryPageSizeDefaults(t *testing.T) {
	l, _ := queryFixture(t)
	p, err := l.Query(context.Background(), Filter{}, Cursor{}, 0)
	if err != nil || len(p.Entries) != DefaultPageSize || p.Entries[0].Seq != 61 || p.Next != (Cursor{BeforeSeq: 61 - DefaultPageSize + 1}) {
		t.Fatalf("default page: %d entries, next %+v, %v", len(p.Entries), p.Next, err)
	}
	p, _ = l.Query(context.Background(), Filter{}, Cursor{BeforeSeq: 1}, 10)
	if len(p.Entries) != 0 || !p.Next.IsZero() || !p.Prev.IsZero() {
		t.Errorf("past the end: %+v", p)
	}
}

func TestTimelineActorsGet(t *testing.T) {
	l, evs := queryFixture(t)
	ctx := context.Background()
	tl, err := l.Timeline(ctx, "refund", "RF-002")
	if err != nil {
		t.Fatal(err)
	}
	var want []int64
	for i, e := range evs {
		if e.TargetType == "refund" && e.TargetID == "RF-002" {
			want = append(want, int64(i+1))
		}
	}
	if !slices.Equal(seqs(tl), want) || len(want) < 5 {
		t.Errorf("timeline = %v, want %v (oldest first)", seqs(tl), want)
	}
	if tl, err := l.Timeline(ctx, "refund", "nope"); err != nil || tl == nil || len(tl) != 0 {
		t.Errorf("empty timeline = %#v, %v", tl, err)
	}
	actors, err := l.Actors(ctx)
	if err != nil || !slices.Equal(actors, []string{"alice", "bob", "carol", "dave"}) {
		t.Errorf("actors = %v, %v", actors, err)
	}
	if a, err := New(openDB(t), nil).Actors(ctx); err != nil || len(a) != 0 {
		t.Errorf("actors of empty log = %v, %v", a, err)
	}
	e, err := l.Get(ctx, 30)
	if err != nil || e.Seq != 30 || e.TargetID != evs[29].TargetID || !e.Time.Equal(evs[29].Time) {
		t.Errorf("Get(30) = %+v, %v", e, err)
	}
}

func TestCursorEncoding(t *testing.T) {
	for _, c := range []Cursor{{}, {BeforeSeq: 42}, {AfterSeq: 7}} {
		got, err := ParseCursor(c.Encode())
		if err != nil || got != c {
			t.Errorf("round trip %+v -> %q -> %+v, %v", c, c.Encode(), got, err)
		}
	}
	for _, s := range []string{"x1", "b", "b0", "b-3", "a1x", "1"} {
		if _, err := ParseCursor(s); !errors.Is(err, ErrBadCursor) {
			t.Errorf("ParseCursor(%q) err = %v", s, err)
		}
	}
}

// Every review query must walk an index in seq order: a "TEMP B-TREE"
// (sort) or a full scan under a filter would make pages slow at millions of
// rows. Without ANALYZE the plan does not depend on the table's size, so a
// small table shows the plan a big one gets.
func TestQueryPlansUseIndexesWithoutSorting(t *testing.T) {
	db := openDB(t)
	if db.Postgres() {
		t.Skip("pins SQLite's query plans; PostgreSQL's planner is cost-based and its search index is checked in TestTargetSearch")
	}
	ctx := context.Background()
	for _, bf := range benchFilters {
		for _, c := range []string{"", ` AND seq < 100 `, ` AND seq > 100 `} {
			// The cursor is the seq range's bound, as Query passes it.
			lo, hi, asc := int64(1), int64(1<<40), false
			switch c {
			case ` AND seq < 100 `:
				hi = 99
			case ` AND seq > 100 `:
				lo, asc = 101, true
			}
			plan, err := db.AuditExplainList(ctx, bf.f.storeFilter(lo, hi), asc)
			if err != nil {
				t.Fatal(err)
			}
			all := strings.Join(plan, "; ")
			wantIndex := bf.name != "all" && bf.name != "text" && bf.name != "day"
			if strings.Contains(all, "TEMP B-TREE") || (wantIndex && !strings.Contains(all, "USING INDEX") && !strings.Contains(all, "USING COVERING INDEX")) {
				t.Errorf("%s%s: plan %q", bf.name, c, all)
			}
			if testing.Verbose() {
				t.Logf("%s%s: %s", bf.name, c, all)
			}
		}
	}
}

// TestActorsFollowNewEvents: after the first call the actor list is kept
// and only events appended since are read; new names appear at once, in
// order, and the list equals a full DISTINCT over the table.
func TestActorsFollowNewEvents(t *testing.T) {
	ctx := context.Background()
	db := openDB(t)
	l := New(db, nil)
	record := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if err := l.RecordNow(ctx, Event{ActorName: n, Action: ActionLogin, Outcome: OutcomeSuccess}); err != nil {
				t.Fatal(err)
			}
		}
	}
	distinct := func() []string {
		t.Helper()
		rows, err := db.Read.Query(`SELECT DISTINCT actor_name FROM audit_events ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	for i, names := range [][]string{{"minh", "lan"}, {"lan"}, {"an", "zoe", "minh"}, {}, {"hoa"}} {
		record(names...)
		got, err := l.Actors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := distinct(); !slices.Equal(got, want) || (i > 0 && len(want) == 0) {
			t.Fatalf("step %d: actors = %v, want %v", i, got, want)
		}
		got[0] = "mutated" // callers get a copy
	}
	if got, _ := l.Actors(ctx); !slices.Equal(got, []string{"an", "hoa", "lan", "minh", "zoe"}) {
		t.Errorf("actors = %v", got)
	}
}
