package refunds

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// outageAfter is how many unanswered calls in a row make a product count as
// down: one timeout is a blip the retry absorbs; two in a row, seconds to
// minutes apart with the backoff, is worth telling people about.
const outageAfter = 2

// Outage is a NeoX operation the worker has not been able to get an
// answer from: its last calls timed out, got a 5xx, lost the connection or
// could not be read. Approved refunds wait in the queue meanwhile and are
// retried with their request ids; the first answer ends the outage. It is
// kept per operation because NeoX can fail one endpoint (refund) while
// another (the status query) still answers.
type Outage struct {
	API       API
	Op        string    // refund, query_pt, get_refund, get_order
	Since     time.Time // the first unanswered call after the last answer
	Last      time.Time // the latest unanswered call
	Failures  int       // unanswered calls in a row
	LastError string    // the last cause, as the client classified it
}

// SigningFault reports that NeoX PG refused the desk's request signature
// (code 98, "invalid signature"): the configured PG merchant code or secret
// key is wrong, so NeoX refuses every PG refund and lookup until it is
// fixed. It is raised by the first such answer and ends with the next PG
// answer that is not 98.
type SigningFault struct {
	API     API       // PG
	Op      string    // the call that got the last 98: query_pt or refund
	Since   time.Time // the first 98 after the last good answer
	Last    time.Time // the latest 98
	Count   int       // 98 answers in a row
	Message string    // NeoX's message, verbatim
}

// health follows whether PG accepts the desk's signature, per instance:
// each instance's own calls tell (the outages, which all instances must
// agree on, are in the database: noteCalls, Outages).
type health struct {
	mu      sync.Mutex
	signing *SigningFault
	// signer returns the product of api if its answers tell about the
	// desk's signature (product.Signer); set once by New.
	signer func(API) (product.Signer, bool)
	// obs hears of every call noted here (metrics); nil: nobody.
	obs Observer
}

// observe passes one call on to the observer.
func (h *health) observe(api API, c call) {
	if h.obs != nil {
		h.obs.NeoXCall(api, c.op, c.outcome, c.latency)
	}
}

// record notes what one worker call says about the desk's signature.
func (h *health) record(api API, at time.Time, c call) {
	h.observe(api, c)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.noteSigning(api, at, c)
}

// noteCalls records in tx whether NeoX answered each of the worker's calls
// of one attempt, in the database so that every instance's outage notice
// agrees: any answer, even a refusal, shows the operation is up.
func (s *Service) noteCalls(ctx context.Context, tx *store.Tx, api API, calls []call) error {
	for _, c := range calls {
		if err := tx.NoteNeoXCall(ctx, string(api), c.op, c.outcome != "unknown", truncate(c.message, 500)); err != nil {
			return fmt.Errorf("refunds: %w", err)
		}
	}
	return nil
}

// signature notes what one PG call made outside the worker (a lookup, the
// checks of a request or an approval) says about the desk's signature.
func (h *health) signature(api API, now func() time.Time, c call) {
	h.observe(api, c)
	if _, ok := h.signer(api); !ok {
		return // this product's answers say nothing about the signature (and the clock is not read)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.noteSigning(api, now(), c)
}

// noteSigning: a PG answer with code 98 raises (or extends) the signing
// fault; any other PG answer ends it. A call left unanswered says nothing
// about the signature. Call with h.mu held.
func (h *health) noteSigning(api API, at time.Time, c call) {
	sg, ok := h.signer(api)
	if !ok || c.outcome == "unknown" {
		return
	}
	if c.outcome != "rejected" || !sg.BadSignature(c.code) {
		h.signing = nil
		return
	}
	if h.signing == nil {
		h.signing = &SigningFault{API: api, Since: at}
	}
	h.signing.Op, h.signing.Last, h.signing.Message = c.op, at, c.message
	h.signing.Count++
}

// SigningFault reports whether NeoX PG is refusing the desk's signature
// now (see SigningFault), and since when.
func (s *Service) SigningFault() (SigningFault, bool) {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	if s.health.signing == nil {
		return SigningFault{}, false
	}
	return *s.health.signing, true
}

// Outages lists the operations NeoX has left unanswered outageAfter calls
// in a row or more, by the workers of every instance on the database, in
// PG, GC, COL order, then by operation. An operation not called for twice
// the longest retry delay has nothing waiting on it any more, so its last
// known failure is no longer news.
func (s *Service) Outages(ctx context.Context) ([]Outage, error) {
	return s.outagesSince(ctx, s.now().Add(-2*s.opt.RetryMax))
}

// outagesSince lists the outages whose last unanswered call is after since.
func (s *Service) outagesSince(ctx context.Context, since time.Time) ([]Outage, error) {
	recs, err := s.db.NeoXOutages(ctx, outageAfter, since)
	if err != nil {
		return nil, fmt.Errorf("refunds: %w", err)
	}
	out := make([]Outage, 0, len(recs))
	for _, r := range recs {
		out = append(out, Outage{API: API(r.API), Op: r.Op, Since: r.Since, Last: r.Last, Failures: r.Failures,
			LastError: r.LastError})
	}
	slices.SortFunc(out, func(a, b Outage) int {
		if d := s.apiOrder(a.API) - s.apiOrder(b.API); d != 0 {
			return d
		}
		return strings.Compare(a.Op, b.Op)
	})
	return out, nil
}
