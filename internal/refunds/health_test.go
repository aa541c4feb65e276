package refunds

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
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
	if got := s.Outages(); len(got) != 0 {
		t.Fatalf("outages before any call: %+v", got)
	}
	r := approved(t, s, NewRequest{API: APIPG, TransactionRef: "TXN1", PaymentID: "P1", Amount: 100_000, ReasonCode: "X"})

	var out []Outage
	waitFor(t, "an outage of PG refund", func() bool { out = s.Outages(); return len(out) == 1 })
	o := out[0]
	if o.API != APIPG || o.Op != "refund" || o.Failures < outageAfter || o.Since.IsZero() || o.LastError == "" {
		t.Errorf("outage = %+v", o)
	}
	if got := mustGet(t, s, r.ID); got.Final() || got.Attempts < 2 {
		t.Errorf("refund during the outage = %+v", got)
	}

	down.Store(false)
	got := waitSubmission(t, s, r.ID, SubProcessing)
	if out := s.Outages(); len(out) != 0 {
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
		s.health.record(APIPG, now, st.c)
		if got := s.Outages(); len(got) != st.want {
			t.Errorf("%s: %d outages, want %d: %+v", st.name, len(got), st.want, got)
		}
	}
	// Nothing called for twice the longest retry delay: nothing waits on it.
	now = now.Add(2*time.Minute - time.Second)
	if got := s.Outages(); len(got) != 1 {
		t.Errorf("within twice RetryMax: %+v", got)
	}
	now = now.Add(time.Second)
	if got := s.Outages(); len(got) != 0 {
		t.Errorf("after twice RetryMax without a call: %+v", got)
	}
}
