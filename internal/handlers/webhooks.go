package handlers

import (
	"crypto/subtle"
	"errors"
	"io"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// WebhookSecrets are what the webhook endpoints verify with: each
// product's keys by product name (refunds.Hooks.Keys). A product without
// a secret has its endpoint disabled (404), as NeoX would not call it.
type WebhookSecrets struct {
	Keys                 map[string]refunds.HookKeys
	BasicUser, BasicPass string
}

// webhookBodyLimit bounds webhook bodies: NeoX events are a few hundred bytes.
const webhookBodyLimit = 64 << 10

// webhookRoutes are one endpoint per registered product NeoX tells about
// refunds by webhook: POST /webhooks/neox/{its path}.
func (s *Server) webhookRoutes() []route {
	if s.refunds == nil {
		return nil
	}
	var out []route
	for _, wh := range s.refunds.Webhooks() {
		api := string(wh.API)
		out = append(out, route{"POST /webhooks/neox/" + wh.Path, webhook, func(w http.ResponseWriter, r *http.Request) {
			keys := s.hooks.Keys[api]
			s.webhook(w, r, api, keys.Secret, func(raw []byte) (refunds.WebhookResult, error) {
				return s.refunds.Apply(r.Context(), wh.API, keys, raw)
			})
		}})
	}
	return out
}

// webhook is the shared pipeline: Basic Auth (if configured), size limit,
// signature over the raw bytes, apply, answer as NeoX expects. Refused
// deliveries are audited; accepted ones are audited by the refunds
// service in the same transaction as the change.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request, api, secret string, apply func(raw []byte) (refunds.WebhookResult, error)) {
	if secret == "" || s.refunds == nil {
		http.NotFound(w, r)
		return
	}
	p, ok := s.refunds.Product(refunds.API(api))
	if !ok {
		http.NotFound(w, r)
		return
	}
	refuse := func(status int, reason string) {
		s.webhookDelivery(api, "refused: "+reason)
		// Through the limiter: anyone can post here, so a flood leaves a
		// bounded number of rows and a count (audit.Limiter).
		_ = s.refused.RecordNow(r.Context(), audit.Event{ActorName: "neox", ActorRole: "webhook", Action: audit.ActionWebhookReceived,
			Outcome: audit.OutcomeDenied, TargetType: "webhook", TargetID: api, Details: map[string]any{"api": api, "reason": reason}})
		s.pace.refused(r.Context(), s.clientIP(r))
		http.Error(w, http.StatusText(status), status)
	}
	if s.hooks.BasicUser != "" {
		u, p, ok := r.BasicAuth()
		if !ok || subtle.ConstantTimeCompare([]byte(u), []byte(s.hooks.BasicUser)) != 1 ||
			subtle.ConstantTimeCompare([]byte(p), []byte(s.hooks.BasicPass)) != 1 {
			w.Header().Set("WWW-Authenticate", `Basic realm="neox-webhooks"`)
			refuse(http.StatusUnauthorized, "basic auth failed")
			return
		}
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhookBodyLimit))
	if err != nil {
		refuse(http.StatusRequestEntityTooLarge, "body too large or unreadable")
		return
	}
	res, err := apply(raw)
	switch {
	case errors.Is(err, neox.ErrBadSignature):
		refuse(http.StatusUnauthorized, "bad signature")
		return
	case errors.Is(err, neox.ErrUnexpectedField):
		refuse(http.StatusBadRequest, "field outside the documented set")
		return
	case errors.Is(err, neox.ErrMalformed):
		refuse(http.StatusBadRequest, "malformed body")
		return
	case err != nil:
		// Not acknowledged: NeoX retries, and nothing was changed.
		s.log.ErrorContext(r.Context(), "webhook apply failed", "api", api, "err", err)
		s.webhookDelivery(api, "error")
		http.Error(w, "temporarily unavailable", http.StatusServiceUnavailable)
		return
	}
	s.log.InfoContext(r.Context(), "webhook", "api", api, "refund", res.RefundID, "applied", res.Applied)
	s.webhookDelivery(api, res.Applied)
	w.Header().Set("Content-Type", "application/json")
	if res.Refused() {
		// Signed, but it disagrees with the refund it names (or the desk
		// never sent that refund): kept for managers to review, and not
		// acknowledged, so a genuine one keeps being redelivered while
		// someone looks. Audited by the refunds service.
		w.WriteHeader(http.StatusUnprocessableEntity)
	}
	_, _ = w.Write(p.WebhookReply(res.Refused()))
}
