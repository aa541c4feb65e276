package refunds

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/store"
	"github.com/neox-refund-desk/refunddesk/internal/store/storetest"
)

var errStatus503 = errors.New("HTTP 503")

// NeoX's refund endpoint stops answering while its status query still
// works: after two unanswered calls in a row the outage is reported, the
// refund waits in UNKNOWN, and the first answer ends the outage and
// sends the refund once under its one request id.
func TestOutagesFollowTheWorker(t *testing.T) {
	db := openDB(t)
	var down atomic.Bool
	down.Store(true)
	var sent, accepted atomic.Int32
	pg := &fakePG{queryPT: paidPG(2_000_000, 0, "CC"),
		refund: func(_ context.Context, r neox.PGRefundRequest) (neox.PGRefundResult, error) {
			sent.Add(1)
			if down.Load() {
				return neox.PGRefundResult{}, &neox.UnknownOutcomeError{API: "PG", Op: "refund", Err: errStatus503}
			}
			accepted.Add(1)
			return neox.PGRefundResult{TransID: "T-" + r.RequestID, ResponseCode: 0, ResponseMsg: "Successful"}, nil
		}}
	s := newService(t, db, Gateways{PG: pg}, fastOpts())
	runWorker(t, s)
	if got := recordedOutages(t, s); len(got) != 0 {
		t.Fatalf("outages before any call: %+v", got)
	}
	r := approved(t, s, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 100_000, ReasonCode: "X"})

	var out []Outage
	waitFor(t, "an outage of PG refund", func() bool { out = recordedOutages(t, s); return len(out) == 1 })
	o := out[0]
	if o.API != APIPG || o.Op != "refund" || o.Failures < outageAfter || o.Since.IsZero() || o.LastError == "" {
		t.Errorf("outage = %+v", o)
	}
	if got := mustGet(t, s, r.ID); got.Final() || got.Attempts < 2 {
		t.Errorf("refund during the outage = %+v", got)
	}

	down.Store(false)
	got := waitSubmission(t, s, r.ID, SubProcessing)
	if out := recordedOutages(t, s); len(out) != 0 {
		t.Errorf("outage still reported after NeoX answered: %+v", out)
	}
	if accepted.Load() != 1 || got.NeoXRefundID != "T-"+r.ID {
		t.Errorf("after recovery: %d accepted of %d sent, refund %+v", accepted.Load(), sent.Load(), got)
	}
}

// A single unanswered call is a blip, and a refusal is an answer.
func TestHealthRecord(t *testing.T) {
	now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	unanswered := call{op: "refund", outcome: "unknown", message: "HTTP 503"}
	s := newService(t, openDB(t), Gateways{}, Options{RetryMax: time.Minute, Now: func() time.Time { return now }})
	steps := []struct {
		name  string
		c     call
		after time.Duration // clock advance before the call
		want  int           // outages reported after the call
	}{
		{"one unanswered call is a blip", unanswered, 0, 0},
		{"two in a row are an outage", unanswered, time.Second, 1},
		{"another operation answering does not end it", call{op: "query_pt", outcome: "success"}, time.Second, 1},
		{"a refusal is an answer", call{op: "refund", outcome: "rejected", code: "2"}, time.Second, 0},
		{"counting starts again", unanswered, time.Second, 0},
		{"an outage again", unanswered, time.Second, 1},
	}
	for _, st := range steps {
		now = now.Add(st.after)
		noteCall(t, s, APIPG, st.c)
		if got := outagesOf(t, s); len(got) != st.want {
			t.Errorf("%s: %d outages, want %d: %+v", st.name, len(got), st.want, got)
		}
	}
	// Nothing called for twice the longest retry delay: nothing waits on it.
	now = now.Add(2*time.Minute - time.Second)
	if got := outagesOf(t, s); len(got) != 1 {
		t.Errorf("within twice RetryMax: %+v", got)
	}
	now = now.Add(time.Second)
	if got := outagesOf(t, s); len(got) != 0 {
		t.Errorf("after twice RetryMax without a call: %+v", got)
	}
}

// recordedOutages lists the outages the workers recorded, however long ago
// their last call was: with fastOpts' millisecond retry delays, Outages'
// horizon (twice RetryMax) is shorter than a scheduling hiccup under -race
// on a loaded machine, so the worker test reads the record itself and
// TestHealthRecord covers the horizon with a fake clock.
func recordedOutages(t *testing.T, s *Service) []Outage {
	t.Helper()
	out, err := s.outagesSince(context.Background(), time.Time{})
	if err != nil {
		t.Fatalf("outages: %v", err)
	}
	return out
}

func outagesOf(t *testing.T, s *Service) []Outage {
	t.Helper()
	out, err := s.Outages(context.Background())
	if err != nil {
		t.Fatalf("outages: %v", err)
	}
	return out
}

// noteCall records c as the worker does, in a transaction at s's time.
func noteCall(t *testing.T, s *Service, api API, c call) {
	t.Helper()
	if err := s.db.TxAt(context.Background(), s.now(), func(tx *store.Tx) error {
		return s.noteCalls(context.Background(), tx, api, []call{c})
	}); err != nil {
		t.Fatalf("note call: %v", err)
	}
}

// TestOutageSharedByInstances: two services on one database, as two app
// instances. What one's worker found unanswered is the other's notice
// too, and an answer to either ends it for both.
func TestOutageSharedByInstances(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dialect string) {
		url := storetest.URL(t, dialect)
		open := func() *store.DB {
			db, err := store.OpenURL(context.Background(), url, store.PoolConfig{})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		now := time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
		opts := Options{RetryMax: time.Minute, Now: func() time.Time { return now }}
		a := newService(t, open(), Gateways{}, opts)
		b := newService(t, open(), Gateways{}, opts)
		unanswered := func(msg string) call { return call{op: "refund", outcome: "unknown", message: msg} }

		noteCall(t, a, APIPG, unanswered("HTTP 503"))
		now = now.Add(time.Second)
		noteCall(t, b, APIPG, unanswered("timeout")) // the second in a row, on the other instance
		for name, s := range map[string]*Service{"a": a, "b": b} {
			out := outagesOf(t, s)
			if len(out) != 1 || out[0].API != APIPG || out[0].Op != "refund" || out[0].Failures != 2 ||
				out[0].LastError != "timeout" || !out[0].Since.Equal(now.Add(-time.Second)) || !out[0].Last.Equal(now) {
				t.Errorf("instance %s: outages %+v, want PG refund since the first call, 2 failures, last cause timeout", name, out)
			}
		}
		noteCall(t, a, APIPG, call{op: "refund", outcome: "rejected", code: "2"})
		for name, s := range map[string]*Service{"a": a, "b": b} {
			if out := outagesOf(t, s); len(out) != 0 {
				t.Errorf("instance %s: outage still reported after NeoX answered the other: %+v", name, out)
			}
		}
	})
}
