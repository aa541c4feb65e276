// Package sandbox is a stand-in for NeoX (PG, GC and COL) served over real
// HTTP on a loopback port, for demo mode and tests. It speaks the same wire
// format as the real API, checks PG signatures and bearer tokens, answers
// NeoX-style errors, de-duplicates on request id, enforces refundable
// amounts, progresses refunds asynchronously and delivers signed webhooks
// with retries. Outcomes are deterministic from the data (see Outcome and
// SeedIDs), and faults can be injected per operation (see InjectFault).
//
// A bad PG neo_SecureHash answers code 98 "Invalid signature" (the code
// NeoX's own client library gives for an invalid signature). Lookups answer
// exactly the documented fields and JSON types (GC order amounts are
// numbers, COL transaction amounts strings).
//
// Sandbox inventions, where the docs say nothing: an unknown PG merchant code 30; GC
// and COL business refusals use code 2 with the messages
// RESOURCE_NOT_FOUND, VALIDATION_ERROR, INSUFFICIENT_BALANCE,
// ORDER_NOT_REFUNDABLE, TRANSACTION_NOT_REFUNDABLE,
// AMOUNT_EXCEEDS_REFUNDABLE and DUPLICATE_REQUEST_ID (same id, different
// payload). Re-sending a create with the same request id and payload
// replays the original answer byte for byte.
package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Config configures a Sandbox. Zero values get demo defaults.
type Config struct {
	MerchantCode string // default "UFLIYL"
	PGSecretKey  string

	// GC and COL share the token endpoint; both credential pairs are accepted.
	ClientID, ClientSecret       string
	COLClientID, COLClientSecret string

	GCWebhookSecret, COLWebhookSecret string

	// Where signed webhooks are POSTed; empty means not sent. Settable later
	// with SetWebhookURLs.
	PGWebhookURL, GCWebhookURL, COLWebhookURL string
	// Optional Basic Auth on webhook deliveries (the portal's "Basic Auth" type).
	WebhookBasicUser, WebhookBasicPass string

	SettleDelay      time.Duration // between async state changes; default 2s
	WebhookRetryBase time.Duration // first retry delay, doubling up to 30s; default SettleDelay/2 (≥10ms)
	TokenTTL         time.Duration // default 1h
	Seed             bool          // load demo data (see SeedIDs)
	Logger           *slog.Logger  // default discards
}

// Sandbox is a running (after Start) NeoX stand-in.
type Sandbox struct {
	cfg Config
	log *slog.Logger
	hc  *http.Client // webhook deliveries

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	srv *http.Server
	ln  net.Listener

	bgMu   sync.Mutex // guards closed and wg.Add; never held while taking mu
	closed bool

	mu sync.Mutex // guards st
	st state
}

// New returns a configured, not yet started Sandbox.
func New(cfg Config) *Sandbox {
	if cfg.MerchantCode == "" {
		cfg.MerchantCode = "UFLIYL"
	}
	if cfg.SettleDelay <= 0 {
		cfg.SettleDelay = 2 * time.Second
	}
	if cfg.WebhookRetryBase <= 0 {
		cfg.WebhookRetryBase = max(cfg.SettleDelay/2, 10*time.Millisecond)
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sandbox{cfg: cfg, log: log, ctx: ctx, cancel: cancel, st: newState(),
		hc: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{}}}
	s.st.webhookURLs = [3]string{cfg.PGWebhookURL, cfg.GCWebhookURL, cfg.COLWebhookURL}
	if cfg.Seed {
		s.seed()
	}
	return s
}

// Start listens on 127.0.0.1 on a free port and serves in the background.
func (s *Sandbox) Start() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("sandbox: listen: %w", err)
	}
	s.ln = ln
	s.srv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second,
		BaseContext: func(net.Listener) context.Context { return s.ctx }}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("sandbox: serve", "err", err)
		}
	}()
	s.log.Info("neox sandbox listening", "url", s.URL())
	return nil
}

// URL is the base URL for PG and the OpenAPI (GC, COL, token) alike.
func (s *Sandbox) URL() string {
	if s.ln == nil {
		return ""
	}
	return "http://" + s.ln.Addr().String()
}

// SetWebhookURLs sets where PG IPNs and GC/COL webhooks are delivered;
// empty means "do not send".
func (s *Sandbox) SetWebhookURLs(pg, gc, col string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.webhookURLs = [3]string{pg, gc, col}
}

// Close stops the listener, cancels pending settlements and deliveries and
// waits for every background goroutine to end.
func (s *Sandbox) Close() error {
	s.bgMu.Lock()
	if s.closed {
		s.bgMu.Unlock()
		return nil
	}
	s.closed = true
	s.bgMu.Unlock()
	s.cancel()
	var err error
	if s.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err = s.srv.Shutdown(ctx); err != nil {
			err = errors.Join(err, s.srv.Close())
		}
	}
	s.wg.Wait()
	s.hc.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("sandbox: close: %w", err)
	}
	return nil
}

// background runs fn in a tracked goroutine unless the sandbox is closed.
// It may be called with s.mu held.
func (s *Sandbox) background(fn func(ctx context.Context)) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(s.ctx)
	}()
}

// sleep waits d or until ctx ends; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Sandbox) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("POST /api/v1/paygate/neopay", s.wrap(pgOp, s.handlePG))
	mux.Handle("POST /v2/auth/oauth2/token", s.wrap(fixedOp(OpToken), s.handleToken))
	mux.Handle("POST /v2/gc/refund-requests", s.wrap(fixedOp(OpGCRefund), s.authed(s.handleGCRefund)))
	mux.Handle("GET /v2/gc/collection-orders/{id}", s.wrap(fixedOp(OpGCOrder), s.authed(s.handleGCOrder)))
	mux.Handle("POST /v2/col/refund-requests", s.wrap(fixedOp(OpCOLRefund), s.authed(s.handleCOLRefund)))
	mux.Handle("GET /v2/col/refund-requests/{requestId}", s.wrap(fixedOp(OpCOLGet), s.authed(s.handleCOLGet)))
	mux.Handle("GET /v2/col/refund-requests", s.wrap(fixedOp(OpCOLList), s.authed(s.handleCOLList)))
	mux.Handle("GET /v2/col/transactions/{id}", s.wrap(fixedOp(OpCOLTransaction), s.authed(s.handleCOLTransaction)))
	return mux
}
