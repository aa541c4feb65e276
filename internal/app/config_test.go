package app

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseConfigDefaults(t *testing.T) {
	c, err := ParseConfig("test", nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatalf("zero configuration must work: %v", err)
	}
	if c.Addr != "127.0.0.1:8080" || c.DBPath != "data/refunddesk.db" || c.NeoXMode != "sandbox" ||
		c.BaseURL != "http://127.0.0.1:8080" || c.SessionIdle != 30*time.Minute || c.SessionAbsolute != 12*time.Hour ||
		c.NeoXConcurrency != 2 || c.MerchantTZ == nil || c.MerchantTZ.String() != "Asia/Ho_Chi_Minh" || c.APIRateLimit != 120 {
		t.Errorf("defaults: %+v", c)
	}
	c, err = ParseConfig("test", nil, envOf(map[string]string{"API_RATE_LIMIT": "600"}), io.Discard)
	if err != nil || c.APIRateLimit != 600 {
		t.Errorf("API_RATE_LIMIT=600: %d, %v", c.APIRateLimit, err)
	}
	if c.SMTP.Enabled() || c.NotifyRemindAfter != 24*time.Hour {
		t.Errorf("notification defaults: email on %v, remind after %v", c.SMTP.Enabled(), c.NotifyRemindAfter)
	}
	c, err = ParseConfig("test", nil, envOf(map[string]string{"SMTP_HOST": "mail.example", "SMTP_FROM": "d@example.com", "SMTP_TLS": "tls", "NOTIFY_REMIND_AFTER": "0"}), io.Discard)
	if err != nil || c.SMTP.Port != 465 || c.NotifyRemindAfter != 0 {
		t.Errorf("SMTP_TLS=tls without a port: %+v, %v", c.SMTP, err)
	}
	c, err = ParseConfig("test", nil, envOf(map[string]string{"MERCHANT_TZ": "Asia/Bangkok"}), io.Discard)
	if err != nil || c.MerchantTZ.String() != "Asia/Bangkok" {
		t.Errorf("MERCHANT_TZ=Asia/Bangkok: %v, %v", c.MerchantTZ, err)
	}
}

// TestParseConfigAttention: the needs-attention thresholds and the COL
// sweep have defaults per product and take flags or environment values.
func TestParseConfigAttention(t *testing.T) {
	c, err := ParseConfig("test", nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AttentionAfter["PG"] != 48*time.Hour || c.AttentionAfter["GC"] != 24*time.Hour || c.AttentionAfter["COL"] != 72*time.Hour ||
		c.AttentionUnknownAttempts != 10 || c.COLSweepInterval != 24*time.Hour || c.COLSweepWindow != 7*24*time.Hour ||
		c.WorkerLease != 5*time.Minute {
		t.Errorf("defaults: %+v", c)
	}
	c, err = ParseConfig("test", []string{"-attention-after-gc", "90m"}, envOf(map[string]string{"ATTENTION_AFTER_GC": "2h",
		"ATTENTION_AFTER_PG": "3s", "ATTENTION_UNKNOWN_ATTEMPTS": "4", "COL_SWEEP_INTERVAL": "0", "COL_SWEEP_WINDOW": "48h"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.AttentionAfter["GC"] != 90*time.Minute || c.AttentionAfter["PG"] != 3*time.Second || c.AttentionUnknownAttempts != 4 ||
		c.COLSweepInterval != 0 || c.COLSweepWindow != 48*time.Hour {
		t.Errorf("set values: %+v", c)
	}
}

func TestParseConfigFlagsBeatEnvironment(t *testing.T) {
	c, err := ParseConfig("test", []string{"-addr", "127.0.0.1:9000"}, envOf(map[string]string{"ADDR": "127.0.0.1:7000", "DATA_DIR": "/tmp/x"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9000" || c.DBPath != "/tmp/x/refunddesk.db" {
		t.Errorf("addr %s db %s", c.Addr, c.DBPath)
	}
	c, err = ParseConfig("test", []string{"-neox-concurrency", "8"}, envOf(map[string]string{"NEOX_CONCURRENCY": "4"}), io.Discard)
	if err != nil || c.NeoXConcurrency != 8 {
		t.Errorf("concurrency %d, %v", c.NeoXConcurrency, err)
	}
}

func TestParseConfigRejectsBadValues(t *testing.T) {
	live := map[string]string{"NEOX_MODE": "live", "NEOX_PG_URL": "https://pg.example", "NEOX_PG_MERCHANT_CODE": "M1", "NEOX_PG_SECRET_KEY": "s"}
	tests := []struct {
		name string
		env  map[string]string
		want string // part of the error naming the setting
	}{
		{"bad duration", map[string]string{"SESSION_IDLE_TIMEOUT": "soon"}, "SESSION_IDLE_TIMEOUT"},
		{"idle longer than absolute", map[string]string{"SESSION_IDLE_TIMEOUT": "13h"}, "must not exceed"},
		{"bad address", map[string]string{"ADDR": "localhost"}, "ADDR"},
		{"bad base url", map[string]string{"BASE_URL": "ftp://x"}, "BASE_URL"},
		{"bad log level", map[string]string{"LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"unknown mode", map[string]string{"NEOX_MODE": "prod"}, "NEOX_MODE"},
		{"live with nothing", map[string]string{"NEOX_MODE": "live"}, "no NeoX product is configured"},
		{"live, PG half configured", map[string]string{"NEOX_MODE": "live", "NEOX_PG_URL": "https://pg.example"}, "NEOX_PG_MERCHANT_CODE, NEOX_PG_SECRET_KEY"},
		{"live, COL half configured", map[string]string{"NEOX_MODE": "live", "NEOX_OPENAPI_URL": "https://api.example", "NEOX_COL_CLIENT_ID": "c"},
			"NEOX_MODE=live: COL is partly configured; missing NEOX_COL_CLIENT_SECRET, NEOX_COL_WEBHOOK_SECRET"},
		{"basic auth user without password", map[string]string{"WEBHOOK_BASIC_USER": "neox"}, "WEBHOOK_BASIC_PASS"},
		{"unknown time zone", map[string]string{"MERCHANT_TZ": "Mars/Olympus"}, "MERCHANT_TZ"},
		{"offset instead of a zone", map[string]string{"MERCHANT_TZ": "+07:00"}, "MERCHANT_TZ"},
		{"the machine's zone", map[string]string{"MERCHANT_TZ": "Local"}, "MERCHANT_TZ"},
		{"concurrency not a number", map[string]string{"NEOX_CONCURRENCY": "many"}, "NEOX_CONCURRENCY"},
		{"concurrency zero", map[string]string{"NEOX_CONCURRENCY": "0"}, "NEOX_CONCURRENCY"},
		{"concurrency too high", map[string]string{"NEOX_CONCURRENCY": "33"}, "NEOX_CONCURRENCY"},
		{"concurrency negative", map[string]string{"NEOX_CONCURRENCY": "-2"}, "NEOX_CONCURRENCY"},
		{"live with a bad url", merge(live, map[string]string{"NEOX_PG_URL": "pg.example"}), "NEOX_PG_URL"},
		{"hex port", map[string]string{"ADDR": ":0x50"}, `ADDR: port "0x50" is not a number`},
		{"port too large", map[string]string{"ADDR": "127.0.0.1:70000"}, "ADDR"},
		{"session key not hex", map[string]string{"SESSION_KEY": "zz"}, "SESSION_KEY secret 1: not hexadecimal"},
		{"session key of letters", map[string]string{"SESSION_KEY": strings.Repeat("g", 64)}, "SESSION_KEY secret 1: not hexadecimal"},
		{"session key short", map[string]string{"SESSION_KEY": "00112233"}, "too short: 4 bytes (8 hex characters), need at least 32"},
		{"attention PG not a duration", map[string]string{"ATTENTION_AFTER_PG": "two days"}, "ATTENTION_AFTER_PG"},
		{"attention GC zero", map[string]string{"ATTENTION_AFTER_GC": "0"}, "ATTENTION_AFTER_GC"},
		{"attention GC negative", map[string]string{"ATTENTION_AFTER_GC": "-1h"}, "ATTENTION_AFTER_GC"},
		{"attention COL over a month", map[string]string{"ATTENTION_AFTER_COL": "800h"}, "ATTENTION_AFTER_COL"},
		{"unknown attempts zero", map[string]string{"ATTENTION_UNKNOWN_ATTEMPTS": "0"}, "ATTENTION_UNKNOWN_ATTEMPTS"},
		{"unknown attempts not a number", map[string]string{"ATTENTION_UNKNOWN_ATTEMPTS": "ten"}, "ATTENTION_UNKNOWN_ATTEMPTS"},
		{"unknown attempts too many", map[string]string{"ATTENTION_UNKNOWN_ATTEMPTS": "101"}, "ATTENTION_UNKNOWN_ATTEMPTS"},
		{"sweep interval too short", map[string]string{"COL_SWEEP_INTERVAL": "5s"}, "COL_SWEEP_INTERVAL"},
		{"worker lease not a duration", map[string]string{"WORKER_LEASE": "long"}, "WORKER_LEASE"},
		{"worker lease too short", map[string]string{"WORKER_LEASE": "500ms"}, "WORKER_LEASE"},
		{"worker lease too long", map[string]string{"WORKER_LEASE": "2h"}, "WORKER_LEASE"},
		{"worker lease under four NeoX timeouts", map[string]string{"WORKER_LEASE": "35s", "NEOX_TIMEOUT": "10s"}, "WORKER_LEASE"},
		{"sweep interval not a duration", map[string]string{"COL_SWEEP_INTERVAL": "daily"}, "COL_SWEEP_INTERVAL"},
		{"sweep window too short", map[string]string{"COL_SWEEP_WINDOW": "10m"}, "COL_SWEEP_WINDOW"},
		{"trusted proxy not a CIDR", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"}, "TRUSTED_PROXIES"},
		{"trusted proxy prefix too long", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/33"}, "TRUSTED_PROXIES"},
		{"trusted proxies only commas", map[string]string{"TRUSTED_PROXIES": " , "}, "TRUSTED_PROXIES"},
		{"api rate limit zero", map[string]string{"API_RATE_LIMIT": "0"}, "API_RATE_LIMIT"},
		{"api rate limit not a number", map[string]string{"API_RATE_LIMIT": "lots"}, "API_RATE_LIMIT: \"lots\" is not a whole number of requests per minute"},
		{"api rate limit per second", map[string]string{"API_RATE_LIMIT": "2/s"}, "API_RATE_LIMIT"},
		{"api rate limit too high", map[string]string{"API_RATE_LIMIT": "100001"}, "API_RATE_LIMIT"},
		{"smtp port not a number", map[string]string{"SMTP_HOST": "mail.example", "SMTP_FROM": "d@example.com", "SMTP_PORT": "smtp"}, "SMTP_PORT"},
		{"smtp without from", map[string]string{"SMTP_HOST": "mail.example"}, "SMTP_FROM"},
		{"smtp tls unknown", map[string]string{"SMTP_HOST": "mail.example", "SMTP_FROM": "d@example.com", "SMTP_TLS": "ssl"}, "SMTP_TLS"},
		{"smtp password without host", map[string]string{"SMTP_PASSWORD": "p"}, "SMTP_HOST"},
		{"remind too soon", map[string]string{"NOTIFY_REMIND_AFTER": "10s"}, "NOTIFY_REMIND_AFTER"},
		{"remind not a duration", map[string]string{"NOTIFY_REMIND_AFTER": "daily"}, "NOTIFY_REMIND_AFTER"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig("test", nil, envOf(tt.env), io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one naming %q", err, tt.want)
			}
			if _, bad := tt.env["BASE_URL"]; !bad && strings.Contains(err.Error(), "BASE_URL") {
				t.Fatalf("err = %v blames BASE_URL, which was not set", err)
			}
		})
	}
	if _, err := ParseConfig("test", nil, envOf(live), io.Discard); err != nil {
		t.Errorf("complete live PG configuration refused: %v", err)
	}
}

func TestParseConfigTrustedProxies(t *testing.T) {
	tests := map[string]string{
		"":                                   "[]",
		"10.0.0.0/8":                         "[10.0.0.0/8]",
		" 10.1.2.3/8 , 192.0.2.10, fd00::/8": "[10.0.0.0/8 192.0.2.10/32 fd00::/8]",
		"::ffff:192.0.2.0/120":               "[192.0.2.0/24]",
	}
	for in, want := range tests {
		c, err := ParseConfig("test", nil, envOf(map[string]string{"TRUSTED_PROXIES": in}), io.Discard)
		if err != nil {
			t.Fatalf("TRUSTED_PROXIES=%q: %v", in, err)
		}
		if got := fmt.Sprint(c.TrustedProxies); got != want {
			t.Errorf("TRUSTED_PROXIES=%q parsed as %s, want %s", in, got, want)
		}
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// Secrets never appear in what is logged or audited about the configuration.
func TestConfigRedactsSecrets(t *testing.T) {
	secrets := map[string]string{
		"NEOX_PG_SECRET_KEY": "pg-very-secret", "NEOX_GC_CLIENT_SECRET": "gc-very-secret", "NEOX_GC_WEBHOOK_SECRET": "gc-hook-secret",
		"NEOX_COL_CLIENT_SECRET": "col-very-secret", "NEOX_COL_WEBHOOK_SECRET": "col-hook-secret", "SESSION_KEY": "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff",
		"WEBHOOK_BASIC_USER": "neox", "WEBHOOK_BASIC_PASS": "basic-very-secret",
		"SMTP_HOST": "mail.example", "SMTP_FROM": "desk@example.com", "SMTP_USERNAME": "desk", "SMTP_PASSWORD": "smtp-very-secret",
	}
	c, err := ParseConfig("test", nil, envOf(secrets), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{c.String(), c.LogValue().String()}
	for k, v := range c.Redacted() {
		outputs = append(outputs, k+"="+v.(string))
	}
	for name, secret := range secrets {
		if name == "WEBHOOK_BASIC_USER" || strings.HasPrefix(name, "SMTP_") && name != "SMTP_PASSWORD" {
			continue
		}
		for _, out := range outputs {
			if strings.Contains(out, secret) {
				t.Errorf("%s leaks into %q", name, out)
			}
		}
	}
}

// DATABASE_URL: a postgres:// URL or nothing; its password never reaches
// the log, and a server that is down is named by host, with no password.
func TestDatabaseURL(t *testing.T) {
	parse := func(env map[string]string) (Config, error) {
		return ParseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
	}
	const url = "postgres://desk:s3cret-pw@127.0.0.1:1/desk?sslmode=disable"
	c, err := parse(map[string]string{"DATABASE_URL": url})
	if err != nil || !c.Postgres() || c.DBMaxConns != 10 {
		t.Fatalf("valid URL: %+v, %v", c, err)
	}
	if s := c.String() + c.Database(); strings.Contains(s, "s3cret") || !strings.Contains(s, "127.0.0.1:1") {
		t.Errorf("config as logged: %s", s)
	}
	for _, bad := range []map[string]string{
		{"DATABASE_URL": "mysql://desk@db/desk"},
		{"DATABASE_URL": "postgres://desk:s3cret-pw@db:notaport/desk"},
		{"DATABASE_URL": url, "DB_MAX_CONNS": "0"},
		{"DB_MAX_CONNS": "many"},
	} {
		if _, err := parse(bad); err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%v: err = %v, want an error without the password", bad, err)
		}
	}
	_, err = Open(context.Background(), c, NewLogger(io.Discard, c.Level()), Options{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("PostgreSQL down: %v; want the host named and no password", err)
	}
}

// TestProductSettingsAreRead: every setting a NeoX product says its client
// needs is one the configuration reads, so the live-mode check can see it.
func TestProductSettingsAreRead(t *testing.T) {
	known := Config{}.neoxSettings()
	n := 0
	for _, p := range refunds.Products(refunds.Gateways{}) {
		ps, ok := p.(product.Settings)
		if !ok {
			t.Errorf("%s names no settings", p.Name())
			continue
		}
		for _, name := range ps.Settings() {
			n++
			if _, ok := known[name]; !ok {
				t.Errorf("%s needs %s, which the configuration does not read", p.Name(), name)
			}
		}
	}
	if n == 0 {
		t.Fatal("no product names a setting")
	}
}
