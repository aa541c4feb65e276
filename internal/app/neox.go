package app

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"

	"github.com/neox-refund-desk/refunddesk/internal/handlers"
	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

func randomSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// startSandbox starts the NeoX stand-in on its own loopback port with fresh
// random credentials, seeds it with demo data, and points cfg at it. Its
// webhooks go to this app's public URL.
func startSandbox(cfg *Config, a *App) (*sandbox.Sandbox, error) {
	cfg.PGMerchantCode = "DEMO01"
	cfg.PGSecretKey = randomSecret()
	cfg.GCClientID, cfg.GCClientSecret, cfg.GCWebhookSecret = "demo-gc", randomSecret(), randomSecret()
	cfg.COLClientID, cfg.COLClientSecret, cfg.COLWebhookSecret = "demo-col", randomSecret(), randomSecret()
	sb := sandbox.New(sandbox.Config{
		MerchantCode: cfg.PGMerchantCode, PGSecretKey: cfg.PGSecretKey,
		ClientID: cfg.GCClientID, ClientSecret: cfg.GCClientSecret,
		COLClientID: cfg.COLClientID, COLClientSecret: cfg.COLClientSecret,
		GCWebhookSecret: cfg.GCWebhookSecret, COLWebhookSecret: cfg.COLWebhookSecret,
		SettleDelay: cfg.SandboxSettleTime,
		Seed:        true,
		Logger:      a.Log.With("component", "sandbox"),
	})
	if err := sb.Start(); err != nil {
		return nil, fmt.Errorf("start NeoX sandbox: %w", err)
	}
	cfg.PGURL, cfg.OpenAPIURL = sb.URL(), sb.URL()
	sb.SetWebhookURLs(cfg.BaseURL+"/webhooks/neox/pg", cfg.BaseURL+"/webhooks/neox/gc", cfg.BaseURL+"/webhooks/neox/col")
	return sb, nil
}

// gateways builds the NeoX clients of the configured products; a product
// without credentials stays nil and is offered nowhere.
func gateways(cfg Config) refunds.Gateways {
	hc := &http.Client{}
	var gw refunds.Gateways
	if cfg.PGSecretKey != "" {
		gw.PG = neox.NewPG(neox.PGConfig{BaseURL: cfg.PGURL, MerchantCode: cfg.PGMerchantCode, SecretKey: cfg.PGSecretKey, Timeout: cfg.NeoXTimeout}, hc)
	}
	if cfg.GCClientID != "" {
		gw.GC = neox.NewGC(neox.OpenAPIConfig{BaseURL: cfg.OpenAPIURL, ClientID: cfg.GCClientID, ClientSecret: cfg.GCClientSecret,
			Scope: "global-collection", Timeout: cfg.NeoXTimeout}, hc)
	}
	if cfg.COLClientID != "" {
		gw.COL = neox.NewCOL(neox.OpenAPIConfig{BaseURL: cfg.OpenAPIURL, ClientID: cfg.COLClientID, ClientSecret: cfg.COLClientSecret,
			Scope: cfg.COLScope, Timeout: cfg.NeoXTimeout}, hc)
	}
	return gw
}

func webhookSecrets(cfg Config) handlers.WebhookSecrets {
	return handlers.WebhookSecrets{
		Keys: refunds.Hooks{PG: refunds.HookKeys{Secret: cfg.PGSecretKey, Merchant: cfg.PGMerchantCode},
			GC: refunds.HookKeys{Secret: cfg.GCWebhookSecret}, COL: refunds.HookKeys{Secret: cfg.COLWebhookSecret}}.Keys(),
		BasicUser: cfg.WebhookBasicUser, BasicPass: cfg.WebhookBasicPass,
	}
}
