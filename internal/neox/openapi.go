package neox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Envelope codes used by GC and COL.
const (
	codeSuccess    = 1
	codeFailed     = 2
	codeProcessing = 99
	codeBadToken   = 422
)

// envelope is the standard GC/COL answer.
type envelope struct {
	Code          *flexInt        `json:"code"`
	State         json.RawMessage `json:"state"`
	Data          json.RawMessage `json:"data"`
	Message       string          `json:"message"`
	NeoResponseID string          `json:"neoResponseId"`
}

// openAPI performs authenticated calls against GC or COL.
type openAPI struct {
	api    string // "GC" or "COL"
	cfg    OpenAPIConfig
	hc     *http.Client
	tokens *tokenSource
}

func newOpenAPI(api string, cfg OpenAPIConfig, hc *http.Client) *openAPI {
	if hc == nil {
		hc = &http.Client{}
	}
	return &openAPI{api: api, cfg: cfg, hc: hc,
		tokens: &tokenSource{cfg: cfg, hc: hc, now: time.Now}}
}

// call sends method path with the JSON body (nil for none), decodes the
// envelope's data into out (may be nil) and returns the neoResponseId. The
// body is encoded once, so a retry after a token refresh is byte-identical
// (same requestId).
func (o *openAPI) call(ctx context.Context, lang, op, method, path string, body, out any) (string, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return "", fmt.Errorf("neox %s %s: encode request: %w", o.api, op, err)
		}
	}
	for attempt := 0; ; attempt++ {
		tok, err := o.tokens.get(ctx, lang)
		if err != nil {
			// Nothing was sent; unknown is the safe class (retry later with the same id).
			return "", &UnknownOutcomeError{API: o.api, Op: op, Err: err}
		}
		status, env, raw, err := o.send(ctx, lang, method, path, payload, tok)
		if err != nil {
			return "", &UnknownOutcomeError{API: o.api, Op: op, Err: err}
		}
		if attempt == 0 && tokenRefused(status, env) {
			o.tokens.invalidate(tok)
			continue
		}
		return o.interpret(op, method, status, env, raw, out)
	}
}

func tokenRefused(status int, env *envelope) bool {
	if status == http.StatusUnauthorized {
		return true
	}
	return env != nil && (strings.EqualFold(env.Message, "INVALID_TOKEN") ||
		(env.Code != nil && *env.Code == codeBadToken))
}

// send performs one HTTP exchange. env is nil when the body is not an envelope.
func (o *openAPI) send(ctx context.Context, lang, method, path string, payload []byte, tok string) (int, *envelope, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeoutOr(o.cfg.Timeout))
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(o.cfg.BaseURL, "/")+path, rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("build request: %w", err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Accept-Language", Lang(lang))
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := o.hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("send: %w", err)
	}
	defer resp.Body.Close()
	raw, err := readLimited(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, nil, err
	}
	var env envelope
	if json.Unmarshal(raw, &env) != nil || env.Code == nil {
		return resp.StatusCode, nil, raw, nil
	}
	return resp.StatusCode, &env, raw, nil
}

func readLimited(r io.Reader) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("answer larger than %d bytes", maxBody)
	}
	return raw, nil
}

// interpret classifies an answer; see the package doc for the rules.
func (o *openAPI) interpret(op, method string, status int, env *envelope, raw []byte, out any) (string, error) {
	if status >= 500 {
		return "", unknown(o.api, op, "HTTP %d", status)
	}
	if env == nil {
		if status == http.StatusNotFound && method == http.MethodGet {
			return "", &RejectedError{API: o.api, Op: op, Code: "404", Message: "not found", notFound: true}
		}
		return "", unknown(o.api, op, "HTTP %d: answer is not a NeoX envelope (%d bytes)", status, len(raw))
	}
	code := int(*env.Code)
	switch {
	case code >= 500 && code <= 599:
		return "", unknown(o.api, op, "code %d: %s (neoResponseId %s)", code, env.Message, env.NeoResponseID)
	case strings.EqualFold(env.Message, "DUPLICATE_REQUEST_ID"):
		return "", unknown(o.api, op, "%w: %s (neoResponseId %s)", ErrDuplicateRequestID, env.Message, env.NeoResponseID)
	case (code == codeSuccess || code == codeProcessing) && status >= 200 && status < 300:
		if out != nil && len(env.Data) > 0 && string(env.Data) != "null" {
			if err := json.Unmarshal(env.Data, out); err != nil {
				return "", unknown(o.api, op, "decode data: %w", err)
			}
		}
		return env.NeoResponseID, nil
	case code == codeFailed || (code >= 400 && code <= 499) || (status >= 400 && status <= 499):
		return "", &RejectedError{API: o.api, Op: op, Code: strconv.Itoa(code), Message: env.Message,
			NeoResponseID: env.NeoResponseID, notFound: status == http.StatusNotFound}
	default:
		return "", unknown(o.api, op, "HTTP %d, unexpected code %d: %s", status, code, env.Message)
	}
}
