package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// Webhook kinds, indexing state.webhookURLs.
const (
	hookPG = iota
	hookGC
	hookCOL
)

var hookNames = [3]string{"PG IPN", "GC webhook", "COL webhook"}

// maxDeliveries bounds retries of one webhook (at ≤30s apart).
const maxDeliveries = 30

// deliver POSTs body to the current URL of kind until it is acknowledged
// (HTTP 200; for PG also {"respcode":0}), retrying with doubling backoff
// from WebhookRetryBase up to 30s, at most maxDeliveries times, or until
// the sandbox closes. An empty URL means the webhook is not sent.
func (s *Sandbox) deliver(ctx context.Context, kind int, body []byte) {
	wait := s.cfg.WebhookRetryBase
	for attempt := 1; attempt <= maxDeliveries; attempt++ {
		s.mu.Lock()
		url := s.st.webhookURLs[kind]
		s.mu.Unlock()
		if url == "" {
			return
		}
		if s.post(ctx, kind, url, body) {
			s.log.Debug("sandbox: webhook delivered", "kind", hookNames[kind], "attempt", attempt)
			return
		}
		s.log.Debug("sandbox: webhook not acknowledged, will retry", "kind", hookNames[kind], "attempt", attempt, "in", wait)
		if !sleep(ctx, wait) {
			return
		}
		wait = min(wait*2, 30*time.Second)
	}
	s.log.Warn("sandbox: webhook abandoned", "kind", hookNames[kind])
}

func (s *Sandbox) post(ctx context.Context, kind int, url string, body []byte) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	if s.cfg.WebhookBasicUser != "" {
		req.SetBasicAuth(s.cfg.WebhookBasicUser, s.cfg.WebhookBasicPass)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return false
	}
	if kind != hookPG {
		return true
	}
	var ack struct {
		RespCode *json.Number `json:"respcode"`
	}
	if json.Unmarshal(raw, &ack) != nil || ack.RespCode == nil {
		return false
	}
	return ack.RespCode.String() == "0"
}

// sendOpenAPIWebhook signs fields (empty values left out) with secret and
// delivers them in the background.
func (s *Sandbox) sendOpenAPIWebhook(kind int, fields map[string]string, secret string) {
	for k, v := range fields {
		if v == "" {
			delete(fields, k)
		}
	}
	body, _ := json.Marshal(neox.SignOpenAPIWebhook(fields, secret))
	s.background(func(ctx context.Context) { s.deliver(ctx, kind, body) })
}
