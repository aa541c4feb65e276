// Package metrics is the desk's Prometheus metrics: a registry of its own
// (never the global default one), the observers the handlers and the
// refund worker report to, and collectors that read refund states and the
// audit chain when scraped. The app serves Handler on a listener of its
// own (METRICS_ADDR), never on the public one.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/neox-refund-desk/refunddesk/internal/audit"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
	"github.com/neox-refund-desk/refunddesk/internal/store"
)

// Sources are what the scrape-time collectors read.
type Sources struct {
	DB    *store.DB
	Audit *audit.Log
	Now   func() time.Time
	Log   *slog.Logger
	// ChainEvery is how often the audit chain is verified further (each
	// pass verifies only the events added since the last); 0 means a minute.
	ChainEvery time.Duration
	// ScrapeTimeout bounds the database reads of one scrape; 0 means 3 s.
	ScrapeTimeout time.Duration
}

// Metrics holds the registry and the instruments. Its methods implement
// handlers.Observer and refunds.Observer and are safe for concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.HistogramVec
	neox     *prometheus.HistogramVec
	sends    *prometheus.CounterVec
	polls    *prometheus.CounterVec
	webhooks *prometheus.CounterVec
	chain    *chainWatch
	log      *slog.Logger
}

// New builds the registry with the Go runtime and process collectors, the
// instruments, and the collectors over src.
func New(src Sources) *Metrics {
	if src.Now == nil {
		src.Now = time.Now
	}
	if src.Log == nil {
		src.Log = slog.Default()
	}
	if src.ChainEvery <= 0 {
		src.ChainEvery = time.Minute
	}
	if src.ScrapeTimeout <= 0 {
		src.ScrapeTimeout = 3 * time.Second
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refunddesk_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status class.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "status"}),
		neox: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refunddesk_neox_call_duration_seconds",
			Help:    "Time of a call to NeoX, by product, operation and outcome (success, rejected, unknown, duplicate).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 15, 30},
		}, []string{"product", "operation", "outcome"}),
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refunddesk_worker_sends_total",
			Help: "Send attempts the refund worker finished, by product and outcome.",
		}, []string{"product", "outcome"}),
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refunddesk_worker_polls_total",
			Help: "Status polls of PROCESSING refunds the worker made, by product and outcome.",
		}, []string{"product", "outcome"}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refunddesk_webhook_deliveries_total",
			Help: "NeoX webhook deliveries received, by product and outcome (applied, duplicate, ... or refused: reason).",
		}, []string{"product", "outcome"}),
		chain: &chainWatch{log: src.Audit, now: src.Now, every: src.ChainEvery, logger: src.Log},
		log:   src.Log,
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.requests, m.neox, m.sends, m.polls, m.webhooks,
		&refundCollector{db: src.DB, now: src.Now, timeout: src.ScrapeTimeout, log: src.Log},
		m.chain,
	)
	return m
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog:            slog.NewLogLogger(m.log.Handler(), slog.LevelWarn),
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// HTTPRequest implements handlers.Observer.
func (m *Metrics) HTTPRequest(route string, status int, elapsed time.Duration) {
	m.requests.WithLabelValues(route, statusClass(status)).Observe(elapsed.Seconds())
}

// WebhookDelivery implements handlers.Observer.
func (m *Metrics) WebhookDelivery(api, outcome string) {
	m.webhooks.WithLabelValues(api, outcome).Inc()
}

// NeoXCall implements refunds.Observer.
func (m *Metrics) NeoXCall(api refunds.API, op, outcome string, latency time.Duration) {
	m.neox.WithLabelValues(string(api), op, outcome).Observe(latency.Seconds())
}

// WorkerSend implements refunds.Observer.
func (m *Metrics) WorkerSend(api refunds.API, outcome string) {
	m.sends.WithLabelValues(string(api), outcome).Inc()
}

// WorkerPoll implements refunds.Observer.
func (m *Metrics) WorkerPoll(api refunds.API, outcome string) {
	m.polls.WithLabelValues(string(api), outcome).Inc()
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

func statusClass(code int) string {
	if c := code / 100; c >= 1 && c <= 5 {
		return statusClasses[c-1]
	}
	return strconv.Itoa(code)
}

var (
	refundsDesc = prometheus.NewDesc("refunddesk_refunds",
		"Refunds by approval and submission state.", []string{"approval", "submission"}, nil)
	queueDesc = prometheus.NewDesc("refunddesk_send_queue_depth",
		"Approved refunds waiting for their first send (QUEUED).", nil, nil)
	queueAgeDesc = prometheus.NewDesc("refunddesk_send_queue_oldest_age_seconds",
		"Time since the oldest QUEUED refund was approved; 0 when the queue is empty.", nil, nil)
	pendingAgeDesc = prometheus.NewDesc("refunddesk_approval_queue_oldest_age_seconds",
		"Time since the oldest refund awaiting approval was requested; 0 when none waits.", nil, nil)
	scrapeOKDesc = prometheus.NewDesc("refunddesk_database_scrape_ok",
		"1 if this scrape read the refund figures from the database, 0 if it failed or timed out.", nil, nil)
)

// refundCollector reads the refund figures from the database on each
// scrape, within a timeout.
type refundCollector struct {
	db      *store.DB
	now     func() time.Time
	timeout time.Duration
	log     *slog.Logger
}

func (c *refundCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{refundsDesc, queueDesc, queueAgeDesc, pendingAgeDesc, scrapeOKDesc} {
		ch <- d
	}
}

func (c *refundCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	g, err := c.db.RefundGauges(ctx)
	if err != nil {
		c.log.Warn("metrics: reading refund figures failed", "err", err)
		ch <- prometheus.MustNewConstMetric(scrapeOKDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(scrapeOKDesc, prometheus.GaugeValue, 1)
	for _, s := range g.States {
		ch <- prometheus.MustNewConstMetric(refundsDesc, prometheus.GaugeValue, float64(s.N), s.Approval, s.Submission)
	}
	now := c.now()
	age := func(t time.Time) float64 {
		if t.IsZero() || now.Before(t) {
			return 0
		}
		return now.Sub(t).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(g.Queued))
	ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age(g.OldestQueued))
	ch <- prometheus.MustNewConstMetric(pendingAgeDesc, prometheus.GaugeValue, age(g.OldestPending))
}

var (
	chainOKDesc = prometheus.NewDesc("refunddesk_audit_chain_ok",
		"1 if the last verification of the audit hash chain passed, 0 if it found the chain broken. Absent until the first verification ends.", nil, nil)
	chainAtDesc = prometheus.NewDesc("refunddesk_audit_chain_last_verification_timestamp_seconds",
		"When the audit chain was last verified (Unix time).", nil, nil)
	chainEventsDesc = prometheus.NewDesc("refunddesk_audit_chain_verified_events",
		"Audit events verified by the last verification (the whole chain).", nil, nil)
)

// chainWatch keeps the last verification of the audit chain. A scrape
// reports it and, when it is older than every, starts a verification of
// the events added since in the background: a scrape never waits for one.
type chainWatch struct {
	log    *audit.Log
	now    func() time.Time
	every  time.Duration
	logger *slog.Logger

	mu      sync.Mutex
	st      *audit.ChainStatus // nil until the first pass ends
	at      time.Time          // when the last pass ended
	started time.Time
	running bool
}

func (w *chainWatch) Describe(ch chan<- *prometheus.Desc) {
	ch <- chainOKDesc
	ch <- chainAtDesc
	ch <- chainEventsDesc
}

func (w *chainWatch) Collect(ch chan<- prometheus.Metric) {
	w.kick()
	w.mu.Lock()
	st, at := w.st, w.at
	w.mu.Unlock()
	if st == nil {
		return
	}
	ok := 0.0
	if st.OK {
		ok = 1
	}
	ch <- prometheus.MustNewConstMetric(chainOKDesc, prometheus.GaugeValue, ok)
	ch <- prometheus.MustNewConstMetric(chainAtDesc, prometheus.GaugeValue, float64(at.UnixMilli())/1000)
	ch <- prometheus.MustNewConstMetric(chainEventsDesc, prometheus.GaugeValue, float64(st.Count))
}

// kick starts a verification unless one runs, or the last started less
// than every ago. A broken chain stays broken: it is not verified again
// (a full pass is the audit page's job), so the status cannot flip back.
func (w *chainWatch) kick() {
	if w.log == nil {
		return
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.running || (w.st != nil && (!w.st.OK || now.Sub(w.started) < w.every)) {
		return
	}
	w.running, w.started = true, now
	from, prev := audit.Anchor{}, w.st
	if prev != nil && prev.Count > 0 {
		from = audit.Anchor{Seq: prev.VerifiedSeq + 1, PrevHash: prev.HeadHash}
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		st, err := w.log.Verify(ctx, from)
		w.mu.Lock()
		defer w.mu.Unlock()
		w.running = false
		if err != nil {
			w.logger.Warn("metrics: audit chain verification could not run", "err", err)
			return
		}
		switch {
		case prev == nil || prev.Count == 0:
		case st.OK && st.Count == 0:
			st = *prev // nothing new since the last pass
		default:
			// An incremental pass: the totals are the earlier pass's plus this one's.
			if st.VerifiedSeq == prev.VerifiedSeq {
				st.VerifiedAt, st.HeadHash = prev.VerifiedAt, prev.HeadHash
			}
			st.Count += prev.Count
		}
		if !st.OK {
			w.logger.Error("metrics: audit chain BROKEN", "status", st.String())
		}
		w.st, w.at = &st, w.now()
	}()
}
