package refunds

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
	"github.com/neox-refund-desk/refunddesk/internal/neox/sandbox"
)

// TestAgainstSandbox runs the whole flow over real HTTP: the NeoX clients
// talk to the sandbox, whose signed webhooks come back through the
// verifiers into Apply*.
func TestAgainstSandbox(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	const (
		merchant  = "UFLIYL"
		pgKey     = "311235E7043244EC8306F96720748C56"
		gcSecret  = "gc-webhook-secret"
		colSecret = "col-webhook-secret"
	)
	sb := sandbox.New(sandbox.Config{MerchantCode: merchant, PGSecretKey: pgKey,
		ClientID: "gc-client", ClientSecret: "gc-secret", COLClientID: "col-client", COLClientSecret: "col-secret",
		GCWebhookSecret: gcSecret, COLWebhookSecret: colSecret, SettleDelay: 30 * time.Millisecond})
	if err := sb.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sb.Close() })
	sb.AddPGTransaction(sandbox.PGTransaction{ID: "TXN-IT", OrderID: "ORD-IT", Payments: []sandbox.PGPayment{
		{ID: "PAY-IT", Status: "SUCCESS", Method: "CC", Amount: 1_000_000}}})
	sb.AddCollectionOrder(sandbox.CollectionOrder{ID: "CO-IT", Status: "SUCCESS", Currency: "USD", Amount: 150000,
		CreatedAt: time.Now()})
	sb.AddCollectionTransaction(sandbox.CollectionTransaction{ID: "CT-IT", Status: "SUCCESS", Amount: 1_000_000,
		CreatedAt: time.Now()})

	hc := &http.Client{}
	gw := Gateways{
		PG: neox.NewPG(neox.PGConfig{BaseURL: sb.URL(), MerchantCode: merchant, SecretKey: pgKey, Timeout: 2 * time.Second}, hc),
		GC: neox.NewGC(neox.OpenAPIConfig{BaseURL: sb.URL(), ClientID: "gc-client", ClientSecret: "gc-secret", Timeout: 2 * time.Second}, hc),
		COL: neox.NewCOL(neox.OpenAPIConfig{BaseURL: sb.URL(), ClientID: "col-client", ClientSecret: "col-secret",
			Scope: "collection", Timeout: 2 * time.Second}, hc),
	}
	db := openDB(t)
	opts := fastOpts()
	opts.PollInterval = 50 * time.Millisecond
	s := newService(t, db, gw, opts)

	// The worker polls too, so a refund may settle by either path; what
	// this test owns is that every product's signed webhook verifies and
	// applies, so it counts those separately from the final state.
	var (
		mu      sync.Mutex
		applied = map[API]int{}
	)
	record := func(api API) {
		mu.Lock()
		defer mu.Unlock()
		applied[api]++
	}
	hooks := http.NewServeMux()
	hooks.HandleFunc("POST /pg", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, neox.MaxWebhookBody))
		ipn, err := neox.VerifyPGIPN(body, merchant, pgKey)
		if err == nil {
			_, err = s.ApplyPG(r.Context(), ipn, body)
		}
		if err == nil {
			record(APIPG)
		}
		if err != nil {
			t.Errorf("PG IPN: %v", err)
			http.Error(w, `{"respcode":1,"respmsg":"error"}`, http.StatusInternalServerError)
			return
		}
		io.WriteString(w, `{"respcode":0,"respmsg":"received"}`)
	})
	hooks.HandleFunc("POST /gc", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, neox.MaxWebhookBody))
		ev, err := neox.VerifyGCWebhook(body, gcSecret)
		if err == nil {
			_, err = s.ApplyGC(r.Context(), ev, body)
		}
		if err == nil {
			record(APIGC)
		}
		if err != nil {
			t.Errorf("GC webhook: %v", err)
			http.Error(w, "error", http.StatusInternalServerError)
		}
	})
	hooks.HandleFunc("POST /col", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, neox.MaxWebhookBody))
		ev, err := neox.VerifyCOLWebhook(body, colSecret)
		if err == nil {
			_, err = s.ApplyCOL(r.Context(), ev, body)
		}
		if err == nil {
			record(APICOL)
		}
		if err != nil {
			t.Errorf("COL webhook: %v", err)
			http.Error(w, "error", http.StatusInternalServerError)
		}
	})
	hs := httptest.NewServer(hooks)
	t.Cleanup(hs.Close)
	sb.SetWebhookURLs(hs.URL+"/pg", hs.URL+"/gc", hs.URL+"/col")
	runWorker(t, s)

	ctx := context.Background()
	l, err := s.Lookup(ctx, "en", APIPG, "TXN-IT")
	if err != nil || len(l.Targets) != 1 || l.Targets[0].Refundable != 1_000_000 {
		t.Fatalf("lookup = %+v, %v", l, err)
	}
	reqs := []NewRequest{
		{API: APIPG, TransactionRef: "TXN-IT", PaymentID: "PAY-IT", Amount: 250_000, ReasonCode: "X"},
		{API: APIGC, TransactionRef: "CO-IT", ReasonCode: "X", FeeChargeWay: "OUR"},
		{API: APICOL, TransactionRef: "CT-IT", Amount: 300_000, ReasonCode: "X"},
	}
	// The label NeoX's final answer leaves: the webhook's status, or what
	// the poll saw when it got there first (QUERY_PT for PG, the order
	// state for GC; COL's detail and webhook agree).
	settledLabels := map[API][]string{
		APIPG:  {"SUCCESS", "SETTLED_BY_QUERY_PT"},
		APIGC:  {"SUCCESS", "REFUND_SUCCESS"},
		APICOL: {"SUCCESS"},
	}
	var ids []string
	for _, req := range reqs {
		ids = append(ids, approved(t, s, req).ID)
	}
	for i, id := range ids {
		got := waitSubmission(t, s, id, SubSucceeded)
		// COL webhooks carry no refundTransId: when one settles the refund
		// before a poll, the NeoX refund id stays empty.
		settled := slices.Contains(settledLabels[got.API], got.NeoXStatus)
		if got.Attempts != 1 || (got.NeoXRefundID == "" && got.API != APICOL) || !settled {
			t.Errorf("%s: %+v", reqs[i].API, got)
		}
		if n := sb.RefundCalls(id); n != 1 {
			t.Errorf("%s: %d refund calls", reqs[i].API, n)
		}
	}
	for _, req := range reqs {
		waitFor(t, string(req.API)+" webhook applied", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return applied[req.API] > 0
		})
	}
}
