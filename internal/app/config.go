package app

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // MERCHANT_TZ must load on machines without zoneinfo

	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/bulk"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/product"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Config is everything the server needs, parsed once from flags with
// environment fallbacks and validated before anything starts.
type Config struct {
	Addr    string
	DataDir string
	DBPath  string
	// DatabaseURL (DATABASE_URL), when set, is the PostgreSQL database
	// (postgres://...) used instead of the SQLite file at DBPath.
	DatabaseURL     string
	DBMaxConns      int // PostgreSQL connection pool size per instance (DB_MAX_CONNS)
	BaseURL         string
	LogLevel        string
	SessionIdle     time.Duration
	SessionAbsolute time.Duration
	SessionKey      string // optional; generated and stored in the database otherwise
	// TrustedProxies are the proxies whose X-Forwarded-For is believed
	// (TRUSTED_PROXIES); empty: the header is ignored.
	TrustedProxies []netip.Prefix
	// MerchantTZ is the merchant's time zone (MERCHANT_TZ): times on
	// pages, and every "today" (dashboard, audit presets, date filters).
	MerchantTZ *time.Location

	NeoXMode          string // sandbox | live
	PGURL             string
	PGMerchantCode    string
	PGSecretKey       string
	OpenAPIURL        string
	GCClientID        string
	GCClientSecret    string
	GCWebhookSecret   string
	COLClientID       string
	COLClientSecret   string
	COLScope          string
	COLWebhookSecret  string
	WebhookBasicUser  string
	WebhookBasicPass  string
	NeoXTimeout       time.Duration
	NeoXConcurrency   int // refund sends in flight per NeoX product (polls get half)
	BulkLookups       int // rows of uploaded refund files checked at once (NeoX lookups), per instance
	SandboxSettleTime time.Duration

	// Needs attention and the COL sweep (see internal/refunds/attention.go).
	// AttentionAfter is per product (ATTENTION_AFTER_<product>), the
	// product's own default unless set.
	AttentionAfter           map[refunds.API]time.Duration
	AttentionUnknownAttempts int
	COLSweepInterval         time.Duration // 0: no sweep
	COLSweepWindow           time.Duration

	// Step-up for approvals (STEPUP_LIMITS, STEPUP_WINDOW): approving above
	// StepUpLimits[currency] (minor units) asks for a second-factor code,
	// unless one was given within StepUpWindow. Empty: never asks.
	StepUpLimits map[string]int64
	StepUpWindow time.Duration
	// WorkerLease is how long a worker's claim of a refund it is sending
	// stands against the other instances' workers; after it, the claim is
	// a dead instance's and another worker reconciles and resends it.
	WorkerLease time.Duration

	// MetricsAddr (METRICS_ADDR) is where /metrics is served, on a listener
	// of its own; empty: no metrics at all.
	MetricsAddr string

	// APIRateLimit is how many /api/v1 requests one API key may make per
	// minute on this instance (API_RATE_LIMIT).
	APIRateLimit int

	// Notifications (SMTP_*, NOTIFY_REMIND_AFTER): email is off when
	// SMTP.Host is empty; a request still pending after NotifyRemindAfter
	// sends approvers one reminder (0: never).
	SMTP              notify.SMTPConfig
	NotifyRemindAfter time.Duration
}

const redacted = "[redacted]"

// DefaultMerchantTZ is where NeoX's merchants work.
const DefaultMerchantTZ = "Asia/Ho_Chi_Minh"

// loadZone loads an IANA zone by name. "Local" is refused: the machine's
// zone is an accident of deployment, not the merchant's day.
func loadZone(name string) (*time.Location, error) {
	loc, err := time.LoadLocation(name)
	if err != nil || name == "" || name == "Local" {
		return nil, fmt.Errorf("MERCHANT_TZ: %q is not a time zone name (examples: Asia/Ho_Chi_Minh, Asia/Bangkok, UTC)", name)
	}
	return loc, nil
}

func mask(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

// LogValue is what slog and the startup audit event see: secrets redacted.
func (c Config) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("addr", c.Addr), slog.String("db_path", c.DBPath), slog.String("database_url", store.RedactURL(c.DatabaseURL)),
		slog.Int("db_max_conns", c.DBMaxConns), slog.String("base_url", c.BaseURL),
		slog.String("neox_mode", c.NeoXMode), slog.String("neox_pg_url", c.PGURL),
		slog.String("neox_pg_merchant_code", c.PGMerchantCode), slog.String("neox_pg_secret_key", mask(c.PGSecretKey)),
		slog.String("neox_openapi_url", c.OpenAPIURL), slog.String("neox_gc_client_id", c.GCClientID),
		slog.String("neox_gc_client_secret", mask(c.GCClientSecret)), slog.String("neox_gc_webhook_secret", mask(c.GCWebhookSecret)),
		slog.String("neox_col_client_id", c.COLClientID), slog.String("neox_col_client_secret", mask(c.COLClientSecret)),
		slog.String("neox_col_scope", c.COLScope), slog.String("neox_col_webhook_secret", mask(c.COLWebhookSecret)),
		slog.String("webhook_basic_user", c.WebhookBasicUser), slog.String("webhook_basic_pass", mask(c.WebhookBasicPass)),
		slog.String("session_key", mask(c.SessionKey)),
		slog.Duration("session_idle_timeout", c.SessionIdle), slog.Duration("session_absolute_timeout", c.SessionAbsolute),
		slog.Int("neox_concurrency", c.NeoXConcurrency), slog.Int("bulk_lookup_concurrency", c.BulkLookups),
	}
	for _, p := range refunds.Products(refunds.Gateways{}) {
		attrs = append(attrs, slog.Duration("attention_after_"+strings.ToLower(p.Name()), c.AttentionAfter[refunds.API(p.Name())]))
	}
	attrs = append(attrs,
		slog.Int("attention_unknown_attempts", c.AttentionUnknownAttempts),
		slog.Duration("col_sweep_interval", c.COLSweepInterval), slog.Duration("col_sweep_window", c.COLSweepWindow),
		slog.Any("trusted_proxies", c.TrustedProxies), slog.Any("merchant_tz", c.MerchantTZ),
		slog.Any("stepup_limits", c.StepUpLimits), slog.Duration("stepup_window", c.StepUpWindow),
		slog.Duration("worker_lease", c.WorkerLease),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.Int("api_rate_limit", c.APIRateLimit),
		slog.String("smtp_host", c.SMTP.Host), slog.Int("smtp_port", c.SMTP.Port), slog.String("smtp_username", c.SMTP.Username),
		slog.String("smtp_password", mask(c.SMTP.Password)), slog.String("smtp_from", c.SMTP.From), slog.String("smtp_tls", c.SMTP.TLS),
		slog.Duration("notify_remind_after", c.NotifyRemindAfter),
	)
	return slog.GroupValue(attrs...)
}

// Postgres reports whether the configured database is PostgreSQL.
func (c Config) Postgres() bool { return c.DatabaseURL != "" }

// Database names the configured database for messages: the PostgreSQL URL
// without its password, or the SQLite file.
func (c Config) Database() string {
	if c.Postgres() {
		return store.RedactURL(c.DatabaseURL)
	}
	return c.DBPath
}

// String never prints secrets.
func (c Config) String() string { return c.LogValue().String() }

// Redacted returns the configuration as a map for the startup audit event.
func (c Config) Redacted() map[string]any {
	m := map[string]any{}
	for _, a := range c.LogValue().Group() {
		m[a.Key] = a.Value.String()
	}
	return m
}

// ParseConfig reads flags from args; each flag falls back to the
// environment variable of the same name, then to a default that needs no
// setup (sandbox mode, ./data).
func ParseConfig(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	var idle, absolute, neoxTimeout, settle, concurrency, proxies, tz, maxConns string
	var attnUnknown, sweepEvery, sweepWindow string
	var stepLimits, stepWindow, workerLease, apiRate string
	var smtpPort, remindAfter string
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address (ADDR)")
	fs.StringVar(&c.DataDir, "data-dir", env("DATA_DIR", "data"), "directory for the database (DATA_DIR)")
	fs.StringVar(&c.DBPath, "db-path", env("DB_PATH", ""), "database file; default DATA_DIR/refunddesk.db (DB_PATH)")
	fs.StringVar(&c.DatabaseURL, "database-url", env("DATABASE_URL", ""), "PostgreSQL database, postgres://user:password@host/db; unset: the SQLite file (DATABASE_URL)")
	fs.StringVar(&maxConns, "db-max-conns", env("DB_MAX_CONNS", "10"), "PostgreSQL connections per instance, 1–1000 (DB_MAX_CONNS)")
	fs.StringVar(&c.BaseURL, "base-url", env("BASE_URL", ""), "public URL; https turns on Secure cookies (BASE_URL)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (LOG_LEVEL)")
	fs.StringVar(&idle, "session-idle-timeout", env("SESSION_IDLE_TIMEOUT", "30m"), "sign out after this much inactivity (SESSION_IDLE_TIMEOUT)")
	fs.StringVar(&absolute, "session-absolute-timeout", env("SESSION_ABSOLUTE_TIMEOUT", "12h"), "sign out this long after sign-in (SESSION_ABSOLUTE_TIMEOUT)")
	fs.StringVar(&c.SessionKey, "session-key", env("SESSION_KEY", ""), "64+ hex chars; default: generated and kept in the database (SESSION_KEY)")
	fs.StringVar(&proxies, "trusted-proxies", env("TRUSTED_PROXIES", ""), "comma-separated CIDRs or addresses of proxies whose X-Forwarded-For is believed (TRUSTED_PROXIES)")
	fs.StringVar(&tz, "merchant-tz", env("MERCHANT_TZ", DefaultMerchantTZ), "the merchant's IANA time zone, for times on pages and when a day starts (MERCHANT_TZ)")
	fs.StringVar(&c.NeoXMode, "neox-mode", env("NEOX_MODE", "sandbox"), "sandbox (built-in NeoX stand-in) or live (NEOX_MODE)")
	fs.StringVar(&c.PGURL, "neox-pg-url", env("NEOX_PG_URL", ""), "NeoX PG base URL (NEOX_PG_URL)")
	fs.StringVar(&c.PGMerchantCode, "neox-pg-merchant-code", env("NEOX_PG_MERCHANT_CODE", ""), "(NEOX_PG_MERCHANT_CODE)")
	fs.StringVar(&c.PGSecretKey, "neox-pg-secret-key", env("NEOX_PG_SECRET_KEY", ""), "(NEOX_PG_SECRET_KEY)")
	fs.StringVar(&c.OpenAPIURL, "neox-openapi-url", env("NEOX_OPENAPI_URL", ""), "NeoX open API base URL for GC, COL and tokens (NEOX_OPENAPI_URL)")
	fs.StringVar(&c.GCClientID, "neox-gc-client-id", env("NEOX_GC_CLIENT_ID", ""), "(NEOX_GC_CLIENT_ID)")
	fs.StringVar(&c.GCClientSecret, "neox-gc-client-secret", env("NEOX_GC_CLIENT_SECRET", ""), "(NEOX_GC_CLIENT_SECRET)")
	fs.StringVar(&c.GCWebhookSecret, "neox-gc-webhook-secret", env("NEOX_GC_WEBHOOK_SECRET", ""), "(NEOX_GC_WEBHOOK_SECRET)")
	fs.StringVar(&c.COLClientID, "neox-col-client-id", env("NEOX_COL_CLIENT_ID", ""), "(NEOX_COL_CLIENT_ID)")
	fs.StringVar(&c.COLClientSecret, "neox-col-client-secret", env("NEOX_COL_CLIENT_SECRET", ""), "(NEOX_COL_CLIENT_SECRET)")
	fs.StringVar(&c.COLScope, "neox-col-scope", env("NEOX_COL_SCOPE", "collection"), "OAuth scope for COL tokens (NEOX_COL_SCOPE)")
	fs.StringVar(&c.COLWebhookSecret, "neox-col-webhook-secret", env("NEOX_COL_WEBHOOK_SECRET", ""), "(NEOX_COL_WEBHOOK_SECRET)")
	fs.StringVar(&c.WebhookBasicUser, "webhook-basic-user", env("WEBHOOK_BASIC_USER", ""), "optional Basic Auth user NeoX sends with webhooks (WEBHOOK_BASIC_USER)")
	fs.StringVar(&c.WebhookBasicPass, "webhook-basic-pass", env("WEBHOOK_BASIC_PASS", ""), "(WEBHOOK_BASIC_PASS)")
	fs.StringVar(&neoxTimeout, "neox-timeout", env("NEOX_TIMEOUT", "15s"), "timeout of one NeoX call (NEOX_TIMEOUT)")
	fs.StringVar(&concurrency, "neox-concurrency", env("NEOX_CONCURRENCY", "2"), "refunds sent to each NeoX product at once, 1–32; status polls get half (NEOX_CONCURRENCY)")
	var bulkLookups string
	fs.StringVar(&bulkLookups, "bulk-lookup-concurrency", env("BULK_LOOKUP_CONCURRENCY", strconv.Itoa(bulk.DefaultLookups)),
		fmt.Sprintf("rows of uploaded refund files checked at once per instance (NeoX lookups), 1–%d (BULK_LOOKUP_CONCURRENCY)", bulk.MaxLookups))
	fs.StringVar(&settle, "sandbox-settle-delay", env("SANDBOX_SETTLE_DELAY", "3s"), "sandbox: delay between refund state changes (SANDBOX_SETTLE_DELAY)")
	// Each product's needs-attention threshold, defaulting to the product's.
	products := refunds.Products(refunds.Gateways{})
	attn := make([]string, len(products))
	for i, p := range products {
		n := p.Name()
		fs.StringVar(&attn[i], "attention-after-"+strings.ToLower(n), env("ATTENTION_AFTER_"+n, shortDuration(p.AttentionAfter())),
			n+" refunds with no final answer this long after approval need attention (ATTENTION_AFTER_"+n+")")
	}
	fs.StringVar(&attnUnknown, "attention-unknown-attempts", env("ATTENTION_UNKNOWN_ATTEMPTS", "10"), "sends ending with an unknown outcome before a refund needs attention, 1–100 (ATTENTION_UNKNOWN_ATTEMPTS)")
	fs.StringVar(&sweepEvery, "col-sweep-interval", env("COL_SWEEP_INTERVAL", "24h"), "how often to compare NeoX's COL refund list with the desk; 0 turns it off (COL_SWEEP_INTERVAL)")
	fs.StringVar(&sweepWindow, "col-sweep-window", env("COL_SWEEP_WINDOW", "168h"), "how far back each COL sweep looks (COL_SWEEP_WINDOW)")
	fs.StringVar(&stepLimits, "stepup-limits", env("STEPUP_LIMITS", ""), "approving above these amounts asks for a second-factor code: CURRENCY=minor units, comma-separated, e.g. VND=100000000,USD=500000 (STEPUP_LIMITS)")
	fs.StringVar(&stepWindow, "stepup-window", env("STEPUP_WINDOW", "5m"), "a code given this recently satisfies a step-up without a new one, 0–1h (STEPUP_WINDOW)")
	fs.StringVar(&workerLease, "worker-lease", env("WORKER_LEASE", "5m"), "how long a worker's claim of a refund it is sending stands before another instance takes it over, 1s–1h and at least 4× NEOX_TIMEOUT (WORKER_LEASE)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("METRICS_ADDR", ""), "serve Prometheus /metrics on this host:port, a listener apart from ADDR; empty: off (METRICS_ADDR)")
	fs.StringVar(&apiRate, "api-rate-limit", env("API_RATE_LIMIT", "120"), "/api/v1 requests per minute per API key on this instance, 1–100000 (API_RATE_LIMIT)")
	fs.StringVar(&c.SMTP.Host, "smtp-host", env("SMTP_HOST", ""), "mail server for notification emails; unset: no email (SMTP_HOST)")
	fs.StringVar(&smtpPort, "smtp-port", env("SMTP_PORT", ""), "mail server port; default 587 (starttls), 465 (tls), 25 (none) (SMTP_PORT)")
	fs.StringVar(&c.SMTP.Username, "smtp-username", env("SMTP_USERNAME", ""), "(SMTP_USERNAME)")
	fs.StringVar(&c.SMTP.Password, "smtp-password", env("SMTP_PASSWORD", ""), "(SMTP_PASSWORD)")
	fs.StringVar(&c.SMTP.From, "smtp-from", env("SMTP_FROM", ""), "From address of notification emails (SMTP_FROM)")
	fs.StringVar(&c.SMTP.TLS, "smtp-tls", env("SMTP_TLS", "starttls"), "starttls, tls or none (SMTP_TLS)")
	fs.StringVar(&remindAfter, "notify-remind-after", env("NOTIFY_REMIND_AFTER", "24h"), "remind approvers once of a request still pending this long; 0: never (NOTIFY_REMIND_AFTER)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	var errs []error
	dur := func(name, v string, min time.Duration) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil || d < min {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration of at least %s (examples: 30m, 12h)", name, v, min))
		}
		return d
	}
	c.SessionIdle = dur("SESSION_IDLE_TIMEOUT", idle, time.Minute)
	c.SessionAbsolute = dur("SESSION_ABSOLUTE_TIMEOUT", absolute, time.Minute)
	c.NeoXTimeout = dur("NEOX_TIMEOUT", neoxTimeout, 100*time.Millisecond)
	c.SandboxSettleTime = dur("SANDBOX_SETTLE_DELAY", settle, 0)
	within := func(name, v string, lo, hi time.Duration) time.Duration {
		d, err := time.ParseDuration(v)
		if err != nil || d < lo || d > hi {
			errs = append(errs, fmt.Errorf("%s: %q is not a duration from %s to %s (examples: 24h, 90m)", name, v, lo, hi))
		}
		return d
	}
	const month = 31 * 24 * time.Hour
	c.AttentionAfter = map[refunds.API]time.Duration{}
	for i, p := range products {
		c.AttentionAfter[refunds.API(p.Name())] = within("ATTENTION_AFTER_"+p.Name(), attn[i], time.Second, month)
	}
	if n, err := strconv.Atoi(attnUnknown); err != nil || n < 1 || n > 100 {
		errs = append(errs, fmt.Errorf("ATTENTION_UNKNOWN_ATTEMPTS: %q is not a whole number from 1 to 100", attnUnknown))
	} else {
		c.AttentionUnknownAttempts = n
	}
	if d, err := time.ParseDuration(sweepEvery); err != nil || (d != 0 && d < time.Minute) || d > month {
		errs = append(errs, fmt.Errorf("COL_SWEEP_INTERVAL: %q is not 0 (off) or a duration from 1m to %s (example: 24h)", sweepEvery, month))
	} else {
		c.COLSweepInterval = d
	}
	c.COLSweepWindow = within("COL_SWEEP_WINDOW", sweepWindow, time.Hour, 3*month)
	c.StepUpWindow = within("STEPUP_WINDOW", stepWindow, 0, time.Hour)
	c.WorkerLease = within("WORKER_LEASE", workerLease, time.Second, time.Hour)
	if c.WorkerLease > 0 && c.NeoXTimeout > 0 && c.WorkerLease < 4*c.NeoXTimeout {
		// A claim must outlast the call it covers, or a live worker's call
		// would be taken over and the refund sent twice.
		errs = append(errs, fmt.Errorf("WORKER_LEASE: %s is shorter than 4× NEOX_TIMEOUT (%s): a claim must outlast the NeoX calls it covers (a look-up, the wait for a call slot, the refund call)", c.WorkerLease, 4*c.NeoXTimeout))
	}
	if l, err := parseStepUpLimits(stepLimits); err != nil {
		errs = append(errs, err)
	} else {
		c.StepUpLimits = l
	}
	if n, err := strconv.Atoi(apiRate); err != nil || n < 1 || n > 100000 {
		errs = append(errs, fmt.Errorf("API_RATE_LIMIT: %q is not a whole number of requests per minute from 1 to 100000", apiRate))
	} else {
		c.APIRateLimit = n
	}
	if smtpPort != "" {
		if n, err := strconv.Atoi(smtpPort); err != nil || n < 1 || n > 65535 {
			errs = append(errs, fmt.Errorf("SMTP_PORT: %q is not a port number from 1 to 65535", smtpPort))
		} else {
			c.SMTP.Port = n
		}
	}
	if err := c.SMTP.Check(); err != nil {
		errs = append(errs, err)
	}
	if d, err := time.ParseDuration(remindAfter); err != nil || (d != 0 && d < time.Minute) || d > month {
		errs = append(errs, fmt.Errorf("NOTIFY_REMIND_AFTER: %q is not 0 (off) or a duration from 1m to %s (example: 24h)", remindAfter, month))
	} else {
		c.NotifyRemindAfter = d
	}
	if n, err := strconv.Atoi(concurrency); err != nil || n < 1 || n > 32 {
		errs = append(errs, fmt.Errorf("NEOX_CONCURRENCY: %q is not a whole number from 1 to 32", concurrency))
	} else {
		c.NeoXConcurrency = n
	}
	if n, err := strconv.Atoi(bulkLookups); err != nil || n < 1 || n > bulk.MaxLookups {
		errs = append(errs, fmt.Errorf("BULK_LOOKUP_CONCURRENCY: %q is not a whole number from 1 to %d", bulkLookups, bulk.MaxLookups))
	} else {
		c.BulkLookups = n
	}
	if loc, err := loadZone(tz); err != nil {
		errs = append(errs, err)
	} else {
		c.MerchantTZ = loc
	}
	if ps, err := parseProxies(proxies); err != nil {
		errs = append(errs, err)
	} else {
		c.TrustedProxies = ps
	}
	if c.SessionIdle > c.SessionAbsolute {
		errs = append(errs, errors.New("SESSION_IDLE_TIMEOUT must not exceed SESSION_ABSOLUTE_TIMEOUT"))
	}
	addrOK := false
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("ADDR: %q is not host:port", c.Addr))
	} else if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		errs = append(errs, fmt.Errorf("ADDR: port %q is not a number from 0 to 65535", port))
	} else {
		addrOK = true
	}
	if err := checkMetricsAddr(c.MetricsAddr, c.Addr); err != nil {
		errs = append(errs, err)
	}
	if err := auth.CheckSessionKey(c.SessionKey); err != nil {
		errs = append(errs, err)
	}
	if c.DBPath == "" {
		c.DBPath = filepath.Join(c.DataDir, "refunddesk.db")
	}
	if c.DatabaseURL != "" {
		if err := store.CheckPostgresURL(c.DatabaseURL); err != nil {
			errs = append(errs, fmt.Errorf("DATABASE_URL: %w", err))
		}
	}
	if n, err := strconv.Atoi(maxConns); err != nil || n < 1 || n > 1000 {
		errs = append(errs, fmt.Errorf("DB_MAX_CONNS: %q is not a whole number from 1 to 1000", maxConns))
	} else {
		c.DBMaxConns = n
	}
	derived := c.BaseURL == ""
	if derived {
		c.BaseURL = "http://" + c.Addr
	}
	// A BASE_URL derived from a bad ADDR is ADDR's error, reported above.
	if u, err := url.Parse(c.BaseURL); (addrOK || !derived) && (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") {
		errs = append(errs, fmt.Errorf("BASE_URL: %q is not an http(s) URL", c.BaseURL))
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %q is not debug, info, warn or error", c.LogLevel))
	}
	switch c.NeoXMode {
	case "sandbox":
	case "live":
		errs = append(errs, c.liveErrors()...)
	default:
		errs = append(errs, fmt.Errorf("NEOX_MODE: %q is not sandbox or live", c.NeoXMode))
	}
	if (c.WebhookBasicUser == "") != (c.WebhookBasicPass == "") {
		errs = append(errs, errors.New("WEBHOOK_BASIC_USER and WEBHOOK_BASIC_PASS go together"))
	}
	return c, errors.Join(errs...)
}

// checkMetricsAddr: METRICS_ADDR is empty (off) or a host:port other
// than ADDR. Metrics show what the desk does (routes, refund counts, NeoX
// outcomes); they are served only on their own listener, which the
// operator keeps off the public network.
func checkMetricsAddr(v, addr string) error {
	if v == "" {
		return nil
	}
	_, port, err := net.SplitHostPort(v)
	if err != nil {
		return fmt.Errorf("METRICS_ADDR: %q is not host:port (example: 127.0.0.1:9100)", v)
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || (n == 0 && port != "0") {
		return fmt.Errorf("METRICS_ADDR: port %q is not a number from 0 to 65535", port)
	}
	if v == addr && port != "0" {
		return fmt.Errorf("METRICS_ADDR: %q is ADDR too; metrics need a listener of their own", v)
	}
	return nil
}

// parseStepUpLimits reads STEPUP_LIMITS: CURRENCY=AMOUNT pairs, the
// amount in the currency's minor units (VND has none: 100000000 is 100
// million dong; USD=500000 is 5,000.00 dollars), comma-separated.
func parseStepUpLimits(v string) (map[string]int64, error) {
	out := map[string]int64{}
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		cur, amt, ok := strings.Cut(part, "=")
		cur = strings.ToUpper(strings.TrimSpace(cur))
		n, err := strconv.ParseInt(strings.TrimSpace(amt), 10, 64)
		if !ok || len(cur) != 3 || strings.Trim(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != "" || err != nil || n < 0 {
			return nil, fmt.Errorf("STEPUP_LIMITS: %q is not CURRENCY=amount in minor units (example: VND=100000000,USD=500000)", part)
		}
		if _, dup := out[cur]; dup {
			return nil, fmt.Errorf("STEPUP_LIMITS: %s is listed twice", cur)
		}
		out[cur] = n
	}
	return out, nil
}

// parseProxies reads TRUSTED_PROXIES: comma-separated CIDRs (a bare
// address means just that address). Empty means none.
func parseProxies(v string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for part := range strings.SplitSeq(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		p, err := netip.ParsePrefix(part)
		if err != nil {
			a, aerr := netip.ParseAddr(part)
			if aerr != nil || a.Zone() != "" {
				return nil, fmt.Errorf("TRUSTED_PROXIES: %q is not a CIDR (examples: 10.0.0.0/8, 192.0.2.10/32, fd00::/8)", part)
			}
			p = netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	if len(out) == 0 && strings.TrimSpace(v) != "" {
		return nil, fmt.Errorf("TRUSTED_PROXIES: %q lists no CIDR", v)
	}
	return out, nil
}

// shortDuration writes d as people type it: "48h" rather than "48h0m0s".
func shortDuration(d time.Duration) string {
	if d > 0 && d%time.Hour == 0 {
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	}
	return d.String()
}

// neoxSettings are the NeoX settings by environment variable name, as
// the products name them (product.Settings).
func (c Config) neoxSettings() map[string]string {
	return map[string]string{"NEOX_PG_URL": c.PGURL, "NEOX_PG_MERCHANT_CODE": c.PGMerchantCode, "NEOX_PG_SECRET_KEY": c.PGSecretKey,
		"NEOX_OPENAPI_URL": c.OpenAPIURL, "NEOX_GC_CLIENT_ID": c.GCClientID, "NEOX_GC_CLIENT_SECRET": c.GCClientSecret,
		"NEOX_GC_WEBHOOK_SECRET": c.GCWebhookSecret, "NEOX_COL_CLIENT_ID": c.COLClientID, "NEOX_COL_CLIENT_SECRET": c.COLClientSecret,
		"NEOX_COL_WEBHOOK_SECRET": c.COLWebhookSecret}
}

// liveErrors names what live mode is missing. A product with no
// credentials at all is simply disabled; a half-configured one is an error.
func (c Config) liveErrors() []error {
	var errs []error
	check := func(product string, vals map[string]string) {
		var missing []string
		set := 0
		for k, v := range vals {
			if v == "" {
				missing = append(missing, k)
			} else {
				set++
			}
		}
		if set > 0 && len(missing) > 0 {
			errs = append(errs, fmt.Errorf("NEOX_MODE=live: %s is partly configured; missing %s", product, strings.Join(slices.Sorted(slices.Values(missing)), ", ")))
		}
	}
	// Each product names the settings its client needs.
	set := c.neoxSettings()
	for _, p := range refunds.Products(refunds.Gateways{}) {
		if ps, ok := p.(product.Settings); ok {
			vals := map[string]string{}
			for _, name := range ps.Settings() {
				vals[name] = set[name]
			}
			check(p.Name(), vals)
		}
	}
	if c.PGSecretKey == "" && c.GCClientID == "" && c.COLClientID == "" {
		errs = append(errs, errors.New("NEOX_MODE=live: no NeoX product is configured; set NEOX_PG_* or NEOX_GC_* or NEOX_COL_* (or use NEOX_MODE=sandbox)"))
	}
	for name, v := range map[string]string{"NEOX_PG_URL": c.PGURL, "NEOX_OPENAPI_URL": c.OpenAPIURL} {
		if v == "" {
			continue
		}
		if u, err := url.Parse(v); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s: %q is not an http(s) URL", name, v))
		}
	}
	return errs
}

// Level is the parsed LOG_LEVEL.
func (c Config) Level() slog.Level {
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.LogLevel))
	return l
}
