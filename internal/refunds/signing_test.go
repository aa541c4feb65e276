package refunds

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

func badSignature(op string) error {
	return &neox.RejectedError{API: "PG", Op: op, Code: "98", Message: "Invalid signature"}
}

// TestSigningFaultRecord: one PG answer with code 98 raises the notice at
// once; an unanswered call leaves it; any other PG answer ends it; other
// products' codes do not touch it.
func TestSigningFaultRecord(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	s := newService(t, openDB(t), Gateways{}, Options{Now: func() time.Time { return now }})
	bad := call{op: "refund", outcome: "rejected", code: "98", message: "Invalid signature"}
	steps := []struct {
		name  string
		api   API
		c     call
		raise bool
		count int
	}{
		{"nothing yet", APIPG, call{op: "query_pt", outcome: "unknown", message: "timeout"}, false, 0},
		{"one 98 is enough", APIPG, bad, true, 1},
		{"a timeout says nothing about the signature", APIPG, call{op: "query_pt", outcome: "unknown", message: "timeout"}, true, 1},
		{"GC code 98 is not PG's", APIGC, call{op: "refund", outcome: "success"}, true, 1},
		{"another 98", APIPG, call{op: "query_pt", outcome: "rejected", code: "98", message: "Invalid signature"}, true, 2},
		{"a refusal for another reason means the signature passed", APIPG, call{op: "refund", outcome: "rejected", code: "33"}, false, 0},
		{"98 again", APIPG, bad, true, 1},
		{"an ordinary answer clears it", APIPG, call{op: "query_pt", outcome: "success"}, false, 0},
	}
	var since, last time.Time
	for _, st := range steps {
		now = now.Add(time.Second)
		s.health.record(st.api, now, st.c)
		if st.api == APIPG && st.c.code == "98" {
			last = now
		}
		f, ok := s.SigningFault()
		if ok != st.raise || f.Count != st.count {
			t.Fatalf("%s: fault %+v, raised %v; want raised %v count %d", st.name, f, ok, st.raise, st.count)
		}
		if ok && f.Count == 1 {
			since = last
		}
		if ok && (f.API != APIPG || !f.Since.Equal(since) || !f.Last.Equal(last) || f.Message != "Invalid signature") {
			t.Errorf("%s: fault %+v", st.name, f)
		}
	}
	if out := outagesOf(t, s); len(out) != 0 {
		t.Errorf("a 98 is an answer, not an outage: %+v", out)
	}
}

// TestSigningFaultFromLookups: a lookup answered with 98 is a refusal
// shown as such, and raises the notice; the next lookup NeoX answers
// normally ends it.
func TestSigningFaultFromLookups(t *testing.T) {
	var broken atomic.Bool
	broken.Store(true)
	ok := paidPG(1_000_000, 0, "CC")
	pg := &fakePG{queryPT: func(ctx context.Context, txn string) ([]neox.Payment, error) {
		if broken.Load() {
			return nil, badSignature("query_pt")
		}
		return ok(ctx, txn)
	}}
	s := newService(t, openDB(t), Gateways{PG: pg}, Options{Now: newClock().Now})
	ctx := context.Background()
	_, err := s.Lookup(ctx, "en", APIPG, "TXN1")
	if rej, isRej := neox.IsRejected(err); !isRej || rej.Code != "98" || errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup err = %v, want the 98 refusal", err)
	}
	if f, raised := s.SigningFault(); !raised || f.Op != "query_pt" {
		t.Fatalf("no signing fault after a 98: %+v", f)
	}
	if _, err := s.Create(ctx, staff, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 1, ReasonCode: "X"}); err == nil {
		t.Fatal("request created while NeoX refuses the signature")
	}
	broken.Store(false)
	if _, err := s.Lookup(ctx, "en", APIPG, "TXN1"); err != nil {
		t.Fatal(err)
	}
	if f, raised := s.SigningFault(); raised {
		t.Fatalf("signing fault still raised after a good answer: %+v", f)
	}
}

// TestSigningFaultFromTheWorker: a PG refund answered with 98 fails
// definitely (one send, no retry) and raises the notice; the next PG call
// answered normally (here a lookup) ends it.
func TestSigningFaultFromTheWorker(t *testing.T) {
	db := openDB(t)
	var sends atomic.Int32
	pg := &fakePG{queryPT: paidPG(2_000_000, 0, "CC"),
		refund: func(context.Context, neox.PGRefundRequest) (neox.PGRefundResult, error) {
			sends.Add(1)
			return neox.PGRefundResult{}, badSignature("refund")
		}}
	s := newService(t, db, Gateways{PG: pg}, fastOpts())
	runWorker(t, s)
	r := approved(t, s, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 100_000, ReasonCode: "X"})
	got := waitSubmission(t, s, r.ID, SubFailed)
	if got.NeoXCode != "98" || got.Attempts != 1 {
		t.Errorf("refund = %+v", got)
	}
	f, raised := s.SigningFault()
	if !raised || f.Op != "refund" || f.Count != 1 {
		t.Fatalf("signing fault = %+v, %v", f, raised)
	}
	time.Sleep(20 * time.Millisecond)
	if n := sends.Load(); n != 1 {
		t.Errorf("%d sends after a 98", n)
	}
	if _, err := s.Lookup(context.Background(), "en", APIPG, "TXN1"); err != nil {
		t.Fatal(err)
	}
	if _, raised := s.SigningFault(); raised {
		t.Error("signing fault not cleared by a good answer")
	}
}

// TestGCSubMerchantReachesNeoX: the sub-merchant typed on the request goes
// with every GC order lookup: the request's check, the approval's
// re-check and the worker's poll.
func TestGCSubMerchantReachesNeoX(t *testing.T) {
	db := openDB(t)
	var mu sync.Mutex
	subs := map[string][]string{} // sub-merchant → calls
	var n atomic.Int32
	gc := &fakeGC{
		getOrder: func(_ context.Context, id, sub string) (neox.CollectionOrder, error) {
			mu.Lock()
			subs[sub] = append(subs[sub], id)
			mu.Unlock()
			if sub != "SUB-MERCH-00091" {
				return neox.CollectionOrder{}, &neox.RejectedError{API: "GC", Op: "get_order", Code: "2", Message: "RESOURCE_NOT_FOUND"}
			}
			st := "SUCCESS"
			if n.Add(1) > 2 { // after the request and the approval: being refunded, then done
				st = "REFUND_SUCCESS"
			}
			return neox.CollectionOrder{ID: id, Status: st, Currency: "USD", Amount: 64_000, PayCurrency: "USD", PayAmount: 64_000}, nil
		},
		refund: func(_ context.Context, r neox.GCRefundRequest) (neox.GCRefundResult, error) {
			if r.SubMerchantID != "SUB-MERCH-00091" {
				t.Errorf("refund request = %+v", r)
			}
			return neox.GCRefundResult{CollectionOrderID: r.CollectionOrderID, RefundRequestID: "RF-1", Status: "PROCESSING"}, nil
		}}
	opts := fastOpts()
	opts.PollInterval = time.Millisecond
	s := newService(t, db, Gateways{GC: gc}, opts)
	ctx := context.Background()
	if _, err := s.LookupSubMerchant(ctx, "en", APIGC, "CO7", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup without the sub-merchant: %v", err)
	}
	l, err := s.LookupSubMerchant(ctx, "en", APIGC, "CO7", " SUB-MERCH-00091 ")
	if err != nil || len(l.Targets) != 1 || l.Targets[0].Refundable == 0 || lineOf(l.Targets[0], "rf.sub").Text != "SUB-MERCH-00091" {
		t.Fatalf("lookup = %+v, %v", l.Targets, err)
	}
	n.Store(0)
	runWorker(t, s)
	r := approved(t, s, NewRequest{API: APIGC, TransactionRef: "CO7", ReasonCode: "X", FeeChargeWay: "OUR", SubMerchantID: "SUB-MERCH-00091"})
	got := waitSubmission(t, s, r.ID, SubSucceeded)
	if got.Amount != 64_000 || got.Currency != "USD" {
		t.Errorf("refund = %+v", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(subs[""]) != 1 || len(subs["SUB-MERCH-00091"]) < 4 {
		t.Errorf("order lookups by sub-merchant = %v, want the request, approval and poll all with SUB-MERCH-00091", subs)
	}
}
