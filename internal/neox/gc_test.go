package neox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"testing"
)

func TestGCRefundWire(t *testing.T) {
	f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v2/gc/refund-requests" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		gcOK(w, r)
	})
	req := GCRefundRequest{RequestID: "a3f1c2d4-1234-4e56-b789-0abc12345678", CollectionOrderID: "CO-20240501-000123456",
		FeeChargeWay: "OUR", SubMerchantID: "SUB-MERCH-00091"}
	res, err := NewGC(f.config(), nil).Refund(context.Background(), "vi", req)
	if err != nil {
		t.Fatal(err)
	}
	if res != (GCRefundResult{CollectionOrderID: "CO-1", RefundRequestID: "RF-1", Status: "PROCESSING", NeoResponseID: "nr-1"}) {
		t.Fatalf("result = %+v", res)
	}
	bodies, _ := f.requests()
	var sent map[string]string
	if err := json.Unmarshal([]byte(bodies[0]), &sent); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"requestId": req.RequestID, "collectionOrderId": req.CollectionOrderID,
		"feeChargeWay": "OUR", "subMerchantId": "SUB-MERCH-00091"}
	for k, v := range want {
		if sent[k] != v {
			t.Errorf("%s = %q, want %q", k, sent[k], v)
		}
	}
}

// TestGCGetCollectionOrder converts the documented JSON-number amounts
// exactly, per currency, and classifies bad amounts and unknown ids.
func TestGCGetCollectionOrder(t *testing.T) {
	tests := []struct {
		name           string
		amount, pay    string // JSON number text
		cur, payCur    string
		want, wantPay  int64
		wantPayCurency string
		class          class
	}{
		{"USD", "1500.00", "1495.00", "USD", "USD", 150000, 149500, "USD", classOK},
		{"EUR paid in VND", "89.9", "2431000", "EUR", "VND", 8990, 2431000, "VND", classOK},
		{"JPY", "120000", "120000", "JPY", "JPY", 120000, 120000, "JPY", classOK},
		{"no payCurrency", "250", "250", "SGD", "", 25000, 25000, "SGD", classOK},
		{"bad amount", "12.345", "0", "USD", "USD", 0, 0, "", classUnknown},
		{"bad payAmount", "12.34", "12.345", "USD", "USD", 0, 0, "", classUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v2/gc/collection-orders/CO 1" {
					writeJSON(w, 200, map[string]any{"code": 2, "message": "RESOURCE_NOT_FOUND"})
					return
				}
				writeJSON(w, 200, map[string]any{"code": 1, "data": map[string]any{"orderId": "CO 1", "status": "SUCCESS",
					"currency": tt.cur, "amount": json.Number(tt.amount), "payCurrency": tt.payCur, "payAmount": json.Number(tt.pay),
					"merchantId": "M1", "orderType": "RECHARGE"}})
			})
			g := NewGC(f.config(), nil)
			o, err := g.GetCollectionOrder(context.Background(), "vi", "CO 1", "")
			if classify(err) != tt.class {
				t.Fatalf("err = %v", err)
			}
			if err == nil {
				if o.ID != "CO 1" || o.Amount != tt.want || o.Currency != tt.cur || o.PayAmount != tt.wantPay ||
					o.PayCurrency != tt.wantPayCurency || o.Status != "SUCCESS" || o.MerchantID != "M1" || o.OrderType != "RECHARGE" {
					t.Fatalf("order = %+v", o)
				}
			}
			if _, err := g.GetCollectionOrder(context.Background(), "vi", "nope", ""); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
		})
	}
}

// TestGCGetCollectionOrderSubMerchant: subMerchantId is a query parameter
// sent only when the order belongs to a sub-merchant.
func TestGCGetCollectionOrderSubMerchant(t *testing.T) {
	var mu sync.Mutex
	var got []*url.URL
	f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.URL)
		mu.Unlock()
		writeJSON(w, 200, map[string]any{"code": 1, "data": map[string]any{"orderId": "CO-1", "status": "SUCCESS",
			"currency": "USD", "amount": 1, "payCurrency": "USD", "payAmount": 1}})
	})
	g := NewGC(f.config(), nil)
	for _, sub := range []string{"SUB-MERCH-00091", "", "SUB &=?"} {
		if _, err := g.GetCollectionOrder(context.Background(), "vi", "CO-1", sub); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 3 {
		t.Fatalf("%d requests", len(got))
	}
	for i, want := range []string{"SUB-MERCH-00091", "", "SUB &=?"} {
		u := got[i]
		if u.Path != "/v2/gc/collection-orders/CO-1" {
			t.Errorf("request %d path %s", i, u.Path)
		}
		q := u.Query()
		if want == "" {
			if q.Has("subMerchantId") || u.RawQuery != "" {
				t.Errorf("request %d: query %q, want none without a sub-merchant", i, u.RawQuery)
			}
			continue
		}
		if q.Get("subMerchantId") != want || len(q) != 1 {
			t.Errorf("request %d: query %q, want subMerchantId=%q only", i, u.RawQuery, want)
		}
	}
}
