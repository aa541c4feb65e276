// Package app wires the configured parts together: database, services,
// NeoX clients or the sandbox, and the HTTP server. cmd/web and the
// end-to-end tests both start the application through it.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/apikeys"
	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/handlers"
	"github.com/neox-refund-desk/refunddesk/internal/metrics"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/notify"
	"github.com/neox-refund-desk/refunddesk/internal/policy"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// App is everything opened for one configuration.
type App struct {
	Cfg   Config
	DB    *store.DB
	Auth  *auth.Service
	Audit *audit.Log
	// Refusals rate-limits the audit rows of refused requests (throttled
	// logins, refused webhooks, denied actions).
	Refusals *audit.Limiter
	Log      *slog.Logger
	// Refunds is the refund domain with its NeoX gateways and worker.
	Refunds *refunds.Service
	// Sandbox is the NeoX stand-in in sandbox mode, nil in live mode.
	Sandbox *sandbox.Sandbox
	// Now is the clock for sessions and audit; tests inject one.
	Now func() time.Time
	// Metrics are the Prometheus metrics when METRICS_ADDR is set; nil
	// otherwise (nothing observes, nothing is served).
	Metrics *metrics.Metrics

	metricsLn net.Listener // bound by Prepare, served by Serve
	// Outbox writes notifications in the transactions of the changes that
	// cause them (the refund service records through Outbox.Wrap(Audit));
	// Notify are the preferences and webhook endpoints; Dispatcher sends.
	Outbox     *notify.Outbox
	Notify     *notify.Settings
	Dispatcher *notify.Dispatcher

	housekeepEvery time.Duration
	refusalDelay   time.Duration
	// background is the HTTP server's background work (the check of
	// uploaded refund files), set by Prepare, run by Serve.
	background func(ctx context.Context) error
}

// Options tune Open for tests.
type Options struct {
	Now   func() time.Time
	Argon *auth.Params // nil: production parameters
	// HousekeepEvery is how often expired sessions are pruned; 0 means 15 min.
	HousekeepEvery time.Duration
	// RefusalDelay paces anonymous sources over their refusal budget
	// (handlers.Deps.RefusalDelay); 0 means the production 1 s.
	RefusalDelay time.Duration
}

// NewLogger returns the text logger the app writes to w.
func NewLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// Open opens the database (applying migrations) and the services on it.
func Open(ctx context.Context, cfg Config, logger *slog.Logger, opts Options) (*App, error) {
	var db *store.DB
	var err error
	if cfg.Postgres() {
		db, err = store.OpenPostgres(ctx, cfg.DatabaseURL, store.PoolConfig{MaxConns: cfg.DBMaxConns})
	} else {
		db, err = store.Open(ctx, cfg.DBPath)
	}
	if err != nil {
		return nil, err
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	al := audit.New(db, now)
	lim := audit.NewLimiter(al, audit.LimiterOptions{})
	ao := auth.Options{Now: now, IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionAbsolute, Refusals: lim}
	if opts.Argon != nil {
		ao.Argon = *opts.Argon
	}
	svc := auth.NewService(db, al, ao)
	a := &App{Cfg: cfg, DB: db, Auth: svc, Audit: al, Refusals: lim, Log: logger, Now: now, housekeepEvery: opts.HousekeepEvery,
		refusalDelay: opts.RefusalDelay}
	a.Outbox = notify.NewOutbox(cfg.BaseURL, logger.With("component", "notify"))
	a.Outbox.NoEmail = !cfg.SMTP.Enabled()
	a.Notify = notify.NewSettings(db, al, now, policy.Policy{})
	if a.housekeepEvery <= 0 {
		a.housekeepEvery = defaultHousekeepEvery
	}
	if cfg.MetricsAddr != "" {
		a.Metrics = metrics.New(metrics.Sources{DB: db, Audit: al, Now: now, Log: logger.With("component", "metrics")})
	}
	return a, nil
}

// StartNeoX starts the sandbox (in sandbox mode) and builds the refund
// service on the configured NeoX products. Subcommands that only touch the
// database skip it.
func (a *App) StartNeoX(opts refunds.Options) error {
	if a.Cfg.NeoXMode == "sandbox" {
		sb, err := startSandbox(&a.Cfg, a)
		if err != nil {
			return err
		}
		a.Sandbox = sb
	}
	if opts.Now == nil {
		opts.Now = a.Now
	}
	if opts.Logger == nil {
		opts.Logger = a.Log.With("component", "refunds")
	}
	if opts.Observer == nil && a.Metrics != nil {
		opts.Observer = a.Metrics
	}
	if opts.Workers == 0 {
		opts.Workers = a.Cfg.NeoXConcurrency
	}
	if opts.AttentionAfter == nil {
		opts.AttentionAfter = maps.Clone(a.Cfg.AttentionAfter)
	}
	if opts.UnknownAttempts == 0 {
		opts.UnknownAttempts = a.Cfg.AttentionUnknownAttempts
	}
	if opts.Lease == 0 {
		opts.Lease = a.Cfg.WorkerLease
	}
	if opts.SweepEvery == 0 {
		opts.SweepEvery = a.Cfg.COLSweepInterval
		if opts.SweepEvery == 0 {
			opts.SweepEvery = -1 // COL_SWEEP_INTERVAL=0: off
		}
	}
	if opts.SweepWindow == 0 {
		opts.SweepWindow = a.Cfg.COLSweepWindow
	}
	a.Refunds = refunds.New(a.DB, a.Outbox.Wrap(a.Audit), gateways(a.Cfg), opts)
	return nil
}

// Close stops the sandbox and releases the database.
func (a *App) Close() error {
	if a.Sandbox != nil {
		_ = a.Sandbox.Close()
	}
	if a.metricsLn != nil {
		_ = a.metricsLn.Close() // already closed once served
	}
	return a.DB.Close()
}

// Prepare does what a server start needs before serving: the first admin
// (returning its one-time password when it was just created), the startup
// audit event and the session keys. It returns the HTTP handler.
func (a *App) Prepare(ctx context.Context) (http.Handler, string, error) {
	if a.Metrics != nil && a.metricsLn == nil {
		// Before anything is created, as for the main listener (Run).
		ln, err := net.Listen("tcp", a.Cfg.MetricsAddr)
		if err != nil {
			return nil, "", fmt.Errorf("listen for metrics on %s (METRICS_ADDR): %w", a.Cfg.MetricsAddr, err)
		}
		a.metricsLn = ln
	}
	password, created, err := a.Auth.EnsureAdmin(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("create first admin: %w", err)
	}
	if !created {
		password = ""
	}
	if err := a.Audit.RecordNow(ctx, audit.Event{ActorName: "system", Action: audit.ActionConfigStartup,
		Outcome: audit.OutcomeSuccess, TargetType: "config", Details: a.Cfg.Redacted()}); err != nil {
		return nil, "", fmt.Errorf("audit startup: %w", err)
	}
	keys, err := auth.LoadOrCreateKeys(ctx, a.DB, a.Cfg.SessionKey)
	if err != nil {
		return nil, "", err
	}
	co := auth.CookieOptions{}
	if strings.HasPrefix(a.Cfg.BaseURL, "https://") {
		// __Host-: the browser takes the cookie only if it is Secure, has
		// Path=/ and no Domain, so a sibling subdomain or a plain-http page
		// cannot plant or overwrite a session cookie.
		co = auth.CookieOptions{Secure: true, Name: "__Host-" + auth.DefaultCookieName}
	}
	a.Auth.UseSessionKeys(keys, co)
	// Managing keys reads only the role table, not the approval policy.
	srv := handlers.New(handlers.Deps{DB: a.DB, Auth: a.Auth, Audit: a.Audit, Refunds: a.Refunds,
		Webhooks: webhookSecrets(a.Cfg), Logger: a.Log, Now: a.Now, BaseURL: a.Cfg.BaseURL,
		TrustedProxies: a.Cfg.TrustedProxies, Refusals: a.Refusals, RefusalDelay: a.refusalDelay, Zone: a.Cfg.MerchantTZ,
		StepUp: policy.StepUp{Limits: a.Cfg.StepUpLimits, Window: a.Cfg.StepUpWindow}, Observer: a.observer(),
		APIKeys: apikeys.New(a.DB, a.Audit, policy.Policy{}, a.Now), APIRateLimit: a.Cfg.APIRateLimit,
		Notify: a.Notify, EmailOn: a.Cfg.SMTP.Enabled(), BulkLookups: a.Cfg.BulkLookups})
	a.background = srv.RunBackground
	return srv.Handler(), password, nil
}

// observer is the handlers' Observer: the metrics, or none (a nil
// interface, never a nil *Metrics in one).
func (a *App) observer() handlers.Observer {
	if a.Metrics == nil {
		return nil
	}
	return a.Metrics
}

// MetricsURL is where /metrics is served once Prepare has run; "" when
// METRICS_ADDR is not set.
func (a *App) MetricsURL() string {
	if a.metricsLn == nil {
		return ""
	}
	return "http://" + a.metricsLn.Addr().String() + "/metrics"
}

// serveMetrics serves /metrics on the metrics listener until ctx ends.
func (a *App) serveMetrics(ctx context.Context) (wait func()) {
	if a.metricsLn == nil {
		return func() {}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", a.Metrics.Handler())
	ms := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ms.Serve(a.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.Log.Error("metrics listener stopped", "err", err)
		}
	}()
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ms.Shutdown(sctx)
	})
	return func() {
		if stop() { // ctx never ended: Serve failed
			_ = ms.Close()
		}
		<-done
	}
}

// dispatcher returns the notification dispatcher, built on first use:
// email when SMTP_HOST is set, webhooks always, reminders and outages.
func (a *App) dispatcher() *notify.Dispatcher {
	if a.Dispatcher != nil {
		return a.Dispatcher
	}
	senders := map[string]notify.Sender{notify.ChannelWebhook: notify.NewWebhookSender(a.DB, a.Now, 10*time.Second)}
	if a.Cfg.SMTP.Enabled() {
		senders[notify.ChannelEmail] = notify.NewEmailSender(a.Cfg.SMTP, a.Cfg.MerchantTZ)
	}
	opt := notify.DispatchOptions{Now: a.Now, RemindAfter: a.Cfg.NotifyRemindAfter, Logger: a.Log.With("component", "notify")}
	if r := a.Refunds; r != nil {
		opt.Outages = func(ctx context.Context) ([]notify.OutageInfo, error) {
			list, err := r.Outages(ctx)
			var out []notify.OutageInfo
			for _, o := range list {
				out = append(out, notify.OutageInfo{API: string(o.API), Op: o.Op, Since: o.Since, LastError: o.LastError})
			}
			return out, err
		}
	}
	a.Dispatcher = notify.NewDispatcher(a.DB, a.Outbox, senders, opt)
	return a.Dispatcher
}

// Serve serves h on ln and runs the refund worker until ctx is cancelled,
// then shuts down gracefully: stop accepting, finish in-flight requests and
// the current NeoX call, return nil.
func (a *App) Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	d := a.dispatcher() // before housekeep, which prunes through it
	housekeepDone := make(chan struct{})
	go func() { defer close(housekeepDone); a.housekeep(workerCtx, a.housekeepEvery) }()
	refusalsDone := make(chan struct{})
	go func() {
		defer close(refusalsDone)
		a.Refusals.Run(workerCtx, refusalsFlushEvery, func(err error) { a.Log.Warn("writing aggregated refusals failed", "err", err) })
	}()
	notifyDone := make(chan error, 1)
	go func() { notifyDone <- d.Run(workerCtx) }()
	backgroundDone := make(chan error, 1)
	if a.background != nil {
		go func() { backgroundDone <- a.background(workerCtx) }()
	} else {
		backgroundDone <- nil
	}
	workerDone := make(chan error, 1)
	if a.Refunds != nil {
		go func() { workerDone <- a.Refunds.Run(workerCtx) }()
	} else {
		workerDone <- nil
	}
	defer func() {
		stopWorker()
		<-housekeepDone
		<-refusalsDone
		<-notifyDone
		if err := <-backgroundDone; err != nil {
			a.Log.Error("background checks stopped", "err", err)
		}
		if err := <-workerDone; err != nil && !errors.Is(err, context.Canceled) {
			a.Log.Error("refund worker stopped", "err", err)
		}
	}()
	hs := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	metricsDone := a.serveMetrics(ctx)
	defer metricsDone()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	a.Log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	a.Log.Info("stopped")
	return nil
}
