package sandbox

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"time"
)

// Operation names for InjectFault.
const (
	OpToken          = "token"           // POST /v2/auth/oauth2/token
	OpPGQuery        = "pg.query"        // PG QUERY_PT
	OpPGRefund       = "pg.refund"       // PG REFUND
	OpGCRefund       = "gc.refund"       // POST /v2/gc/refund-requests
	OpGCOrder        = "gc.order"        // GET /v2/gc/collection-orders/{id}
	OpCOLRefund      = "col.refund"      // POST /v2/col/refund-requests
	OpCOLGet         = "col.get"         // GET /v2/col/refund-requests/{requestId}
	OpCOLList        = "col.list"        // GET /v2/col/refund-requests
	OpCOLTransaction = "col.transaction" // GET /v2/col/transactions/{id}
)

// Fault is a misbehaviour injected into the next calls of an operation.
type Fault int

// Faults, applied in the order a real outage would show them.
const (
	FaultNone             Fault = iota
	FaultLatency                // wait SetLatency's duration (default 2s), then process and answer, even if the client left
	Fault5xx                    // answer HTTP 500 without doing anything
	FaultDropBeforeRecord       // read the request, then cut the connection; nothing recorded
	FaultDropAfterRecord        // process and record the request, then cut the connection
	FaultMalformed              // process and record, then answer an HTML error page with HTTP 200
	FaultExpireToken            // expire every issued token first, so this call gets 401 INVALID_TOKEN
	FaultBadSignature           // PG only: answer code 98 "Invalid signature" without doing anything, as if the desk's key were wrong
)

type faultSlot struct {
	f Fault
	n int
}

// InjectFault makes the next count calls of op (see the Op constants)
// misbehave as f. A later call for the same op replaces the earlier one.
func (s *Sandbox) InjectFault(op string, f Fault, count int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.faults[op] = faultSlot{f: f, n: count}
}

// SetLatency sets the delay used by FaultLatency.
func (s *Sandbox) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.latency = d
}

func (s *Sandbox) takeFault(op string) (Fault, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.st.faults[op]
	if slot.n <= 0 {
		return FaultNone, 0
	}
	slot.n--
	s.st.faults[op] = slot
	return slot.f, s.st.latency
}

// handlerFunc handles a request whose body has already been read.
type handlerFunc func(w http.ResponseWriter, r *http.Request, body []byte)

func fixedOp(op string) func([]byte) string { return func([]byte) string { return op } }

// pgOp names a PG call by its neo_Command.
func pgOp(body []byte) string {
	var m struct {
		Command string `json:"neo_Command"`
	}
	_ = json.Unmarshal(body, &m)
	if m.Command == "REFUND" {
		return OpPGRefund
	}
	return OpPGQuery
}

// wrap reads the body, counts create calls, applies any injected fault and
// runs h into a buffer so that faults can act after the state changed.
func (s *Sandbox) wrap(opFor func([]byte) string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		op := opFor(body)
		s.countCall(op, body)
		f, latency := s.takeFault(op)
		switch f {
		case FaultLatency:
			// Like a slow real server, keep going even if the client gave up.
			if !sleep(s.ctx, latency) {
				return
			}
		case FaultExpireToken:
			s.expireTokens()
		case Fault5xx:
			if op == OpPGQuery || op == OpPGRefund {
				http.Error(w, "Internal Server Error", http.StatusInternalServerError)
			} else {
				writeJSON(w, http.StatusInternalServerError, envelope{Code: 500, State: 3, Message: "INTERNAL_SERVER_ERROR", NeoResponseID: newID()})
			}
			return
		case FaultDropBeforeRecord:
			cut(w)
			return
		case FaultBadSignature:
			if op == OpPGQuery || op == OpPGRefund {
				writePG(w, pgCodeBadSignature, "Invalid signature", nil)
				return
			}
		}
		buf := &bufferedWriter{header: http.Header{}, status: http.StatusOK}
		h(buf, r, body)
		switch f {
		case FaultDropAfterRecord:
			cut(w)
			return
		case FaultMalformed:
			w.Header().Set("Content-Type", "text/html")
			_, _ = io.WriteString(w, "<html><body><h1>502 Bad Gateway</h1></body></html>")
			return
		}
		for k, v := range buf.header {
			w.Header()[k] = v
		}
		w.WriteHeader(buf.status)
		_, _ = w.Write(buf.body.Bytes())
	})
}

// cut closes the connection without an answer.
func cut(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection on HTTP/2 and others
	}
	_ = conn.Close()
}

// bufferedWriter holds a handler's answer until the fault logic decides.
type bufferedWriter struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *bufferedWriter) Header() http.Header         { return b.header }
func (b *bufferedWriter) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedWriter) WriteHeader(status int)      { b.status = status }
