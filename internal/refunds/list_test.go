package refunds

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/clock"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

func TestListKeysetPagination(t *testing.T) {
	clk := clock.NewStepping(time.Date(2025, 6, 1, 3, 0, 0, 0, time.UTC), time.Minute)
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(100_000_000, 0)}}, Options{Now: clk.Now})
	ctx := context.Background()
	var ids []string
	for i := range 7 {
		a := staff
		if i%2 == 1 {
			a = staff2
		}
		ids = append(ids, mustCreate(t, s, a, colRequest(int64(1000*(7-i)), "")).ID)
	}
	if _, err := s.Approve(ctx, manager, ids[0], ""); err != nil {
		t.Fatal(err)
	}

	collect := func(f ListFilter, limit int) []string {
		t.Helper()
		var out []string
		var cur Cursor
		for pages := 0; ; pages++ {
			items, next, err := s.List(ctx, f, cur, limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(items) > limit || pages > 20 {
				t.Fatalf("page of %d", len(items))
			}
			for _, r := range items {
				out = append(out, r.ID)
			}
			if next == "" {
				return out
			}
			cur = next
		}
	}
	eq := func(name string, got, want []string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %v, want %v", name, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: got %v, want %v", name, got, want)
			}
		}
	}
	eq("date asc", collect(ListFilter{}, 3), ids)
	rev := make([]string, len(ids))
	for i, id := range ids {
		rev[len(ids)-1-i] = id
	}
	eq("date desc", collect(ListFilter{Desc: true}, 2), rev)
	eq("amount asc", collect(ListFilter{Sort: "amount", Currency: "VND"}, 4), rev) // amounts fall as ids rise
	eq("by maker", collect(ListFilter{RequestedBy: staff2.ID}, 2), []string{ids[1], ids[3], ids[5]})
	eq("approved", collect(ListFilter{Approval: ApprovalApproved}, 5), ids[:1])
	eq("queued", collect(ListFilter{Submission: SubQueued}, 5), ids[:1])
	eq("amount range", collect(ListFilter{MinAmount: 2000, MaxAmount: 4000, Currency: "VND"}, 5), []string{ids[3], ids[4], ids[5]})
	eq("amount range in another currency", collect(ListFilter{MinAmount: 2000, MaxAmount: 4000, Currency: "USD"}, 5), nil)
	if _, _, err := s.List(ctx, ListFilter{MinAmount: 2000}, "", 5); err == nil {
		t.Error("an amount limit without a currency was accepted")
	}
	first := mustGet(t, s, ids[2])
	eq("from", collect(ListFilter{From: first.RequestedAt, To: first.RequestedAt.Add(2 * time.Minute)}, 5), ids[2:4])
	eq("api", collect(ListFilter{API: APIPG}, 5), nil)

	_, next, _ := s.List(ctx, ListFilter{}, "", 2)
	if _, _, err := s.List(ctx, ListFilter{Sort: "amount", Currency: "VND"}, next, 2); err == nil {
		t.Error("cursor of another sort accepted")
	}
	if _, _, err := s.List(ctx, ListFilter{}, "!!garbage", 2); err == nil {
		t.Error("garbage cursor accepted")
	}
	if _, _, err := s.List(ctx, ListFilter{Approval: "MAYBE"}, "", 2); err == nil {
		t.Error("unknown approval accepted")
	}
}

func TestLookup(t *testing.T) {
	db := openDB(t)
	gc := &fakeGC{getOrder: func(_ context.Context, id, _ string) (neox.CollectionOrder, error) {
		if id != "CO1" {
			return neox.CollectionOrder{}, &neox.RejectedError{API: "GC", Code: "2", Message: "RESOURCE_NOT_FOUND"}
		}
		return neox.CollectionOrder{ID: id, Status: "SUCCESS", Currency: "USD", Amount: 150000}, nil
	}}
	s := newService(t, db, Gateways{PG: &fakePG{queryPT: paidPG(2_000_000, 500_000, "CC")}, GC: gc}, Options{Now: newClock().Now})
	ctx := context.Background()
	mustCreate(t, s, staff, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 300_000, ReasonCode: "X"})

	l, err := s.Lookup(ctx, "en", APIPG, " TXN1 ")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Targets) != 2 || len(l.Refunds) != 1 || l.FetchedAt.IsZero() {
		t.Fatalf("lookup = %+v", l)
	}
	p1, p2 := l.Targets[0], l.Targets[1]
	if !p1.Paid || p1.Refunded != 500_000 || p1.Reserved != 300_000 || p1.Refundable != 1_200_000 {
		t.Errorf("P1 = %+v", p1)
	}
	if p2.Paid || p2.Refundable != 0 {
		t.Errorf("P2 = %+v", p2)
	}
	if _, err := s.Lookup(ctx, "en", APIPG, "NOPE"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown PG txn: %v", err)
	}
	if _, err := s.Lookup(ctx, "en", APIGC, "CO2"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown GC order: %v", err)
	}
	if _, err := s.Lookup(ctx, "en", APICOL, "CT1"); !errors.Is(err, ErrNotConfigured) {
		t.Errorf("unconfigured COL: %v", err)
	}
	o, err := s.Lookup(ctx, "en", APIGC, "CO1")
	if err != nil || len(o.Targets) != 1 || o.Targets[0].Refundable != 150000 || o.Targets[0].Amount != 150000 {
		t.Fatalf("GC lookup = %+v, %v", o, err)
	}
	recent, err := s.RecentLookups(ctx, 5)
	if err != nil || len(recent) != 2 || recent[0].API != APIGC || recent[1].Ref != "TXN1" {
		t.Errorf("recent = %+v, %v", recent, err)
	}
	if got := s.Configured(); len(got) != 2 || got[0] != APIPG || got[1] != APIGC {
		t.Errorf("configured = %v", got)
	}
}

func TestTypedNilGatewayIsNotConfigured(t *testing.T) {
	var pg *neox.PG
	s := New(nil, fakeRecorder{}, Gateways{PG: pg}, Options{})
	if len(s.Configured()) != 0 {
		t.Errorf("configured = %v", s.Configured())
	}
}

// A lookup whose answer is the one kept moments ago is not written again
// (the writer is what pages wait for); a changed answer, or the same one
// after KeepUnchangedFor, is.
func TestLookupKeepsOnlyWhatChanged(t *testing.T) {
	db := openDB(t)
	clk := newClock()
	refunded := int64(500_000)
	pg := &fakePG{queryPT: func(ctx context.Context, txn string) ([]neox.Payment, error) {
		return paidPG(2_000_000, refunded, "CC")(ctx, txn)
	}}
	s := newService(t, db, Gateways{PG: pg}, Options{Now: clk.Now})
	ctx := context.Background()
	kept := func() time.Time {
		t.Helper()
		_, at, err := db.CachedLookup(ctx, "PG", "TXN1")
		if err != nil {
			t.Fatal(err)
		}
		return at
	}
	lookup := func() Lookup {
		t.Helper()
		l, err := s.Lookup(ctx, "en", APIPG, "TXN1")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	first := lookup()
	at := kept()
	if !at.Equal(first.FetchedAt) {
		t.Fatalf("kept at %v, looked up at %v", at, first.FetchedAt)
	}
	clk.Advance(5 * time.Second)
	if again := lookup(); !again.FetchedAt.After(first.FetchedAt) || !kept().Equal(at) {
		t.Errorf("the same answer 5 s later was written again (kept %v, first %v)", kept(), at)
	}
	// Something changed here: a refund reserves part of P1.
	mustCreate(t, s, staff, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 300_000, ReasonCode: "X"})
	changed := lookup()
	if !kept().Equal(changed.FetchedAt) {
		t.Errorf("an answer with a new reservation was not kept")
	}
	// Something changed at NeoX.
	clk.Advance(time.Second)
	refunded = 600_000
	if l := lookup(); !kept().Equal(l.FetchedAt) {
		t.Errorf("NeoX's new refunded amount was not kept")
	}
	// The same answer, once KeepUnchangedFor has passed.
	clk.Advance(KeepUnchangedFor)
	if l := lookup(); !kept().Equal(l.FetchedAt) {
		t.Errorf("an answer older than KeepUnchangedFor was not renewed")
	}
}

// Totals past the cap: a filter on what a refund never changes stays
// capped without counting again (refunds only grow); one on a state does
// not, since its matches can fall under the cap.
func TestTotalsCappedStaysCappedOnlyWhenMatchesOnlyGrow(t *testing.T) {
	db := openDB(t)
	s := newService(t, db, Gateways{COL: &fakeCOL{getTxn: paidCOL(100_000_000, 0)}}, Options{})
	s.totalsCap = 3
	ctx := context.Background()
	var ids []string
	for range 4 {
		ids = append(ids, mustCreate(t, s, staff, colRequest(1000, "")).ID)
	}
	totals := func(f ListFilter) ([]AmountTotal, bool) {
		t.Helper()
		tot, capped, err := s.Totals(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return tot, capped
	}
	for _, f := range []ListFilter{{}, {RequestedBy: staff.ID}, {RequestedBy: staff.ID, API: APICOL, Currency: "VND"}} {
		hits := s.cappedHits.Load()
		for range 2 {
			if _, capped := totals(f); !capped {
				t.Fatalf("%+v: 4 refunds over a cap of 3, not capped", f)
			}
		}
		if s.cappedHits.Load() != hits+1 {
			t.Errorf("%+v: the second call counted again", f)
		}
	}
	// Pending: 4, capped; after two are rejected, 2 and their totals.
	pending := ListFilter{Approval: ApprovalPending}
	if _, capped := totals(pending); !capped {
		t.Fatal("4 pending over a cap of 3, not capped")
	}
	for _, id := range ids[:2] {
		if _, err := s.Reject(ctx, manager, id, "no"); err != nil {
			t.Fatal(err)
		}
	}
	if tot, capped := totals(pending); capped || len(tot) != 1 || tot[0].Count != 2 || tot[0].Amount != 2000 {
		t.Errorf("2 pending: %+v capped %v; want their totals", tot, capped)
	}
	if _, capped := totals(ListFilter{RequestedBy: staff2.ID}); capped {
		t.Error("another requester's empty list capped")
	}
}
