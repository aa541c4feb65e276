package app_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/neox-refund-desk/refunddesk/internal/app"
	"github.com/neox-refund-desk/refunddesk/internal/apptest"
	"github.com/neox-refund-desk/refunddesk/internal/auth"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
	"github.com/neox-refund-desk/refunddesk/internal/refunds"
)

// sample is one line of the Prometheus text format.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// scrape GETs the metrics page and parses its samples.
func scrape(t *testing.T, u string) []sample {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %d %s", u, resp.StatusCode, b)
	}
	var out []sample
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("unreadable sample %q", line)
		}
		s := sample{labels: map[string]string{}, value: v}
		head := line[:i]
		name, rest, hasLabels := strings.Cut(head, "{")
		s.name = name
		if hasLabels {
			for pair := range strings.SplitSeq(strings.TrimSuffix(rest, "}"), "\",") {
				k, v, _ := strings.Cut(pair, "=\"")
				s.labels[k] = strings.TrimSuffix(v, "\"")
			}
		}
		out = append(out, s)
	}
	return out
}

// value returns the sample named name with exactly these labels (others
// ignored), and whether there is one.
func value(samples []sample, name string, labels ...string) (float64, bool) {
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if s.labels[labels[i]] != labels[i+1] {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

// A known flow against the real server — sign-ins, a refund requested,
// approved, sent through the built-in sandbox and settled by its webhook,
// a forged webhook, a page that does not exist — shows in /metrics on the
// metrics listener with the exact counts, labelled by route pattern (never
// the refund's path), product, operation and outcome; the public listener
// does not serve /metrics.
func TestMetricsAfterAKnownFlow(t *testing.T) {
	run := apptest.Start(t, apptest.WithEnv("METRICS_ADDR", "127.0.0.1:0"), apptest.WithEnv("SANDBOX_SETTLE_DELAY", "50ms"),
		apptest.WithRefundOptions(refunds.Options{PollInterval: time.Hour, RetryBase: 100 * time.Millisecond}))
	metricsURL := run.App.MetricsURL()
	if metricsURL == "" {
		t.Fatal("METRICS_ADDR set but no metrics listener")
	}
	if resp := run.Get(t, run.Client(t), "/metrics"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/metrics on the public listener: %d, want 404", resp.StatusCode)
	}
	const pw = "metrics test passphrase, long enough"
	run.CreateUser(t, "staff1", auth.RoleStaff, pw)
	run.CreateUser(t, "mgr1", auth.RoleManager, pw)
	staff, mgr := run.Client(t), run.Client(t)
	run.Login(t, staff, "staff1", pw)
	run.Login(t, mgr, "mgr1", pw)
	txn := sandbox.PGTransaction{ID: "MT0001METRICS", OrderID: "METRICS-1",
		Payments: []sandbox.PGPayment{{ID: "9100001", Status: "SUCCESS", Method: "ATM", Amount: 5_000_000}}}
	run.App.Sandbox.AddPGTransaction(txn)

	form := url.Values{"api": {"PG"}, "ref": {txn.ID}, "payment": {"9100001"}, "token": {uuid.NewString()},
		"amount": {"125000"}, "reason_code": {"customer_request"}, "reason_text": {"metrics test"}}
	resp := run.PostForm(t, staff, "/refunds", form)
	id, _, _ := strings.Cut(strings.TrimPrefix(resp.Header.Get("Location"), "/refunds/"), "?")
	if resp.StatusCode != http.StatusSeeOther || uuid.Validate(id) != nil {
		t.Fatalf("request: %d %q %.300s", resp.StatusCode, resp.Header.Get("Location"), apptest.Body(t, resp))
	}
	if resp := run.PostForm(t, mgr, "/refunds/"+id+"/approve", url.Values{}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("approve: %d", resp.StatusCode)
	}
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := run.App.Refunds.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.Submission == refunds.SubSucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund still %s/%s", r.Approval, r.Submission)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A forged IPN: refused, counted by its reason.
	req, _ := http.NewRequest(http.MethodPost, run.URL+"/webhooks/neox/pg", strings.NewReader(`{"neo_MerchantCode":"DEMO01","neo_SecureHash":"00"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp := apptest.Do(t, http.DefaultClient, req); resp.StatusCode < 400 {
		t.Fatalf("forged webhook: %d", resp.StatusCode)
	}
	run.Get(t, staff, "/no/such/page")
	run.Get(t, staff, "/refunds/"+id)

	head, err := run.App.Audit.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The first scrape starts the chain's verification in the background:
	// wait for its result.
	var samples []sample
	for deadline := time.Now().Add(20 * time.Second); ; {
		samples = scrape(t, metricsURL)
		if _, ok := value(samples, "refunddesk_audit_chain_ok"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no refunddesk_audit_chain_ok after 20 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	exact := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"refunddesk_http_request_duration_seconds_count", []string{"route", "POST /login", "status", "3xx"}, 2},
		{"refunddesk_http_request_duration_seconds_count", []string{"route", "POST /refunds", "status", "3xx"}, 1},
		{"refunddesk_http_request_duration_seconds_count", []string{"route", "POST /refunds/{id}/approve", "status", "3xx"}, 1},
		{"refunddesk_http_request_duration_seconds_count", []string{"route", "GET /refunds/{id}", "status", "2xx"}, 1},
		{"refunddesk_http_request_duration_seconds_count", []string{"route", "unmatched", "status", "4xx"}, 2}, // /no/such/page and /metrics
		{"refunddesk_http_request_duration_seconds_count", []string{"route", "POST /webhooks/neox/pg", "status", "2xx"}, 1},
		{"refunddesk_http_request_duration_seconds_count", []string{"route", "POST /webhooks/neox/pg", "status", "4xx"}, 1},
		{"refunddesk_refunds", []string{"approval", "APPROVED", "submission", "SUCCEEDED"}, 1},
		{"refunddesk_send_queue_depth", nil, 0},
		{"refunddesk_send_queue_oldest_age_seconds", nil, 0},
		{"refunddesk_approval_queue_oldest_age_seconds", nil, 0},
		{"refunddesk_worker_sends_total", []string{"product", "PG", "outcome", "success"}, 1},
		{"refunddesk_neox_call_duration_seconds_count", []string{"product", "PG", "operation", "refund", "outcome", "success"}, 1},
		{"refunddesk_webhook_deliveries_total", []string{"product", "PG", "outcome", "applied"}, 1},
		{"refunddesk_webhook_deliveries_total", []string{"product", "PG", "outcome", "refused: malformed body"}, 1},
		{"refunddesk_audit_chain_ok", nil, 1},
		{"refunddesk_database_scrape_ok", nil, 1},
	}
	for _, e := range exact {
		got, ok := value(samples, e.name, e.labels...)
		if !ok || got != e.want {
			t.Errorf("%s%v = %v (present %v), want %v", e.name, e.labels, got, ok, e.want)
		}
	}
	// The request's refundable check asked PG about the transaction.
	if n, _ := value(samples, "refunddesk_neox_call_duration_seconds_count", "product", "PG", "operation", "query_pt", "outcome", "success"); n < 1 {
		t.Errorf("no successful PG query_pt counted")
	}
	if n, _ := value(samples, "refunddesk_audit_chain_verified_events"); n < float64(head.Seq) || head.Seq < 5 {
		t.Errorf("audit chain verified %v events; the flow had written %d", n, head.Seq)
	}
	if at, _ := value(samples, "refunddesk_audit_chain_last_verification_timestamp_seconds"); time.Since(time.Unix(int64(at), 0)) > time.Minute {
		t.Errorf("last verification at %v", at)
	}
	for _, s := range samples {
		for _, v := range s.labels {
			if strings.Contains(v, id) || strings.Contains(v, "/no/such") {
				t.Errorf("a label holds a raw path: %s %v", s.name, s.labels)
			}
		}
		if s.name == "refunddesk_http_request_duration_seconds_count" && s.labels["route"] == "GET /metrics" {
			t.Errorf("the metrics listener's own requests counted as the app's")
		}
	}
	if _, ok := value(samples, "go_goroutines"); !ok {
		t.Error("no Go runtime metrics")
	}
}

// METRICS_ADDR is validated at start, and metrics are off unless it is
// set: no registry, no listener.
func TestMetricsAddrConfig(t *testing.T) {
	for _, tt := range []struct {
		addr, metrics, want string
	}{
		{"127.0.0.1:8080", "nonsense", "not host:port"},
		{"127.0.0.1:8080", "127.0.0.1:99999", "not a number"},
		{"127.0.0.1:8080", "127.0.0.1:8080", "listener of their own"},
	} {
		env := map[string]string{"ADDR": tt.addr, "METRICS_ADDR": tt.metrics}
		_, err := app.ParseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("METRICS_ADDR=%q: %v, want %q", tt.metrics, err, tt.want)
		}
	}
	env := map[string]string{"DB_PATH": filepath.Join(t.TempDir(), "off.db")}
	cfg, err := app.ParseConfig("test", nil, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(context.Background(), cfg, app.NewLogger(io.Discard, cfg.Level()), app.Options{Argon: &apptest.FastArgon})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if _, _, err := a.Prepare(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Metrics != nil || a.MetricsURL() != "" {
		t.Errorf("metrics on without METRICS_ADDR: %v %q", a.Metrics, a.MetricsURL())
	}
}
