package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Headers of an outbound webhook.
const (
	HeaderSignature = "X-RefundDesk-Signature" // t=<unix>,v1=<hex HMAC-SHA256 of "<t>.<body>">
	HeaderEventID   = "X-RefundDesk-Event-Id"  // the event's UUID: the same on every retry
	HeaderEvent     = "X-RefundDesk-Event"     // the event's kind
)

// maxResponseBytes is how much of a receiver's answer is read (and kept,
// shortened, as the last error).
const maxResponseBytes = 4 << 10

// Sign returns the signature header value of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + mac(secret, ts, body)
}

func mac(secret, ts string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// ErrBadSignature is Verify's answer to a missing, malformed, wrong or
// stale signature.
var ErrBadSignature = errors.New("notify: bad webhook signature")

// Verify checks a webhook's signature header over its raw body, as a
// receiver should: constant-time, and refusing a timestamp further than
// tolerance from now (a replay).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrBadSignature
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return ErrBadSignature
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(want)) {
			return nil
		}
	}
	return ErrBadSignature
}

// NewSecret returns a random signing secret for a new endpoint.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand never fails on supported platforms
	return "whsec_" + hex.EncodeToString(b)
}

// CheckURL says what is wrong with an endpoint URL: only absolute http or
// https URLs with a host, no user name or password in them (they would be
// shown on pages and kept in logs), no fragment, at most 2000 characters.
func CheckURL(raw string) error {
	if len(raw) > 2000 {
		return errors.New("the URL is longer than 2000 characters")
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Host == "":
		return errors.New("not an absolute URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return errors.New("only http and https URLs are allowed")
	case u.User != nil:
		return errors.New("the URL must not contain a user name or password; put credentials in the receiver's check of the signature")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("the URL must not contain a fragment (#)")
	case strings.ContainsAny(raw, " \t\r\n"):
		return errors.New("the URL must not contain spaces")
	}
	return nil
}

// HTTPStatusError is a receiver's answer other than 2xx.
type HTTPStatusError struct {
	Status int
	Body   string
}

func (e *HTTPStatusError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// WebhookSender POSTs events to endpoints, signed with their secrets.
type WebhookSender struct {
	Client  *http.Client     // nil: a client with Timeout and no redirects
	Timeout time.Duration    // per POST; default 10s
	Now     func() time.Time // signature time; default time.Now
	Secret  func(ctx context.Context, endpointID int64) (string, error)
}

// NewWebhookSender returns a sender reading secrets from db.
func NewWebhookSender(db *store.DB, now func() time.Time, timeout time.Duration) *WebhookSender {
	return &WebhookSender{Now: now, Timeout: timeout, Secret: db.NotifyEndpointSecret}
}

// WebhookBody is the JSON an endpoint receives.
type WebhookBody struct {
	ID        string    `json:"id"`
	Type      Kind      `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	Data      Data      `json:"data"`
}

// Send POSTs ev to d's endpoint. A 2xx answer is delivered; anything
// else, a timeout or a refused connection is an error to retry.
func (s *WebhookSender) Send(ctx context.Context, d store.NotifyDelivery, ev Event) error {
	if err := CheckURL(d.Address); err != nil {
		return &Permanent{err}
	}
	secret, err := s.Secret(ctx, d.EndpointID)
	if errors.Is(err, store.ErrNotFound) {
		return &Permanent{err}
	}
	if err != nil {
		return err
	}
	body, err := json.Marshal(WebhookBody{ID: ev.ID, Type: ev.Kind, CreatedAt: ev.At.UTC(), Data: ev.Data})
	if err != nil {
		return &Permanent{err}
	}
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	client := s.Client
	if client == nil {
		client = &http.Client{Timeout: timeout,
			// A redirect could lead the signed body somewhere else: not followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, d.Address, bytes.NewReader(body))
	if err != nil {
		return &Permanent{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "RefundDesk-Webhooks/1")
	req.Header.Set(HeaderSignature, Sign(secret, now(), body))
	req.Header.Set(HeaderEventID, ev.ID)
	req.Header.Set(HeaderEvent, string(ev.Kind))
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("POST failed: %s", redactURLError(err, d.Address))
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &HTTPStatusError{Status: resp.StatusCode, Body: truncate(strings.TrimSpace(string(snippet)), 200)}
	}
	return nil
}

// redactURLError keeps the cause of a failed POST without repeating the
// URL's query (it may carry a token of the receiver's).
func redactURLError(err error, raw string) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	msg := err.Error()
	if u, perr := url.Parse(raw); perr == nil && u.RawQuery != "" {
		msg = strings.ReplaceAll(msg, u.RawQuery, "…")
	}
	return msg
}
