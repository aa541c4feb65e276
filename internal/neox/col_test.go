package neox

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestCOLListRefundsQuery(t *testing.T) {
	f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.URL.Path != "/v2/col/refund-requests" || q.Get("pageIndex") != "2" || q.Get("pageSize") != "50" ||
			q.Get("dateFr") != "2024-11-01T00:00:00Z" || q.Get("dateTo") != "2024-11-30T17:00:00Z" || q.Get("status") != "APPROVED" {
			t.Errorf("query = %s %s", r.URL.Path, r.URL.RawQuery)
		}
		writeJSON(w, 200, map[string]any{"code": 1, "neoResponseId": "nr", "data": map[string]any{"totalDocs": 51, "totalPages": 2,
			"docs": []map[string]any{{"requestId": "r1", "collectionTransId": "FT1", "amount": 150000,
				"status": "APPROVED", "createdAt": "2024-11-18T10:00:00.123Z"}}}})
	})
	ict := time.FixedZone("ICT", 7*3600)
	page, err := NewCOL(f.config(), nil).ListRefunds(context.Background(), "vi", COLListQuery{PageIndex: 2, PageSize: 50,
		From: time.Date(2024, 11, 1, 7, 0, 0, 0, ict), To: time.Date(2024, 12, 1, 0, 0, 0, 0, ict), Status: "APPROVED"})
	if err != nil {
		t.Fatal(err)
	}
	if page.TotalDocs != 51 || page.TotalPages != 2 || len(page.Docs) != 1 {
		t.Fatalf("page = %+v", page)
	}
	d := page.Docs[0]
	// Old payload shape: status APPROVED without approvalStatus is normalised.
	if d.ApprovalStatus != "APPROVED" || d.Status != "" || d.Amount != 150000 || d.CreatedAt.IsZero() {
		t.Fatalf("doc = %+v", d)
	}
}

func TestCOLGetRefundNotFound(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"envelope", func(w http.ResponseWriter, r *http.Request) {
			writeJSON(w, 200, map[string]any{"code": 2, "message": "RESOURCE_NOT_FOUND"})
		}},
		{"bare 404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAPI(t, tt.handler)
			_, err := NewCOL(f.config(), nil).GetRefund(context.Background(), "vi", "missing")
			if !errors.Is(err, ErrNotFound) {
				t.Fatalf("err = %v", err)
			}
			if _, ok := IsRejected(err); !ok {
				t.Fatal("not found must be a rejection")
			}
		})
	}
}

// TestCOLGetCollectionTransaction: amounts arrive as strings in this call
// (numbers are read too); dates in an unexpected shape do not fail it.
func TestCOLGetCollectionTransaction(t *testing.T) {
	tests := []struct {
		name                  string
		amount, refunded, fee any
		created               string
		want                  CollectionTransaction
		class                 class
	}{
		{"strings as documented", "150000", "50000", "1100", "2024-11-18T03:00:00Z",
			CollectionTransaction{Amount: 150000, RefundedAmount: 50000, Fee: 1100, CreatedAt: time.Date(2024, 11, 18, 3, 0, 0, 0, time.UTC)}, classOK},
		{"numbers as in the list call", 150000, 0, 0, "2024-11-18 10:00:00",
			CollectionTransaction{Amount: 150000, CreatedAt: time.Date(2024, 11, 18, 10, 0, 0, 0, time.UTC)}, classOK},
		{"odd date is left zero", "150000", "0", "0", "18/11/2024", CollectionTransaction{Amount: 150000}, classOK},
		{"fraction in amount", "150000.5", "0", "0", "", CollectionTransaction{}, classUnknown},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeOpenAPI(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v2/col/transactions/FT24323L4AAA" {
					t.Errorf("path %s", r.URL.Path)
				}
				writeJSON(w, 200, map[string]any{"code": 1, "data": map[string]any{"transId": "FT24323L4AAA",
					"status": "SUCCESS", "amount": tt.amount, "refundedAmount": tt.refunded, "fee": tt.fee, "createdAt": tt.created}})
			})
			tx, err := NewCOL(f.config(), nil).GetCollectionTransaction(context.Background(), "vi", "FT24323L4AAA")
			if classify(err) != tt.class {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if tx.ID != "FT24323L4AAA" || tx.Status != "SUCCESS" || tx.Amount != tt.want.Amount || tx.RefundedAmount != tt.want.RefundedAmount ||
				tx.Fee != tt.want.Fee || !tx.CreatedAt.Equal(tt.want.CreatedAt) {
				t.Fatalf("tx = %+v", tx)
			}
		})
	}
}
