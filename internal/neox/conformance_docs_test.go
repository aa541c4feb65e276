package neox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/neox-refund-desk/refunddesk/internal/neox"
)

// The fixtures below are written by hand from the documented field lists
// (neox-notes.md "Lookups", neox-api/pg-query-and-refund.md), not produced
// by the clients or the sandbox. Every field carries a value no other field
// has, so a client that reads a made-up name, swaps two fields or expects
// the wrong JSON type gets a wrong or zero value and fails.

// GC GET /v2/gc/collection-orders/{collectionOrderId}: amounts are JSON
// numbers in major units; payAmount/payCurrency differ from amount/currency.
const docGCOrderAnswer = `{
  "code": 1,
  "state": 2,
  "message": "Successful",
  "neoResponseId": "ac23ea1c-98db-4ed6-b927-7e7692ef2f69",
  "data": {
    "requestId": "a3f1c2d4-1234-4e56-b789-0abc12345678",
    "orderId": "CO-20240501-000123456",
    "merchantId": "MID-000777",
    "amount": 1500.00,
    "payAmount": 36750000,
    "currency": "USD",
    "payCurrency": "VND",
    "orderType": "TRADE_COLLECTION",
    "status": "SUCCESS",
    "recBankCode": "SCBLSG22XXX"
  }
}`

// COL GET v2/col/transactions/{transId}: amount, fee and refundedAmount
// are JSON strings; Note has a capital N; serviceInfomation is spelt so.
const docCOLTransactionAnswer = `{
  "code": 1,
  "state": 2,
  "message": "Successful",
  "neoResponseId": "5b0e3c4a-1111-4222-8333-944455556666",
  "data": {
    "merchantCode": "UFLIYL",
    "transId": "FT24323L4AAA",
    "transDate": "2024-11-18T09:30:00+07:00",
    "virtualAccountRequestId": "VAR-20241118-0001",
    "virtualAccountId": "9704229200123456",
    "accountName": "NEOX UFLIYL SHOP",
    "amount": "150000",
    "fee": "1100",
    "refundedAmount": "50000",
    "status": "SUCCESS",
    "reconcileStatus": "RECONCILED",
    "payoutStatus": "PROCESSING",
    "serviceInfomation": {"serviceCode": "VA_COLLECTION"},
    "debitorInformation": {"accountName": "NGUYEN VAN A"},
    "Note": "Hoc phi thang 11",
    "createdAt": "2024-11-18T09:31:00+07:00",
    "updatedAt": "2024-11-18T10:05:00+07:00"
  }
}`

// PG QUERY_PT: the documented sample answer, verbatim.
const docQueryPTAnswer = `{
  "neo_ResponseCode": 0,
  "neo_ResponseData": [
      {
          "id": "1439209",
          "status": "PROCESSING",
          "amount": 20000000,
          "refundedAmount": 0,
          "paymentMethod": "CC"
      },
      {
          "id": "1439211",
          "status": "SUCCESS",
          "amount": 20000000,
          "refundedAmount": 100000,
          "paymentMethod": "QR"
      }
  ],
  "neo_ResponseMsg": "Successful"
}`

// docServer answers the token call and serves body for every other
// request, recording the URLs it was asked for.
type docServer struct {
	URL  string
	mu   sync.Mutex
	urls []string
}

func serveDoc(t *testing.T, body string) *docServer {
	t.Helper()
	d := &docServer{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v2/auth/oauth2/token" {
			fmt.Fprint(w, `{"code":1,"state":2,"message":"Successful","data":{"access_token":"tok","token_type":"bearer","expires_in":3600}}`)
			return
		}
		d.mu.Lock()
		d.urls = append(d.urls, r.Method+" "+r.URL.RequestURI())
		d.mu.Unlock()
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	d.URL = srv.URL
	return d
}

func (d *docServer) requests() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.urls...)
}

// assertEveryField compares every exported field of got with want, and
// fails if the struct has a field the documented fixture does not feed,
// so nothing the client exposes can come from an undocumented name.
func assertEveryField(t *testing.T, got any, want map[string]any) {
	t.Helper()
	v := reflect.ValueOf(got)
	for i := range v.NumField() {
		name := v.Type().Field(i).Name
		w, ok := want[name]
		if !ok {
			t.Errorf("%s.%s is exposed but not fed by the documented fixture: map it to a documented field and add it here", v.Type().Name(), name)
			continue
		}
		g := v.Field(i).Interface()
		if raw, isRaw := g.(json.RawMessage); isRaw {
			g = string(raw)
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s.%s = %#v, want %#v", v.Type().Name(), name, g, w)
		}
	}
	if len(want) != v.NumField() {
		t.Errorf("%s: %d expectations for %d fields", v.Type().Name(), len(want), v.NumField())
	}
}

func TestGCOrderConformsToDocs(t *testing.T) {
	srv := serveDoc(t, docGCOrderAnswer)
	gc := neox.NewGC(neox.OpenAPIConfig{BaseURL: srv.URL, ClientID: "c", ClientSecret: "s"}, nil)
	o, err := gc.GetCollectionOrder(context.Background(), "vi", "CO-20240501-000123456", "")
	if err != nil {
		t.Fatal(err)
	}
	assertEveryField(t, o, map[string]any{
		"ID":          "CO-20240501-000123456", // orderId
		"RequestID":   "a3f1c2d4-1234-4e56-b789-0abc12345678",
		"MerchantID":  "MID-000777",
		"Status":      "SUCCESS",
		"OrderType":   "TRADE_COLLECTION",
		"Currency":    "USD",
		"Amount":      int64(150000), // 1500.00 USD (a JSON number) in cents
		"PayCurrency": "VND",
		"PayAmount":   int64(36750000), // a JSON number, VND has no minor unit
		"RecBankCode": "SCBLSG22XXX",
	})
	if got := srv.requests(); len(got) != 1 || got[0] != "GET /v2/gc/collection-orders/CO-20240501-000123456" {
		t.Errorf("requests = %q", got)
	}
}

func TestCOLTransactionConformsToDocs(t *testing.T) {
	srv := serveDoc(t, docCOLTransactionAnswer)
	col := neox.NewCOL(neox.OpenAPIConfig{BaseURL: srv.URL, ClientID: "c", ClientSecret: "s", Scope: "collection"}, nil)
	tx, err := col.GetCollectionTransaction(context.Background(), "vi", "FT24323L4AAA")
	if err != nil {
		t.Fatal(err)
	}
	ict := time.FixedZone("", 7*3600)
	want := map[string]any{
		"ID":                      "FT24323L4AAA", // transId
		"MerchantCode":            "UFLIYL",
		"TransDate":               time.Date(2024, 11, 18, 9, 30, 0, 0, ict),
		"VirtualAccountRequestID": "VAR-20241118-0001",
		"VirtualAccountID":        "9704229200123456",
		"AccountName":             "NEOX UFLIYL SHOP",
		"Amount":                  int64(150000), // "150000", a JSON string
		"Fee":                     int64(1100),
		"RefundedAmount":          int64(50000),
		"Status":                  "SUCCESS",
		"ReconcileStatus":         "RECONCILED",
		"PayoutStatus":            "PROCESSING",
		"Note":                    "Hoc phi thang 11",                 // "Note", capital N
		"ServiceInformation":      `{"serviceCode": "VA_COLLECTION"}`, // "serviceInfomation" (sic)
		"DebitorInformation":      `{"accountName": "NGUYEN VAN A"}`,
		"CreatedAt":               time.Date(2024, 11, 18, 9, 31, 0, 0, ict),
		"UpdatedAt":               time.Date(2024, 11, 18, 10, 5, 0, 0, ict),
	}
	// Times compare as instants.
	for _, k := range []string{"TransDate", "CreatedAt", "UpdatedAt"} {
		got := reflect.ValueOf(tx).FieldByName(k).Interface().(time.Time)
		if !got.Equal(want[k].(time.Time)) {
			t.Errorf("%s = %v, want %v", k, got, want[k])
		}
		want[k] = got
	}
	assertEveryField(t, tx, want)
	if got := srv.requests(); len(got) != 1 || got[0] != "GET /v2/col/transactions/FT24323L4AAA" {
		t.Errorf("requests = %q", got)
	}
}

func TestQueryPTConformsToDocs(t *testing.T) {
	srv := serveDoc(t, docQueryPTAnswer)
	pg := neox.NewPG(neox.PGConfig{BaseURL: srv.URL, MerchantCode: "UFLIYL", SecretKey: "311235E7043244EC8306F96720748C56"}, nil)
	pays, err := pg.QueryPT(context.Background(), "vi", "240830080146NDTISR")
	if err != nil || len(pays) != 2 {
		t.Fatalf("QueryPT = %+v, %v", pays, err)
	}
	assertEveryField(t, pays[0], map[string]any{"ID": "1439209", "Status": "PROCESSING", "Method": "CC",
		"Amount": int64(20000000), "RefundedAmount": int64(0)})
	assertEveryField(t, pays[1], map[string]any{"ID": "1439211", "Status": "SUCCESS", "Method": "QR",
		"Amount": int64(20000000), "RefundedAmount": int64(100000)})
	if got := srv.requests(); len(got) != 1 || !strings.HasPrefix(got[0], "POST /api/v1/paygate/neopay") {
		t.Errorf("requests = %q", got)
	}
}

// A sub-merchant's order is asked for with subMerchantId, and only then.
func TestGCOrderSubMerchantOnTheWire(t *testing.T) {
	srv := serveDoc(t, docGCOrderAnswer)
	gc := neox.NewGC(neox.OpenAPIConfig{BaseURL: srv.URL, ClientID: "c", ClientSecret: "s"}, nil)
	if _, err := gc.GetCollectionOrder(context.Background(), "vi", "CO-20240501-000123456", "SUB-MERCH-00091"); err != nil {
		t.Fatal(err)
	}
	if _, err := gc.GetCollectionOrder(context.Background(), "vi", "CO-20240501-000123456", ""); err != nil {
		t.Fatal(err)
	}
	want := []string{"GET /v2/gc/collection-orders/CO-20240501-000123456?subMerchantId=SUB-MERCH-00091",
		"GET /v2/gc/collection-orders/CO-20240501-000123456"}
	if got := srv.requests(); !reflect.DeepEqual(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}
}

// PG code 98 (invalid signature, from NeoX's client library) is a
// definite refusal on every PG command, never an unknown outcome.
func TestPGCode98IsRejected(t *testing.T) {
	srv := serveDoc(t, `{"neo_ResponseCode":98,"neo_ResponseMsg":"Invalid signature","neo_ResponseData":null}`)
	pg := neox.NewPG(neox.PGConfig{BaseURL: srv.URL, MerchantCode: "UFLIYL", SecretKey: "wrong"}, nil)
	_, qerr := pg.QueryPT(context.Background(), "vi", "240830080146NDTISR")
	_, rerr := pg.Refund(context.Background(), "vi", neox.PGRefundRequest{RequestID: "r-1", PaymentID: "1439211", Amount: 10000})
	for _, err := range []error{qerr, rerr} {
		rej, ok := neox.IsRejected(err)
		if !ok || neox.IsUnknown(err) || rej.Code != "98" || !neox.IsBadSignature(err) {
			t.Errorf("err = %v, want a rejection with code 98", err)
		}
	}
	if neox.IsBadSignature(&neox.RejectedError{API: "PG", Code: "33"}) || neox.IsBadSignature(&neox.RejectedError{API: "GC", Code: "98"}) {
		t.Error("IsBadSignature matches other answers")
	}
}
