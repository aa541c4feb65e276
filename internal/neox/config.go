package neox

import (
	"fmt"
	"log/slog"
	"time"
)

// DefaultTimeout is used when a config leaves Timeout at zero.
const DefaultTimeout = 15 * time.Second

// maxBody caps every response body read from NeoX.
const maxBody = 1 << 20

// GCScope is the OAuth scope of the Global Collections API.
const GCScope = "global-collection"

const redacted = "***"

// PGConfig configures the PG client. String, GoString and LogValue redact
// the secret key.
type PGConfig struct {
	BaseURL      string // PG host, e.g. https://pg.example; the client appends /api/v1/paygate/neopay
	MerchantCode string
	SecretKey    string
	Timeout      time.Duration // per call; DefaultTimeout when zero
}

// String implements fmt.Stringer without the secret.
func (c PGConfig) String() string {
	return fmt.Sprintf("PGConfig{BaseURL:%q MerchantCode:%q SecretKey:%s Timeout:%s}",
		c.BaseURL, c.MerchantCode, mask(c.SecretKey), c.Timeout)
}

// GoString implements fmt.GoStringer without the secret.
func (c PGConfig) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret.
func (c PGConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.BaseURL), slog.String("merchant_code", c.MerchantCode),
		slog.String("secret_key", mask(c.SecretKey)), slog.Duration("timeout", c.Timeout))
}

// OpenAPIConfig configures the GC or COL client (they share the token
// endpoint). Scope is "global-collection" for GC; COL's is configurable.
// String, GoString and LogValue redact the client secret.
type OpenAPIConfig struct {
	BaseURL      string // {base_url_openapi}; paths /v2/... are appended
	ClientID     string
	ClientSecret string
	Scope        string
	Timeout      time.Duration // per call; DefaultTimeout when zero
}

// String implements fmt.Stringer without the secret.
func (c OpenAPIConfig) String() string {
	return fmt.Sprintf("OpenAPIConfig{BaseURL:%q ClientID:%q ClientSecret:%s Scope:%q Timeout:%s}",
		c.BaseURL, c.ClientID, mask(c.ClientSecret), c.Scope, c.Timeout)
}

// GoString implements fmt.GoStringer without the secret.
func (c OpenAPIConfig) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret.
func (c OpenAPIConfig) LogValue() slog.Value {
	return slog.GroupValue(slog.String("base_url", c.BaseURL), slog.String("client_id", c.ClientID),
		slog.String("client_secret", mask(c.ClientSecret)), slog.String("scope", c.Scope),
		slog.Duration("timeout", c.Timeout))
}

func mask(secret string) string {
	if secret == "" {
		return `""`
	}
	return redacted
}

func timeoutOr(d time.Duration) time.Duration {
	if d <= 0 {
		return DefaultTimeout
	}
	return d
}

// Lang is the Accept-Language NeoX is sent for lang: "en" or "vi", and
// "vi" for anything else. Every call takes the language as an argument
// (the person's the call is made for: the maker's for a refund's sends and
// polls, the signed-in user's for a lookup), so NeoX's messages come back
// in it.
func Lang(lang string) string {
	if lang == "en" {
		return "en"
	}
	return "vi"
}
