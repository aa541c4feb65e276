package refunds

import (
	"slices"
	"strings"
	"sync"
	"time"
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

type endpoint struct {
	api API
	op  string
}

// health follows whether NeoX answered the worker's calls, per operation.
type health struct {
	mu      sync.Mutex
	failing map[endpoint]Outage
}

// record notes one worker call. Any answer from NeoX, even a refusal,
// shows the operation is up.
func (h *health) record(api API, at time.Time, c call) {
	h.mu.Lock()
	defer h.mu.Unlock()
	e := endpoint{api, c.op}
	if c.outcome != "unknown" {
		delete(h.failing, e)
		return
	}
	if h.failing == nil {
		h.failing = map[endpoint]Outage{}
	}
	o, ok := h.failing[e]
	if !ok {
		o = Outage{API: api, Op: c.op, Since: at}
	}
	o.Failures++
	o.Last, o.LastError = at, c.message
	h.failing[e] = o
}

// Outages lists the operations NeoX has left unanswered outageAfter calls
// in a row or more, in PG, GC, COL order, then by operation. An operation
// not called for twice the longest retry delay has nothing waiting on it
// any more, so its last known failure is no longer news.
func (s *Service) Outages() []Outage {
	s.health.mu.Lock()
	defer s.health.mu.Unlock()
	stale := s.now().Add(-2 * s.opt.RetryMax)
	var out []Outage
	for _, o := range s.health.failing {
		if o.Failures >= outageAfter && o.Last.After(stale) {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Outage) int {
		if d := apiOrder(a.API) - apiOrder(b.API); d != 0 {
			return d
		}
		return strings.Compare(a.Op, b.Op)
	})
	return out
}
