package neox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// tokenPath is the OAuth2 client-credentials endpoint shared by GC and COL.
const tokenPath = "/v2/auth/oauth2/token"

// tokenMargin is how long before expiry a cached token is replaced.
const tokenMargin = 30 * time.Second

// tokenSource fetches and caches an access token. One fetch runs at a time;
// callers waiting behind it reuse its result.
type tokenSource struct {
	cfg OpenAPIConfig
	hc  *http.Client
	now func() time.Time

	mu      sync.Mutex // held during a fetch: one fetch at a time
	token   string
	expires time.Time
}

type tokenData struct {
	AccessToken string  `json:"access_token"`
	TokenType   string  `json:"token_type"`
	ExpiresIn   flexInt `json:"expires_in"`
}

type tokenAnswer struct {
	tokenData
	Code    *flexInt  `json:"code"`
	Message string    `json:"message"`
	Data    tokenData `json:"data"`
}

// get returns a valid cached token or fetches a new one.
func (ts *tokenSource) get(ctx context.Context, lang string) (string, error) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token != "" && ts.now().Before(ts.expires) {
		return ts.token, nil
	}
	return ts.fetchLocked(ctx, lang)
}

// invalidate drops tok if it is still the cached token, so that several
// callers that saw the same token refused cause a single refetch.
func (ts *tokenSource) invalidate(tok string) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.token == tok {
		ts.token = ""
	}
}

func (ts *tokenSource) fetchLocked(ctx context.Context, lang string) (string, error) {
	body, err := json.Marshal(map[string]string{
		"grant_type":    "client_credentials",
		"client_id":     ts.cfg.ClientID,
		"client_secret": ts.cfg.ClientSecret,
		"scope":         ts.cfg.Scope,
	})
	if err != nil {
		return "", fmt.Errorf("encode token request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(ts.cfg.Timeout))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(ts.cfg.BaseURL, "/")+tokenPath, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("build token request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", Lang(lang))
	resp, err := ts.hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("token request: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return "", fmt.Errorf("read token answer: %w", err)
	}
	if len(raw) > maxBody {
		return "", fmt.Errorf("token answer larger than %d bytes", maxBody)
	}
	var ans tokenAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return "", fmt.Errorf("token answer (HTTP %d) is not JSON", resp.StatusCode)
	}
	d := ans.Data
	if d.AccessToken == "" {
		d = ans.tokenData // flat shape used by another NeoX product
	}
	if resp.StatusCode != http.StatusOK || d.AccessToken == "" {
		return "", fmt.Errorf("token refused: HTTP %d: %s", resp.StatusCode, ans.Message)
	}
	ttl := time.Duration(d.ExpiresIn)*time.Second - tokenMargin
	ts.token = d.AccessToken
	ts.expires = ts.now().Add(max(ttl, 0)) // ttl ≤ 0: use once, fetch again next call
	return ts.token, nil
}
