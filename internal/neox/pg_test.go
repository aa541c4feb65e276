package neox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// pgFake records PG request bodies and answers with handler.
func pgFake(t *testing.T, handler http.HandlerFunc) (*PG, *[]map[string]any) {
	t.Helper()
	var mu sync.Mutex
	var got []map[string]any
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PGPath, func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		dec := json.NewDecoder(r.Body)
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			t.Errorf("PG request is not JSON: %v", err)
		}
		mu.Lock()
		got = append(got, m)
		mu.Unlock()
		handler(w, r)
	})
	url := newServer(t, mux)
	return NewPG(PGConfig{BaseURL: url, MerchantCode: "UFLIYL", SecretKey: docPGSecret, Timeout: 200 * time.Millisecond}, nil), &got
}

func pgAnswerWith(code int, msg string, data any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"neo_ResponseCode": code, "neo_ResponseMsg": msg, "neo_ResponseData": data})
	}
}

// TestPGRefundWireMatchesDocSample sends the documented REFUND and checks
// every field and the documented hash on the wire.
func TestPGRefundWireMatchesDocSample(t *testing.T) {
	pg, got := pgFake(t, pgAnswerWith(0, "Successful", map[string]any{"transId": "5SYNM1OELUND"}))
	res, err := pg.Refund(context.Background(), "vi", PGRefundRequest{RequestID: "a68de39f-ea76-43fb-848f-b605b4aaf44e",
		PaymentID: "1439211", Amount: 10000,
		Receiver: &Receiver{AccountName: "NGUYEN VAN A", AccountNumber: "123456789", SwiftCode: "ASCBVNVX"}})
	if err != nil {
		t.Fatal(err)
	}
	if res != (PGRefundResult{TransID: "5SYNM1OELUND", ResponseCode: 0, ResponseMsg: "Successful"}) {
		t.Fatalf("result = %+v", res)
	}
	sent := (*got)[0]
	for k, v := range docRefund() {
		if fmt.Sprint(sent[k]) != v {
			t.Errorf("%s = %v, want %s", k, sent[k], v)
		}
	}
	if _, isNum := sent["neo_Amount"].(json.Number); !isNum {
		t.Errorf("neo_Amount sent as %T, want a JSON number", sent["neo_Amount"])
	}
	if sent["neo_SecureHash"] != docRefundHash {
		t.Errorf("neo_SecureHash = %v, want the documented %s", sent["neo_SecureHash"], docRefundHash)
	}
}

func TestPGQueryPT(t *testing.T) {
	docAnswer := `{"neo_ResponseCode":0,"neo_ResponseData":[{"id":"1439209","status":"PROCESSING","amount":20000000,"refundedAmount":0,"paymentMethod":"CC"},{"id":1439211,"status":"SUCCESS","amount":"20000000","refundedAmount":"100000","paymentMethod":"QR"}],"neo_ResponseMsg":"Successful"}`
	pg, got := pgFake(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, docAnswer) })
	pays, err := pg.QueryPT(context.Background(), "en", "240830080146NDTISR")
	if err != nil {
		t.Fatal(err)
	}
	want := []Payment{{ID: "1439209", Status: "PROCESSING", Method: "CC", Amount: 20000000},
		{ID: "1439211", Status: "SUCCESS", Method: "QR", Amount: 20000000, RefundedAmount: 100000}}
	if fmt.Sprint(pays) != fmt.Sprint(want) {
		t.Fatalf("payments = %+v", pays)
	}
	if h := (*got)[0]["neo_SecureHash"]; h != "df594d1e467bd327a30fa45ce259987718a68bd54cc67afe74d1e15e255182a4" {
		t.Fatalf("QUERY_PT hash = %v, want the documented one", h)
	}
}

func TestPGFaults(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    class
		code    string
	}{
		{"accepted", pgAnswerWith(0, "Successful", map[string]any{"transId": "T"}), classOK, ""},
		{"processing 99", pgAnswerWith(99, "Processing", nil), classOK, ""},
		{"invalid amount", pgAnswerWith(33, "Invalid amount", nil), classRejected, "33"},
		{"expired -1", pgAnswerWith(-1, "Expired", nil), classRejected, "-1"},
		{"code as string", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, `{"neo_ResponseCode":"30","neo_ResponseMsg":"Integration not approved"}`)
		}, classRejected, "30"},
		{"not found", pgAnswerWith(1, "Payment not found", nil), classNotFound, "1"},
		{"duplicate 19", pgAnswerWith(19, "Duplicated", nil), classUnknown, ""},
		{"HTTP 503", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "down", 503) }, classUnknown, ""},
		{"HTML 200", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>maintenance</html>") }, classUnknown, ""},
		{"cut after request", func(w http.ResponseWriter, r *http.Request) { hijackClose(t, w) }, classUnknown, ""},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, classUnknown, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pg, _ := pgFake(t, tt.handler)
			_, err := pg.Refund(context.Background(), "vi", PGRefundRequest{RequestID: "r", PaymentID: "p", Amount: 5})
			if got := classify(err); got != tt.want {
				t.Fatalf("class = %d, want %d (err %v)", got, tt.want, err)
			}
			if dup := errors.Is(err, ErrDuplicateRequestID); dup != strings.HasPrefix(tt.name, "duplicate") {
				t.Fatalf("errors.Is(err, ErrDuplicateRequestID) = %v (err %v)", dup, err)
			}
			if rej, ok := IsRejected(err); ok && rej.Code != tt.code {
				t.Fatalf("code = %s, want %s", rej.Code, tt.code)
			}
			if err != nil && strings.Contains(err.Error(), docPGSecret) {
				t.Fatal("error leaks the secret")
			}
			if tt.name == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("timeout error does not wrap DeadlineExceeded: %v", err)
			}
		})
	}
}
