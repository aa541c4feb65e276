package sandbox

import (
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

const (
	testMerchant = "UFLIYL"
	testPGKey    = "311235E7043244EC8306F96720748C56"
	gcSecret     = "gc-webhook-secret"
	colSecret    = "col-webhook-secret"
)

func testConfig() Config {
	return Config{MerchantCode: testMerchant, PGSecretKey: testPGKey,
		ClientID: "gc-client", ClientSecret: "gc-secret", COLClientID: "col-client", COLClientSecret: "col-secret",
		GCWebhookSecret: gcSecret, COLWebhookSecret: colSecret, SettleDelay: 40 * time.Millisecond, Seed: true}
}

func start(t *testing.T, cfg Config) *Sandbox {
	t.Helper()
	s := New(cfg)
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

type clients struct {
	pg  *neox.PG
	gc  *neox.GC
	col *neox.COL
}

func clientsFor(s *Sandbox) clients {
	hc := &http.Client{}
	cfg := s.cfg
	return clients{
		pg: neox.NewPG(neox.PGConfig{BaseURL: s.URL(), MerchantCode: cfg.MerchantCode, SecretKey: cfg.PGSecretKey, Timeout: 2 * time.Second}, hc),
		gc: neox.NewGC(neox.OpenAPIConfig{BaseURL: s.URL(), ClientID: cfg.ClientID, ClientSecret: cfg.ClientSecret, Timeout: 2 * time.Second}, hc),
		col: neox.NewCOL(neox.OpenAPIConfig{BaseURL: s.URL(), ClientID: cfg.COLClientID, ClientSecret: cfg.COLClientSecret,
			Scope: "collection", Timeout: 2 * time.Second}, hc),
	}
}

// hookRecorder is a webhook endpoint that refuses the first fail deliveries
// and any without Basic Auth hook:pw.
type hookRecorder struct {
	srv    *httptest.Server
	mu     sync.Mutex
	fail   int
	hits   int
	bodies [][]byte // accepted deliveries
	pg     bool     // answer in PG's {"respcode":…} format
}

func newHookRecorder(t *testing.T, fail int, pg bool) *hookRecorder {
	t.Helper()
	h := &hookRecorder{fail: fail, pg: pg}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		u, p, ok := r.BasicAuth()
		authOK := ok && u == "hook" && p == "pw"
		h.mu.Lock()
		h.hits++
		refuse := h.hits <= h.fail || !authOK
		if !refuse {
			h.bodies = append(h.bodies, b)
		}
		h.mu.Unlock()
		switch {
		case refuse && h.pg:
			_, _ = io.WriteString(w, `{"respcode":1,"respmsg":"try again"}`) // HTTP 200 but not acknowledged
		case refuse:
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
		case h.pg:
			_, _ = io.WriteString(w, `{"respcode":0,"respmsg":"received"}`)
		default:
			w.WriteHeader(http.StatusOK)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookRecorder) snapshot() (int, [][]byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.hits, append([][]byte(nil), h.bodies...)
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func refundByID(s *Sandbox, requestID string) (Refund, bool) {
	for _, r := range s.Refunds() {
		if r.RequestID == requestID {
			return r, true
		}
	}
	return Refund{}, false
}
