package neox

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
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
	res, err := NewGC(f.config(), nil).Refund(context.Background(), req)
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

func TestGCGetCollectionOrder(t *testing.T) {
	tests := []struct {
		name   string
		amount any
		cur    string
		want   int64
		class  class
	}{
		{"USD string", "1500.00", "USD", 150000, classOK},
		{"EUR number", json.Number("89.9"), "EUR", 8990, classOK},
		{"JPY", "120000", "JPY", 120000, classOK},
		{"bad amount", "12.345", "USD", 0, classUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v2/gc/collection-orders/CO 1" {
					writeJSON(w, 200, map[string]any{"code": 2, "message": "RESOURCE_NOT_FOUND"})
					return
				}
				writeJSON(w, 200, map[string]any{"code": 1, "data": map[string]any{"id": "CO 1", "status": "PAID",
					"currency": tt.cur, "amount": tt.amount, "merchantCode": "M1", "createdAt": "2024-05-01T10:00:00+07:00"}})
			})
			g := NewGC(f.config(), nil)
			o, err := g.GetCollectionOrder(context.Background(), "CO 1")
			if classify(err) != tt.class {
				t.Fatalf("err = %v", err)
			}
			if err == nil {
				wantT := time.Date(2024, 5, 1, 3, 0, 0, 0, time.UTC)
				if o.Amount != tt.want || o.Currency != tt.cur || o.Status != "PAID" || !o.CreatedAt.Equal(wantT) {
					t.Fatalf("order = %+v", o)
				}
			}
			if _, err := g.GetCollectionOrder(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
				t.Fatalf("unknown id: %v", err)
			}
		})
	}
}
